'use strict';
// Clients for the tests: the real centrifuge-js SDK (with `ws` as its WebSocket) and a raw
// WebSocket client that sends exact frames and records every frame, message and the close
// code/reason. Clients created during a test are closed after it by a root afterEach hook;
// pass {persistent: true} for clients created in a before hook (closed at the end of the file).

const { Centrifuge } = require('centrifuge');
const { Centrifuge: CentrifugeProtobuf } = require('centrifuge/build/protobuf');
const WebSocket = require('ws');
const { afterEach, after } = require('node:test');
const { EventQueue, withTimeout } = require('./wait');

const perTest = new Set();
const perFile = new Set();

function track(closer, persistent) {
  (persistent ? perFile : perTest).add(closer);
  return closer;
}

async function closeSet(set) {
  const all = [...set];
  set.clear();
  await Promise.allSettled(all.map((c) => c()));
}

afterEach(() => closeSet(perTest));
after(() => closeSet(perFile));

// The client protocol encoding of the SDK clients: 'json' or 'protobuf' (the SDK's
// `centrifuge/build/protobuf` entry point, what the mobile SDKs speak). A client's `encoding`
// option wins over LUCENT_ENCODING, which wins over JSON.
const ENCODING = process.env.LUCENT_ENCODING === 'protobuf' ? 'protobuf' : 'json';

function centrifugeClass(encoding = ENCODING) {
  return encoding === 'protobuf' ? CentrifugeProtobuf : Centrifuge;
}

/** Application data as the SDK of that encoding takes it: JSON text as bytes for Protobuf. */
function payload(value, encoding = ENCODING) {
  return encoding === 'protobuf' ? new TextEncoder().encode(JSON.stringify(value)) : value;
}

/** Received application data as a JS value, whatever the encoding (Protobuf gives bytes). */
function valueOf(data) {
  return data instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(data)) : data;
}

function wsUrlOf(target) {
  return typeof target === 'string' ? target : target.wsUrl;
}

// ---------------------------------------------------------------------------------------------
// centrifuge-js

/**
 * A centrifuge-js client (not yet connected). opts are Centrifuge options; `persistent` keeps
 * it open across tests of the file. Reconnect delays are short so failures show quickly.
 */
function newClient(target, opts = {}) {
  const { persistent, encoding, ...centrifugeOpts } = opts;
  const Client = centrifugeClass(encoding);
  const c = new Client(wsUrlOf(target), {
    websocket: WebSocket,
    minReconnectDelay: 100,
    maxReconnectDelay: 1000,
    timeout: 5000,
    ...centrifugeOpts,
  });
  c.lc = { connectedCtx: null, disconnectedCtx: null, errors: [], events: [] };
  c.on('connected', (ctx) => {
    c.lc.connectedCtx = ctx;
    c.lc.events.push({ type: 'connected', ctx });
  });
  c.on('connecting', (ctx) => c.lc.events.push({ type: 'connecting', ctx }));
  c.on('disconnected', (ctx) => {
    c.lc.disconnectedCtx = ctx;
    c.lc.events.push({ type: 'disconnected', ctx });
  });
  c.on('error', (ctx) => c.lc.errors.push(ctx));
  track(async () => c.disconnect(), persistent);
  return c;
}

/** Connect (if not yet started) and wait for 'connected'; resolves the connected ctx. */
function connected(c, timeoutMs = 5000) {
  if (c.state === 'connected' && c.lc.connectedCtx) return Promise.resolve(c.lc.connectedCtx);
  const p = new Promise((resolve, reject) => {
    const onConnected = (ctx) => {
      cleanup();
      resolve(ctx);
    };
    const onDisconnected = (ctx) => {
      cleanup();
      reject(new Error(`client disconnected instead of connecting: code ${ctx.code} reason "${ctx.reason}"`));
    };
    const cleanup = () => {
      c.removeListener('connected', onConnected);
      c.removeListener('disconnected', onDisconnected);
    };
    c.on('connected', onConnected);
    c.on('disconnected', onDisconnected);
  });
  if (c.state === 'disconnected') c.connect();
  return withTimeout(p, timeoutMs, 'client connected').catch((err) => {
    const errs = c.lc.errors.map((e) => JSON.stringify(e.error ?? e)).join('; ');
    if (errs) err.message += ` (client errors: ${errs})`;
    throw err;
  });
}

