'use strict';
// Limits and isolation: oversized messages, malformed input and slow consumers affect only the
// connection at fault; every other subscriber keeps receiving everything in order.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test, before } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { rawConnect, rawSession, rawCall } = require('./lib/client');
const { tcpWebSocket } = require('./lib/rawsocket');
const { startBackend } = require('./lib/backend');

let server;
before(async () => {
  server = await startServer(defaultConfig());
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user = '42') => jwt.connToken(server.secret, user);

t('a WebSocket message over 65536 bytes closes that client with 1009; others keep receiving', async () => {
  const other = await rawSession(server, { token: token('1'), channels: ['news'] });
  const big = await rawSession(server, { token: token('2'), channels: ['chat:big'] });
  const msg = JSON.stringify({ id: 9, publish: { channel: 'chat:big', data: { blob: 'x'.repeat(70000) } } });
  assert.ok(msg.length > 65536);
  big.send(msg);
  const closed = await big.closed;
  assert.equal(closed.code, 1009);
  await publish(server, 'news', { after: 'big' });
  assert.deepEqual(await other.next(), { push: { channel: 'news', pub: { data: { after: 'big' } } } });
});

t('a WebSocket message of exactly 65536 bytes is accepted', async () => {
  const raw = await rawSession(server, { token: token(), channels: ['chat:edge'] });
  const head = JSON.stringify({ id: 50, publish: { channel: 'chat:edge', data: { blob: '' } } });
  const msg = head.replace('"blob":""', `"blob":"${'y'.repeat(65536 - head.length)}"`);
  assert.equal(Buffer.byteLength(msg), 65536);
  raw.send(msg);
  assert.deepEqual(await raw.reply(50), { id: 50, publish: {} });
  const push = await raw.push((p) => p.channel === 'chat:edge');
  assert.equal(push.push.pub.data.blob.length, 65536 - head.length);
});

t('malformed JSON from one client does not disturb another', async () => {
  const good = await rawSession(server, { token: token('1'), channels: ['news'] });
  const bad = await rawSession(server, { token: token('2'), channels: ['news'] });
  bad.send('{"id":2,"subscribe":{"channel":');
  assert.equal((await bad.closed).code, 3501);
  await publish(server, 'news', { still: 'fine' });
  assert.deepEqual(await good.next(), { push: { channel: 'news', pub: { data: { still: 'fine' } } } });
  const r = await rawCall(good, { subscribe: { channel: 'chat:later' } });
  assert.deepEqual(r, { id: r.id, subscribe: {} });
});

t('binary garbage and invalid UTF-8 from one client do not disturb another', async () => {
  const good = await rawSession(server, { token: token('1'), channels: ['news'] });
  const bad = await rawConnect(server);
  bad.ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]));
  const closed = await bad.closed;
  assert.ok(closed.code >= 1000, `close code ${closed.code}`);
  await publish(server, 'news', { n: 1 });
  assert.deepEqual(await good.next(), { push: { channel: 'news', pub: { data: { n: 1 } } } });
});

t('clients dropping their TCP connection without a close frame do not disturb others', async () => {
  const good = await rawSession(server, { token: token('1'), channels: ['news'] });
  for (let i = 0; i < 20; i++) {
    const gone = await rawSession(server, { token: token(`${i + 100}`), channels: ['news'] });
    gone.terminate();
  }
  for (let n = 0; n < 5; n++) await publish(server, 'news', { n });
  for (let n = 0; n < 5; n++) assert.deepEqual(await good.next(), { push: { channel: 'news', pub: { data: { n } } } });
});

