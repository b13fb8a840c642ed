'use strict';
// Publish/subscribe through the API and through clients, channel permissions, the other
// client commands, framing of several commands in one message, and ping/pong.

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, clientOn, nextPublication, rawConnect, rawSession, rawCall } = require('./lib/client');
const { sleep } = require('./lib/wait');

let server;
before(async () => {
  server = await startServer(defaultConfig());
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user = '42') => jwt.connToken(server.secret, user);

t('API publish: result is exactly {"result":{}} and the raw push has the exact shape', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['news'] });
  const r = await api(server, 'publish', { channel: 'news', data: { text: 'hi' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] || '', /application\/json/);
  assert.deepEqual(r.body, { result: {} });
  const push = await raw.next();
  // memory engine without history: no offset; server-side publication: no info
  assert.deepEqual(push, { push: { channel: 'news', pub: { data: { text: 'hi' } } } });
});

t('API publish reaches a centrifuge-js subscriber through the publication event', async () => {
  const { sub } = await clientOn(server, token(), 'news');
  await publish(server, 'news', { text: 'hello', n: [1, 2, 3], nested: { ok: true } });
  const pub = await nextPublication(sub);
  assert.equal(pub.channel, 'news');
  assert.deepEqual(pub.data, { text: 'hello', n: [1, 2, 3], nested: { ok: true } });
  assert.equal(pub.info, undefined);
});

t('API publish of non-object JSON data (string, number, array) is delivered as is', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['news'] });
  for (const data of ['a string', 42, [1, 'two'], true]) {
    await publish(server, 'news', data);
    const m = await raw.next();
    assert.deepEqual(m, { push: { channel: 'news', pub: { data } } });
  }
});

t('client publish in chat (allow_publish_for_subscriber) reaches another client with publisher info', async () => {
  const a = await clientOn(server, token('1'), 'chat:room');
  const b = await clientOn(server, token('2'), 'chat:room');
  await a.sub.publish({ text: 'from a' });
  const got = await nextPublication(b.sub);
  assert.deepEqual(got.data, { text: 'from a' });
  assert.ok(got.info, 'client publication must carry info');
  assert.equal(got.info.user, '1');
  assert.equal(got.info.client, a.clientId);
  // the publisher, also subscribed, gets it too
  const own = await nextPublication(a.sub);
  assert.deepEqual(own.data, { text: 'from a' });
});

t('client publish result is exactly {} on the wire', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['chat:wire'] });
  const r = await rawCall(raw, { publish: { channel: 'chat:wire', data: { x: 1 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  const push = await raw.push((p) => p.channel === 'chat:wire');
  assert.deepEqual(push.push.pub.data, { x: 1 });
  assert.deepEqual(push.push.pub.info, { user: '42', client: raw.client });
});

t('client publish in ro (no publish permission) → error 103', async () => {
  const { sub } = await clientOn(server, token(), 'ro:feed');
  await assert.rejects(sub.publish({ x: 1 }), (err) => err.code === 103);
  const raw = await rawSession(server, { token: token(), channels: ['ro:feed'] });
  const r = await rawCall(raw, { publish: { channel: 'ro:feed', data: { x: 1 } } });
  assert.deepEqual(r, { id: r.id, error: { code: 103, message: 'permission denied' } });
  assert.ok(raw.isOpen(), 'an error reply must not close the connection');
});

t('client publish to a channel without namespace (no publish permission) → 103', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['news'] });
  const r = await rawCall(raw, { publish: { channel: 'news', data: { x: 1 } } });
  assert.deepEqual(r, { id: r.id, error: { code: 103, message: 'permission denied' } });
});

t('client publish in chat without being subscribed → 103', async () => {
  const raw = await rawSession(server, { token: token() });
  const r = await rawCall(raw, { publish: { channel: 'chat:elsewhere', data: { x: 1 } } });
  assert.deepEqual(r, { id: r.id, error: { code: 103, message: 'permission denied' } });
});

t('subscribe to an unknown namespace → 102', async () => {
  const raw = await rawSession(server, { token: token() });
  const r = await rawCall(raw, { subscribe: { channel: 'nope:x' } });
  assert.deepEqual(r, { id: r.id, error: { code: 102, message: 'unknown channel' } });
  assert.ok(raw.isOpen());
});

t('subscribe twice to the same channel → 105', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['news'] });
  const r = await rawCall(raw, { subscribe: { channel: 'news' } });
  assert.deepEqual(r, { id: r.id, error: { code: 105, message: 'already subscribed' } });
});

t('subscribe result for a channel without history is {} and unknown fields are ignored', async () => {
  const raw = await rawSession(server, { token: token() });
  // (`tf`, a tag filter, is a known field: refused with 107 where not allowed, flags.test.js)
  const r = await rawCall(raw, { subscribe: { channel: 'news', flag: 1, whatever: true, extra: { tf: 1 } } });
  assert.deepEqual(r, { id: r.id, subscribe: {} });
});

t('send is accepted silently: no reply, connection stays up', async () => {
  const raw = await rawSession(server, { token: token() });
  raw.send(JSON.stringify({ send: { data: { hello: 'world' } } }));
  // commands are processed in order: the next message must be the reply to the next command
  const id = raw.cmd({ subscribe: { channel: 'news' } });
  const next = await raw.next();
  assert.deepEqual(next, { id, subscribe: {} });
  assert.ok(raw.isOpen());
});