/** Wait for 'disconnected' (connecting first if needed); resolves {code, reason}. */
function disconnected(c, timeoutMs = 5000) {
  if (c.state === 'disconnected' && c.lc.disconnectedCtx) {
    const { code, reason } = c.lc.disconnectedCtx;
    return Promise.resolve({ code, reason });
  }
  const p = new Promise((resolve) => {
    c.once('disconnected', (ctx) => resolve({ code: ctx.code, reason: ctx.reason }));
  });
  if (c.state === 'disconnected') c.connect();
  return withTimeout(p, timeoutMs, 'client disconnected');
}

/** A client subscription whose publications are buffered for nextPublication(). */
function newSubscription(c, channel, opts = {}) {
  const sub = c.newSubscription(channel, opts);
  attachPublicationQueue(sub);
  return sub;
}

function attachPublicationQueue(sub) {
  if (!sub.lcPubs) {
    sub.lcPubs = new EventQueue(`publication on ${sub.channel}`);
    sub.on('publication', (ctx) => sub.lcPubs.push(ctx));
  }
  return sub.lcPubs;
}

/** Subscribe (if not yet started) and wait for 'subscribed'; resolves the subscribed ctx. */
function subscribed(sub, timeoutMs = 5000) {
  const p = new Promise((resolve, reject) => {
    const onSubscribed = (ctx) => {
      cleanup();
      resolve(ctx);
    };
    const onUnsubscribed = (ctx) => {
      cleanup();
      reject(Object.assign(new Error(`unsubscribed from ${sub.channel}: code ${ctx.code} reason "${ctx.reason}"`), { code: ctx.code }));
    };
    const cleanup = () => {
      sub.removeListener('subscribed', onSubscribed);
      sub.removeListener('unsubscribed', onUnsubscribed);
    };
    sub.on('subscribed', onSubscribed);
    sub.on('unsubscribed', onUnsubscribed);
  });
  if (sub.state === 'unsubscribed') sub.subscribe();
  return withTimeout(p, timeoutMs, `subscribed to ${sub.channel}`);
}

/** Next publication ctx ({channel, data, info?, offset?}) on a subscription. */
function nextPublication(sub, timeoutMs = 5000) {
  return attachPublicationQueue(sub).take(() => true, timeoutMs, `publication on ${sub.channel}`);
}

/** A connected client with a subscribed subscription on channel. */
async function clientOn(target, token, channel, opts = {}) {
  const c = newClient(target, { token, ...opts });
  const ctx = await connected(c);
  const sub = newSubscription(c, channel);
  await subscribed(sub);
  return { client: c, sub, clientId: ctx.client };
}

// ---------------------------------------------------------------------------------------------
// raw WebSocket

const isPing = (m) => m !== null && typeof m === 'object' && !Array.isArray(m) && Object.keys(m).length === 0;

/**
 * Open a WebSocket and record what the server sends.
 *   opts.origin, opts.headers, opts.protocols: handshake details
 *   opts.autoPong (default true): answer app-level pings ({}) with {}
 *   opts.persistent: keep it across the tests of the file
 * Resolves once open with:
 *   send(str), cmd(obj) → id (fills in the next id), next(ms) → next message (pings skipped),
 *   reply(id, ms), push(pred, ms), nextFrame(ms) → raw frame text, closed: Promise<{code, reason}>,
 *   close(), isOpen(), pings (count of pings received), ws.
 * Rejects when the upgrade fails; the error carries .status (HTTP status) when there is one.
 */