test('slow consumer: disconnected (3008) while a normal subscriber receives everything in order', async () => {
  const srv = await startServer(merge(defaultConfig(), { client: { queue_max_size: 1048576 } }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let slow;
  try {
    await withLogsOnFailure(srv, async () => {
      const tok = jwt.connToken(srv.secret, '9');
      const fast = await rawSession(srv, { token: tok, channels: ['news'] });

      slow = await tcpWebSocket(srv.port);
      slow.sendText(
        `${JSON.stringify({ id: 1, connect: { token: tok } })}\n${JSON.stringify({ id: 2, subscribe: { channel: 'news' } })}`,
      );
      const subscribedOk = await slow.until(() => slow.lines().some((l) => l.startsWith('{"id":2')), 5000, 'slow client subscribe reply');
      assert.ok(subscribedOk, `slow client closed before its subscribe reply: ${JSON.stringify(slow.messages())}`);
      const subReply = JSON.parse(slow.lines().find((l) => l.startsWith('{"id":2')));
      assert.ok(subReply.subscribe, JSON.stringify(subReply));
      slow.socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

      // The kernel absorbs several MB on loopback (receive buffer plus an auto-tuned send
      // buffer of up to net.ipv4.tcp_wmem max, 4 MB by default), so publish well beyond that.
      const N = 2500;
      const pad = 'p'.repeat(4096);
      for (let i = 0; i < N; i++) await publish(srv, 'news', { i, pad }, {}, { agent });

      for (let i = 0; i < N; i++) {
        const m = await fast.next(10000);
        assert.ok(m.push && m.push.pub, `fast subscriber got ${JSON.stringify(m).slice(0, 200)}`);
        assert.equal(m.push.pub.data.i, i, 'fast subscriber: publications out of order or lost');
      }

      slow.socket.resume();
      const pushes = () => slow.lines().filter((l) => l.startsWith('{"push"')).length;
      const closeFrame = () => slow.messages().some((m) => m.type === 'close');
      // resolves on a close frame, when the server drops the socket, or when everything arrived
      // (then the server did not disconnect it: the assertions below report that)
      await slow.until(() => closeFrame() || pushes() >= N, 20000, 'slow client closed by the server');
      const close = slow.messages().find((m) => m.type === 'close');
      const pubs = pushes();
      if (close) assert.equal(close.code, 3008, `close frame ${close.code} "${close.reason}"`);
      else assert.ok(pubs < N, `slow client was not disconnected (received all ${pubs} publications)`);
      assert.match(srv.logs(), /slow|3008/i, 'server log does not mention the slow disconnect');

      // the fast one is still connected and served
      await publish(srv, 'news', { i: 'last' });
      assert.equal((await fast.next()).push.pub.data.i, 'last');
    });
  } finally {
    agent.destroy();
    if (slow) slow.destroy();
    await assertCleanExit(srv);
  }
});

test('client.command_rate_limit: commands over the rate get error 111, in order; the session goes on; with _disconnect it closes with 3013', async () => {
  const srv = await startServer(merge(defaultConfig(), { client: { command_rate_limit: 5 } }));
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, { token: jwt.connToken(srv.secret, '1') });
      const ids = Array.from({ length: 20 }, (_, k) => 100 + k);
      raw.send(ids.map((id) => JSON.stringify({ id, unsubscribe: { channel: 'news' } })).join('\n'));
      const replies = [];
      for (const id of ids) replies.push(await raw.reply(id));
      const limited = replies.filter((r) => r.error);
      // one message is handled within a second (two at most, across a boundary): 5 per second
      assert.ok(limited.length >= 10, JSON.stringify(replies));
      for (const r of limited) assert.deepEqual(r.error, { code: 111, message: 'too many requests', temporary: true });
      assert.deepEqual(replies[0], { id: 100, unsubscribe: {} });
      // the next second: answered again
      await new Promise((r) => setTimeout(r, 1100));
      raw.send(JSON.stringify({ id: 200, unsubscribe: { channel: 'news' } }));
      assert.deepEqual(await raw.reply(200), { id: 200, unsubscribe: {} });
    });
  } finally {
    await assertCleanExit(srv);
  }
  const srv2 = await startServer(merge(defaultConfig(), { client: { command_rate_limit: 5, command_rate_limit_disconnect: true } }));
  try {
    await withLogsOnFailure(srv2, async () => {
      const raw = await rawSession(srv2, { token: jwt.connToken(srv2.secret, '1') });
      raw.send(Array.from({ length: 20 }, (_, k) => JSON.stringify({ id: 100 + k, unsubscribe: { channel: 'news' } })).join('\n'));
      assert.equal((await raw.closed).code, 3013);
    });
  } finally {
    await assertCleanExit(srv2);
  }
});

test('client.max_queued_commands: behind a pending subscribe proxy call, up to the cap wait and are answered in order; one more disconnects with 3013 and one log line', async () => {
  // The subscribe proxy holds its answer: the subscribe is the one pending decision, what
  // follows waits behind it.
  const backend = await startBackend({ '/subscribe': { json: { result: {} }, delayMs: 1500 } });
  const srv = await startServer(
    merge(defaultConfig(), {
      client: { max_queued_commands: 4 },
      channel: {
        proxy: { subscribe: { endpoint: backend.url('/subscribe'), timeout: '5s' } },
        namespaces: [{ name: 'held', subscribe_proxy_enabled: true }],
      },
    }),
  );
  try {
    await withLogsOnFailure(srv, async () => {
      const unsub = (id) => JSON.stringify({ id, unsubscribe: { channel: 'news' } });
      // at the cap: 4 wait, all answered in order once the backend answers
      const ok = await rawSession(srv, { token: jwt.connToken(srv.secret, '1') });
      ok.send(JSON.stringify({ id: 10, subscribe: { channel: 'held:1' } }));
      await backend.next('/subscribe', 3000);
      ok.send([11, 12, 13, 14].map(unsub).join('\n'));
      assert.deepEqual(await ok.reply(10), { id: 10, subscribe: {} });
      for (const id of [11, 12, 13, 14]) assert.deepEqual(await ok.reply(id), { id, unsubscribe: {} });
      // one over the cap: disconnected with 3013 before the backend answers
      const flood = await rawSession(srv, { token: jwt.connToken(srv.secret, '2') });
      flood.send(JSON.stringify({ id: 20, subscribe: { channel: 'held:2' } }));
      await backend.next('/subscribe', 3000);
      const started = Date.now();
      flood.send([21, 22, 23, 24].map(unsub).join('\n'));
      flood.send(unsub(25));
      assert.equal((await flood.closed).code, 3013);
      assert.ok(Date.now() - started < 1400, 'closed while the decision was still pending');
      const lines = srv.logs().split('\n').filter((l) => l.includes('client.max_queued_commands'));
      assert.equal(lines.length, 1, srv.logs());
    });
  } finally {
    await assertCleanExit(srv);
    await backend.close();
  }
});

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
