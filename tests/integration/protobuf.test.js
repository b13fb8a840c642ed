'use strict';
// The Protobuf client protocol beyond the shared scenarios of encodings.test.js: how it is
// negotiated, JSON and Protobuf subscribers sharing a channel byte for byte, and malformed
// input (bad varints, truncated and oversized messages, payloads that are not JSON) answered
// with the protocol's disconnect while nothing is relayed (spec §1.1, §1.2, §8.1).

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, request } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawConnect } = require('./lib/client');
const { pbConnect, commands, replies, EmulationRequest } = require('./lib/pb');
const { sleep, withTimeout } = require('./lib/wait');

const ctx = { server: null };
before(async () => {
  ctx.server = await startServer(
    merge(defaultConfig(), {
      http_stream: { enabled: true },
      uni_websocket: { enabled: true },
      websocket: { message_size_limit: 4096 },
    }),
  );
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
});
const t = (name, fn) => test(name, () => withLogsOnFailure(ctx.server, fn));

let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;
const token = (user = '42') => jwt.connToken(ctx.server.secret, user);
const text = (buf) => Buffer.from(buf).toString('utf8');

/** A Protobuf session connected and subscribed to channels. */
async function pbSession(channels = [], opts = {}) {
  const raw = await pbConnect(ctx.server, opts);
  const cmds = [{ id: 1, connect: { token: token(opts.user) } }];
  channels.forEach((ch, i) => cmds.push({ id: i + 2, subscribe: { channel: ch } }));
  raw.send(commands(...cmds));
  const r = await raw.reply(1);
  assert.ok(r.connect, JSON.stringify(r));
  for (let i = 0; i < channels.length; i++) assert.ok((await raw.reply(i + 2)).subscribe);
  raw.client = r.connect.client;
  return raw;
}

t('negotiation: subprotocol centrifuge-protobuf is answered; ?cf_protocol= and ?format= select it too', async () => {
  const a = await pbConnect(ctx.server);
  assert.equal(a.protocol, 'centrifuge-protobuf');
  for (const query of ['?cf_protocol=protobuf', '?format=protobuf']) {
    const b = await pbConnect(ctx.server, { query, protocols: null });
    assert.equal(b.protocol, undefined);
    b.send(commands({ id: 1, connect: { token: token() } }));
    const r = await b.reply(1);
    assert.match(r.connect.client, /^[0-9a-f-]{36}$/);
    assert.equal(r.connect.ping, 25);
    assert.equal(r.connect.pong, true);
  }
  // uni_websocket speaks JSON only (as in Centrifugo)
  const uni = `${ctx.server.url.replace('http', 'ws')}/connection/uni_websocket`;
  await assert.rejects(rawConnect(uni, { protocols: 'centrifuge-protobuf' }), (e) => e.status === 400);
});

t('mixed subscribers: JSON and Protobuf clients share a channel and the payload bytes both ways', async () => {
  const ch = uniq('chat:');
  const pb = await pbSession([ch], { user: '1' });
  const js = await rawSession(ctx.server, { token: token('2'), channels: [ch] });
  // API publish with formatting of its own: the Protobuf subscriber gets those very bytes
  const body = `{"channel":"${ch}","data":{"a": 1.50, "big": 12345678901234567890, "s": "\\u00e9"}}`;
  const r = await api(ctx.server, 'publish', null, { raw: body });
  assert.equal(r.status, 200);
  const p = await pb.push((x) => x.pub);
  assert.equal(p.channel, ch);
  assert.equal(text(p.pub.data), '{"a": 1.50, "big": 12345678901234567890, "s": "\\u00e9"}');
  await js.push((x) => x.pub);
  // a Protobuf client publishes: the JSON subscriber gets the bytes as the JSON value
  pb.send(commands({ id: 10, publish: { channel: ch, data: Buffer.from('{"from":"pb", "n":[1,2]}') } }));
  assert.ok((await pb.reply(10)).publish);
  const frameText = await js.frames.take((f) => typeof f === 'string' && f.includes('"from"'));
  assert.ok(frameText.includes('"data":{"from":"pb", "n":[1,2]}'), frameText);
  const own = await pb.push((x) => x.pub);
  assert.equal(text(own.pub.data), '{"from":"pb", "n":[1,2]}');
  assert.equal(own.pub.info.user, '1');
  // the official clients of both encodings on the same channel
  const cj = newClient(ctx.server, { token: token('3') });
  const cp = newClient(ctx.server, { token: token('4'), encoding: 'protobuf' });
  await connected(cj);
  await connected(cp);
  const sj = newSubscription(cj, ch);
  const sp = newSubscription(cp, ch);
  await subscribed(sj);
  await subscribed(sp);
  await sj.publish({ text: 'json→both' });
  assert.deepEqual((await nextPublication(sj)).data, { text: 'json→both' });
  assert.equal(text((await nextPublication(sp)).data), JSON.stringify({ text: 'json→both' }));
  await sp.publish(new TextEncoder().encode('{"text":"pb→both"}'));
  assert.deepEqual((await nextPublication(sj)).data, { text: 'pb→both' });
  assert.equal(text((await nextPublication(sp)).data), '{"text":"pb→both"}');
});