function rawConnect(target, opts = {}) {
  const url = wsUrlOf(target);
  const { origin, headers, protocols, autoPong = true, persistent, timeoutMs = 5000 } = opts;
  const ws = new WebSocket(url, protocols, { origin, headers, handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 * 1024 });
  const frames = new EventQueue('frame');
  const messages = new EventQueue('message');
  let nextId = 1;
  let open = false;

  const raw = {
    ws,
    frames,
    messages,
    pings: 0,
    send(str) {
      ws.send(str);
    },
    cmd(obj) {
      const id = obj.id ?? nextId++;
      ws.send(JSON.stringify({ id, ...obj }));
      return id;
    },
    next(ms = 5000) {
      return messages.next(ms);
    },
    nextFrame(ms = 5000) {
      return frames.next(ms);
    },
    reply(id, ms = 5000) {
      return messages.take((m) => m.id === id, ms, `reply to command ${id}`);
    },
    push(pred = () => true, ms = 5000, what = 'push') {
      return messages.take((m) => m.push !== undefined && pred(m.push), ms, what);
    },
    close(code = 1000) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        try {
          ws.close(code);
        } catch {
          ws.terminate();
        }
      }
    },
    terminate() {
      ws.terminate();
    },
    isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
  };

  ws.on('message', (data, isBinary) => {
    const text = isBinary ? data : data.toString('utf8');
    frames.push(text);
    if (isBinary) {
      messages.push({ _binary: data });
      return;
    }
    for (const line of text.split('\n')) {
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        messages.push({ _invalid: line });
        continue;
      }
      if (isPing(m)) {
        raw.pings++;
        if (autoPong && ws.readyState === WebSocket.OPEN) ws.send('{}');
        if (!opts.keepPings) continue;
      }
      messages.push(m);
    }
  });

  raw.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      const r = { code, reason: reason.toString('utf8') };
      const err = new Error(`connection closed (code ${r.code}, reason "${r.reason}")`);
      frames.end(err);
      messages.end(err);
      resolve(r);
    });
  });
  track(async () => {
    raw.close();
    await withTimeout(raw.closed, 2000, 'raw close').catch(() => ws.terminate());
  }, persistent);

  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      open = true;
      resolve(raw);
    });
    ws.on('error', (err) => {
      if (open) return; // after open, 'close' reports the outcome
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (m) err.status = Number(m[1]);
      reject(err);
    });
  });
}

/** Upgrade expected to fail: resolves the HTTP status (rejects if the upgrade succeeds). */
async function rawUpgradeStatus(target, opts = {}) {
  try {
    const raw = await rawConnect(target, opts);
    raw.close();
  } catch (err) {
    if (err.status) return err.status;
    throw err;
  }
  throw new Error('WebSocket upgrade succeeded but was expected to fail');
}

/**
 * A raw connection that sent connect (with token, if any) plus subscribes in one frame and
 * got successful replies. Resolves the raw client with .client (id) and .connectResult.
 */
async function rawSession(target, { token, channels = [], ...opts } = {}) {
  const raw = await rawConnect(target, opts);
  const connect = token === undefined ? {} : { token };
  const lines = [JSON.stringify({ id: 1, connect })];
  channels.forEach((ch, i) => lines.push(JSON.stringify({ id: i + 2, subscribe: { channel: ch } })));
  raw.send(lines.join('\n'));
  const first = await raw.reply(1);
  if (!first.connect) throw new Error(`connect failed: ${JSON.stringify(first)}`);
  for (let i = 0; i < channels.length; i++) {
    const r = await raw.reply(i + 2);
    if (!r.subscribe) throw new Error(`subscribe to ${channels[i]} failed: ${JSON.stringify(r)}`);
  }
  // the ids 1..n+1 are used; continue after them
  let id = channels.length + 2;
  raw.cmd = (obj) => {
    const useId = obj.id ?? id++;
    raw.ws.send(JSON.stringify({ id: useId, ...obj }));
    return useId;
  };
  raw.connectResult = first.connect;
  raw.client = first.connect.client;
  return raw;
}

/** Send a command and wait for its reply. */
async function rawCall(raw, obj, ms = 5000) {
  const id = raw.cmd(obj);
  return raw.reply(id, ms);
}

module.exports = {
  Centrifuge,
  ENCODING,
  centrifugeClass,
  payload,
  valueOf,
  WebSocket,
  newClient,
  connected,
  disconnected,
  newSubscription,
  subscribed,
  nextPublication,
  clientOn,
  rawConnect,
  rawUpgradeStatus,
  rawSession,
  rawCall,
  isPing,
};