t('rpc without any rpc handler → error 108', async () => {
  const raw = await rawSession(server, { token: token() });
  const r = await rawCall(raw, { rpc: { method: 'getUser', data: { id: 1 } } });
  assert.deepEqual(r, { id: r.id, error: { code: 108, message: 'not available' } });
  assert.ok(raw.isOpen());
});

t('unsubscribe then publish: the publication is not received', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['news', 'chat:after'] });
  const r = await rawCall(raw, { unsubscribe: { channel: 'news' } });
  assert.deepEqual(r, { id: r.id, unsubscribe: {} });
  await publish(server, 'news', { n: 'not for you' });
  await publish(server, 'chat:after', { n: 'for you' });
  // pushes of one connection keep their order: the first push must be the second publication
  const m = await raw.next();
  assert.deepEqual(m, { push: { channel: 'chat:after', pub: { data: { n: 'for you' } } } });
});

t('unsubscribe from a channel never subscribed → {}', async () => {
  const raw = await rawSession(server, { token: token() });
  const r = await rawCall(raw, { unsubscribe: { channel: 'never' } });
  assert.deepEqual(r, { id: r.id, unsubscribe: {} });
});

t('connect + subscribe + subscribe in one frame → replies 1, 2, 3 in order', async () => {
  const raw = await rawConnect(server);
  raw.send(
    [
      JSON.stringify({ id: 1, connect: { token: token(), name: 'js' } }),
      JSON.stringify({ id: 2, subscribe: { channel: 'news', flag: 1 } }),
      JSON.stringify({ id: 3, subscribe: { channel: 'chat:multi' } }),
    ].join('\n'),
  );
  const replies = [await raw.next(), await raw.next(), await raw.next()];
  assert.deepEqual(
    replies.map((r) => r.id),
    [1, 2, 3],
  );
  assert.ok(replies[0].connect, JSON.stringify(replies[0]));
  assert.deepEqual(replies[1], { id: 2, subscribe: {} });
  assert.deepEqual(replies[2], { id: 3, subscribe: {} });
  // and both subscriptions are live
  await publish(server, 'chat:multi', { k: 1 });
  assert.deepEqual(await raw.next(), { push: { channel: 'chat:multi', pub: { data: { k: 1 } } } });
});

t('a trailing newline after the last command is tolerated', async () => {
  const raw = await rawConnect(server);
  raw.send(`${JSON.stringify({ id: 1, connect: { token: token() } })}\n`);
  const r = await raw.reply(1);
  assert.ok(r.connect, JSON.stringify(r));
});

t('replies may be batched: every line of a frame is one JSON reply', async () => {
  const raw = await rawSession(server, { token: token() });
  const lines = [];
  for (let i = 0; i < 20; i++) lines.push(JSON.stringify({ id: 100 + i, subscribe: { channel: `batch${i}` } }));
  raw.send(lines.join('\n'));
  for (let i = 0; i < 20; i++) assert.deepEqual(await raw.next(), { id: 100 + i, subscribe: {} });
  for (const f of raw.frames.pending()) assert.ok(!f.endsWith('\n') && !f.includes('\n\n'), JSON.stringify(f));
});

test('ping/pong: a client that never answers pings is closed with 3012; centrifuge-js stays connected', async () => {
  const cfg = merge(defaultConfig(), { client: { ping_interval: '2s', pong_timeout: '1s' } });
  const srv = await startServer(cfg);
  try {
    await withLogsOnFailure(srv, async () => {
      const tok = jwt.connToken(srv.secret, '7');
      const silent = await rawSession(srv, { token: tok, autoPong: false, keepPings: true });
      assert.equal(silent.connectResult.ping, 2);
      assert.equal(silent.connectResult.pong, true);
      const polite = await rawSession(srv, { token: tok, channels: ['news'] });

      const c = newClient(srv, { token: tok });
      await connected(c);
      const mark = c.lc.events.length; // state changes after this point are failures
      const started = Date.now();
      const closed = await Promise.race([silent.closed, sleep(8000).then(() => null)]);
      assert.ok(closed, 'the silent client was not closed within 8 s');
      assert.equal(closed.code, 3012);
      assert.equal(closed.reason, 'no pong');
      assert.ok(silent.pings >= 1, 'the server sent no ping before closing');

      // keep the SDK client for at least 5 s in total: it answers pings and must stay connected
      const left = 5000 - (Date.now() - started);
      if (left > 0) await sleep(left);
      assert.equal(c.state, 'connected');
      assert.deepEqual(
        c.lc.events.slice(mark).map((e) => `${e.type} ${e.ctx.code} ${e.ctx.reason}`),
        [],
        'centrifuge-js client was disconnected',
      );
      assert.ok(polite.isOpen(), 'the raw client answering pings was closed');
      assert.ok(polite.pings >= 1, 'the raw client saw no ping in 5 s');
      await publish(srv, 'news', { still: 'here' });
      assert.deepEqual(await polite.next(), { push: { channel: 'news', pub: { data: { still: 'here' } } } });
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
