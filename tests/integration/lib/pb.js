'use strict';
// A raw client of the Protobuf client protocol for tests that must send exact bytes
// (malformed, truncated, oversized): protobufjs reads the server's src/proto/client.proto
// (whose field numbers the official SDK's generated code shares; the SDK itself is what
// encodings.test.js drives). Messages are varint-length-delimited, in binary WebSocket messages.

const path = require('node:path');
const protobuf = require('protobufjs');
const WebSocket = require('ws');
const { afterEach } = require('node:test');
const { REPO_ROOT } = require('./paths');
const { EventQueue, withTimeout } = require('./wait');

const root = protobuf.loadSync(path.join(REPO_ROOT, 'src/proto/client.proto'));
const Command = root.lookupType('lcpb.Command');
const Reply = root.lookupType('lcpb.Reply');
const EmulationRequest = root.lookupType('lcpb.EmulationRequest');

const open = new Set();
afterEach(async () => {
  const all = [...open];
  open.clear();
  await Promise.allSettled(all.map((c) => c()));
});

/** Varint-delimited Commands (plain objects in the JSON field names) as one Buffer. */
function commands(...cmds) {
  const w = protobuf.Writer.create();
  for (const c of cmds) Command.encodeDelimited(Command.fromObject(c), w);
  return Buffer.from(w.finish());
}

/** Every varint-delimited Reply in buf, as plain objects (bytes as Buffers, longs as numbers). */
function replies(buf) {
  const r = protobuf.Reader.create(buf);
  const out = [];
  while (r.pos < r.len) out.push(Reply.toObject(Reply.decodeDelimited(r), { longs: Number, defaults: false }));
  return out;
}

/**
 * Open a Protobuf WebSocket session: opts.query ('' | '?cf_protocol=protobuf' ...),
 * opts.protocols (default 'centrifuge-protobuf'). Resolves {ws, protocol, send(buf),
 * reply(id), push(pred) → the Push, messages, closed, isOpen()}; text messages are recorded as
 * {_text} and fail the Protobuf expectations of the caller.
 */
function pbConnect(server, { query = '', protocols = 'centrifuge-protobuf', timeoutMs = 5000 } = {}) {
  const ws = new WebSocket(server.wsUrl + query, protocols || undefined, { handshakeTimeout: timeoutMs });
  const messages = new EventQueue('protobuf reply');
  const raw = {
    ws,
    messages,
    binaryFrames: 0,
    send(buf) {
      ws.send(buf);
    },
    reply(id, ms = 5000) {
      return messages.take((m) => m.id === id, ms, `reply to command ${id}`);
    },
    push(pred = () => true, ms = 5000) {
      return messages.take((m) => m.push !== undefined && pred(m.push), ms, 'push').then((m) => m.push);
    },
    isOpen: () => ws.readyState === WebSocket.OPEN,
  };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      messages.push({ _text: data.toString() });
      return;
    }
    raw.binaryFrames++;
    for (const m of replies(data)) {
      if (!m.id && !m.push && !m.error) {
        ws.send(Buffer.from([0])); // a ping: answer with the empty Command
        continue;
      }
      messages.push(m);
    }
  });
  raw.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      messages.end(new Error(`connection closed (${code})`));
      resolve({ code, reason: reason.toString() });
    });
  });
  open.add(async () => {
    if (raw.isOpen()) ws.close();
    await withTimeout(raw.closed, 2000, 'close').catch(() => ws.terminate());
  });
  return new Promise((resolve, reject) => {
    ws.once('upgrade', (res) => {
      raw.protocol = res.headers['sec-websocket-protocol'];
    });
    ws.once('open', () => resolve(raw));
    ws.once('error', (err) => {
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (m) err.status = Number(m[1]);
      reject(err);
    });
  });
}

module.exports = { Command, Reply, EmulationRequest, commands, replies, pbConnect };