/** Send bad bytes after a good publish on one frame: the good command is answered, then the
 * connection is closed with 3501 and the other subscriber sees only the good publication. */
async function malformed(bad, wantCode = 3501) {
  const ch = uniq('chat:');
  const watcher = await pbSession([ch], { user: '9' });
  const raw = await pbSession([ch]);
  const good = commands({ id: 5, publish: { channel: ch, data: Buffer.from('{"ok":1}') } });
  raw.send(Buffer.concat([good, bad]));
  const closed = await withTimeout(raw.closed, 3000, 'the server to close the connection');
  assert.equal(closed.code, wantCode, JSON.stringify(closed));
  const p = await watcher.push((x) => x.pub);
  assert.equal(text(p.pub.data), '{"ok":1}');
  await sleep(200);
  assert.deepEqual(watcher.messages.pending(), [], 'nothing else relayed');
  assert.ok(watcher.isOpen());
}

t('malformed varint (never ends) → disconnect 3501 after the commands before it; nothing relayed', async () => {
  await malformed(Buffer.alloc(12, 0xff));
});

t('truncated message (length beyond the frame) → 3501; nothing relayed', async () => {
  // a publish whose length says 40 bytes but only a few follow
  await malformed(Buffer.concat([Buffer.from([40]), commands({ id: 6, publish: { channel: 'x', data: Buffer.from('1') } }).subarray(1, 8)]));
});

t('publish data that is not JSON → 3501; nothing relayed', async () => {
  await malformed(commands({ id: 6, publish: { channel: 'chat:x', data: Buffer.from([0xff, 0x00, 0x01]) } }));
});

t('a message over websocket.message_size_limit → close 1009; nothing relayed', async () => {
  const ch = uniq('chat:');
  const watcher = await pbSession([ch], { user: '9' });
  const raw = await pbSession([ch]);
  raw.send(commands({ id: 7, publish: { channel: ch, data: Buffer.from(JSON.stringify({ pad: 'x'.repeat(5000) })) } }));
  const closed = await withTimeout(raw.closed, 3000, 'close');
  assert.equal(closed.code, 1009);
  await sleep(200);
  assert.deepEqual(watcher.messages.pending(), []);
});

t('an empty binary message → 3501; text (JSON) on a Protobuf connection → 3501', async () => {
  const a = await pbSession([]);
  a.send(Buffer.alloc(0));
  assert.equal((await withTimeout(a.closed, 3000, 'close')).code, 3501);
  const b = await pbSession([]);
  b.ws.send('{"id":2,"presence":{"channel":"x"}}');
  assert.equal((await withTimeout(b.closed, 3000, 'close')).code, 3501);
});

t('HTTP-streaming: octet-stream connect and protobuf EmulationRequest; a bad EmulationRequest is 400', async () => {
  const ch = uniq('chat:');
  const res = await fetch(`${ctx.server.url}/connection/http_stream`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: commands({ id: 1, connect: { token: token('5') } }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  const reader = res.body.getReader();
  let buf = Buffer.alloc(0);
  const next = async (pred) => {
    for (;;) {
      try {
        const got = replies(buf);
        const m = got.find(pred);
        if (m) return m;
      } catch {
        /* a partial message: read more */
      }
      const { value, done } = await withTimeout(reader.read(), 3000, 'stream data');
      if (done) throw new Error('stream ended');
      buf = Buffer.concat([buf, Buffer.from(value)]);
    }
  };
  const conn = (await next((m) => m.id === 1)).connect;
  assert.ok(conn.session && conn.node);
  const emu = (data) =>
    request(ctx.server, '/emulation', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from(EmulationRequest.encode({ node: conn.node, session: conn.session, data }).finish()),
    });
  assert.equal((await emu(commands({ id: 2, subscribe: { channel: ch } }))).status, 204);
  assert.ok((await next((m) => m.id === 2)).subscribe);
  await api(ctx.server, 'publish', { channel: ch, data: { via: 'stream' } });
  const p = await next((m) => m.push && m.push.pub);
  assert.equal(text(p.push.pub.data), '{"via":"stream"}');
  const bad = await request(ctx.server, '/emulation', {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: Buffer.from([0x0a, 0x7f, 0x01]),
  });
  assert.equal(bad.status, 400);
  await reader.cancel();
});

test('pings and pongs in Protobuf: the official client answers and stays connected past the pong timeout', async () => {
  const srv = await startServer(merge(defaultConfig(), { client: { ping_interval: '1s', pong_timeout: '500ms' } }));
  try {
    await withLogsOnFailure(srv, async () => {
      const c = newClient(srv, { token: jwt.connToken(srv.secret, '42'), encoding: 'protobuf' });
      await connected(c);
      const mark = c.lc.events.length;
      await sleep(3500);
      assert.deepEqual(c.lc.events.slice(mark), [], 'the client was disconnected');
      assert.equal(c.state, 'connected');
      // a raw Protobuf client that never answers is closed with 3012 (no pong)
      const raw = await pbConnect(srv);
      raw.ws.removeAllListeners('message');
      raw.send(commands({ id: 1, connect: { token: jwt.connToken(srv.secret, '43') } }));
      assert.equal((await withTimeout(raw.closed, 5000, 'no pong close')).code, 3012);
    });
  } finally {
    await assertCleanExit(srv);
  }
});
