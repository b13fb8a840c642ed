'use strict';
// Unidirectional transports (spec §8.2; disconnect delivery §2.3; connect error mapping §5.3):
// uni_http_stream, uni_sse and uni_websocket with raw clients. The client sends one
// ConnectRequest and then only reads bare Push objects: the connect push, publications of
// server-side subscriptions (token channels, ConnectRequest subs, API subscribe), pings, and a
// final disconnect push. Also their error statuses, a client that stops reading (cut at the
// queue bound) and the clean-up of a client that goes away mid-stream.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish, request } = require('./lib/api');
const { waitUntil, sleep } = require('./lib/wait');
const { sharedServer } = require('./lib/chan');
const { UNI, uniSse, uniWebSocket, uniHttpStream, streamEnd, rawHttp } = require('./lib/stream');

const TRANSPORTS = Object.keys(UNI);

function uniConfig(extra = {}) {
  return merge(
    merge(defaultConfig(), {
      uni_http_stream: { enabled: true },
      uni_sse: { enabled: true },
      uni_websocket: { enabled: true },
      client: { ping_interval: '1s', pong_timeout: '500ms' },
      channel: {
        namespaces: [
          { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
          { name: 'pres', presence: true },
        ],
      },
    }),
    extra,
  );
}

const ctx = sharedServer(() => uniConfig());
const { t } = ctx;

let seq = 0;
const uniqUser = (p = 'u') => `${p}${++seq}`;
const token = (user, extra = {}, opts) => jwt.connToken(ctx.server.secret, user, extra, opts);

/** Connect over transport; for the HTTP transports the response must be 200. */
async function uni(transport, connectRequest, opts) {
  const c = await UNI[transport](ctx.server, connectRequest, opts);
  if (transport !== 'uni_websocket') assert.equal(c.status, 200, `${transport}: HTTP ${c.status} ${c.text()}`);
  return c;
}

/** Connect and take the connect push; resolves the client with .connectResult and .client. */
async function uniSession(transport, connectRequest, opts) {
  const c = await uni(transport, connectRequest, opts);
  const first = await c.next(5000);
  assert.ok(first.connect, `${transport}: first push is not connect: ${JSON.stringify(first)}`);
  c.connectResult = first.connect;
  c.client = first.connect.client;
  return c;
}

/**
 * The end of a connection that got a disconnect push: it is the last message, and the HTTP
 * response ends normally (uni_websocket: the close frame carries the same code and reason).
 */
async function assertDisconnectedWith(transport, c, code, reason) {
  const end = await streamEnd(c, 5000, `the end of the ${transport} connection`);
  const expected = { disconnect: { code, reason } };
  if (transport === 'uni_websocket') {
    assert.deepEqual(end, { code, reason });
    assert.deepEqual(c.all.at(-1), expected, `last message: ${JSON.stringify(c.all)}`);
  } else {
    assert.equal(end.complete, true, 'the response was reset instead of ended');
    assert.deepEqual(c.all.at(-1), expected, `last message: ${JSON.stringify(c.all)}`);
  }
}

/** API presence of a channel: the client ids listed. */
async function presenceIds(channel) {
  const r = await api(ctx.server, 'presence', { channel });
  assert.equal(r.status, 200, r.text);
  return Object.keys(r.body.result?.presence ?? {});
}

/** API channels: num_clients of channel, 0 when it is not listed. */
async function numClients(channel) {
  const r = await api(ctx.server, 'channels', { pattern: channel });
  assert.equal(r.status, 200, r.text);
  return r.body.result?.channels?.[channel]?.num_clients ?? 0;
}

// ---------------------------------------------------------------------------------------------
// every unidirectional transport

for (const tr of TRANSPORTS) {
  t(`${tr}: the first push is {"connect":{client, version, ping, session, ...}} without pong`, async () => {
    const c = await uniSession(tr, { token: token(uniqUser()) });
    assert.deepEqual(Object.keys(c.all[0]), ['connect'], JSON.stringify(c.all[0]));
    const r = c.connectResult;
    assert.ok(typeof r.client === 'string' && r.client.length > 0, JSON.stringify(r));
    assert.ok(typeof r.version === 'string' && r.version.length > 0, JSON.stringify(r));
    assert.ok(typeof r.session === 'string' && r.session.length > 0, JSON.stringify(r));
    assert.equal(r.ping, 1, `ping (client.ping_interval 1s) in ${JSON.stringify(r)}`);
    assert.equal(r.pong, undefined, `a unidirectional client cannot answer pings: ${JSON.stringify(r)}`);
    assert.equal(r.node, undefined, `node is for the emulation transports only: ${JSON.stringify(r)}`);
    assert.equal(r.expires, true, JSON.stringify(r));
    assert.ok(r.ttl > 3500 && r.ttl <= 3600, JSON.stringify(r));
    assert.deepEqual(c.invalid, []);
  });

  t(`${tr}: token channels → connect push subs; API publications arrive as bare pushes`, async () => {
    const ch = `news-${tr}`;
    const c = await uniSession(tr, { token: token(uniqUser(), { channels: [ch] }) });
    assert.deepEqual(c.connectResult.subs, { [ch]: {} }, JSON.stringify(c.connectResult));
    for (let n = 0; n < 5; n++) await publish(ctx.server, ch, { n });
    for (let n = 0; n < 5; n++) assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n } } });
    assert.equal(
      c.all.some((m) => m.push !== undefined),
      false,
      'a push was wrapped in {"push":...}',
    );
  });

  t(`${tr}: API subscribe of the live connection → {"channel","subscribe"} push, then publications`, async () => {
    const ch = `chat:api-${tr}`;
    const user = uniqUser();
    const c = await uniSession(tr, { token: token(user) });
    const r = await api(ctx.server, 'subscribe', { user, client: c.client, channel: ch });
    assert.deepEqual(r.body, { result: {} }, r.text);
    assert.deepEqual(await c.next(), { channel: ch, subscribe: {} });
    await publish(ctx.server, ch, { hello: tr });
    assert.deepEqual(await c.next(), { channel: ch, pub: { data: { hello: tr } } });
  });

  t(`${tr}: pings arrive every ping_interval and need no answer`, async () => {
    const c = await uniSession(tr, { token: token(uniqUser()) });
    if (tr === 'uni_websocket') {
      // native WebSocket ping frames (answered by the ws library's automatic pong)
      await waitUntil(() => c.nativePings >= 2, { timeoutMs: 4000, what: 'two WebSocket ping frames' });
    } else {
      await waitUntil(() => c.pings >= 2, { timeoutMs: 4000, what: 'two {} pings' });
      assert.ok(
        c.all.filter((m) => Object.keys(m).length === 0).length >= 2,
        `pings are empty objects: ${JSON.stringify(c.all)}`,
      );
    }
    await sleep(1500);
    assert.equal(c.isEnded(), false, `the connection ended: ${JSON.stringify(c.all)}`);
  });

  t(`${tr}: a bad token → {"disconnect":{"code":3500,...}}, then the end`, async () => {
    const c = await uni(tr, { token: jwt.wrongKeyToken({ sub: uniqUser() }) });
    assert.deepEqual(await c.next(), { disconnect: { code: 3500, reason: 'invalid token' } });
    await assertDisconnectedWith(tr, c, 3500, 'invalid token');
    assert.equal(c.all.length, 1, JSON.stringify(c.all));
  });

  t(`${tr}: an expired token → disconnect 3005 (connect error 109 mapped), then the end`, async () => {
    const c = await uni(tr, { token: jwt.expiredToken(ctx.server.secret, { sub: uniqUser() }) });
    const d = await c.next();
    assert.equal(d.disconnect?.code, 3005, JSON.stringify(d));
    await assertDisconnectedWith(tr, c, 3005, d.disconnect.reason);
  });

  t(`${tr}: ConnectRequest subs for a channel open to clients → subscribed server-side`, async () => {
    const ch = `chat:subs-${tr}`;
    const c = await uniSession(tr, { token: token(uniqUser()), subs: { [ch]: {} } });
    assert.ok(c.connectResult.subs && c.connectResult.subs[ch], `connect push subs: ${JSON.stringify(c.connectResult)}`);
    await publish(ctx.server, ch, { n: 1 });
    assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n: 1 } } });
  });

  t(`${tr}: ConnectRequest subs with an unknown namespace → disconnect 3501`, async () => {
    const c = await uni(tr, { token: token(uniqUser()), subs: { 'nosuchns:x': {} } });
    const d = await c.next();
    assert.deepEqual(d, { disconnect: { code: 3501, reason: 'bad request' } });
    await assertDisconnectedWith(tr, c, 3501, 'bad request');
  });

  t(`${tr}: a client that goes away mid-stream leaves presence and the channel counts`, async () => {
    const ch = `pres:gone-${tr}`;
    const stay = await uniSession(tr, { token: token(uniqUser(), { channels: [ch] }) });
    const gone = await uniSession(tr, { token: token(uniqUser(), { channels: [ch] }) });
    assert.deepEqual((await presenceIds(ch)).sort(), [stay.client, gone.client].sort());
    assert.equal(await numClients(ch), 2);

    gone.destroy();
    await waitUntil(async () => !(await presenceIds(ch)).includes(gone.client), {
      timeoutMs: 5000,
      what: 'the gone client to leave presence',
    });
    await waitUntil(async () => (await numClients(ch)) === 1, { timeoutMs: 5000, what: 'num_clients 1' });
    assert.deepEqual(await presenceIds(ch), [stay.client]);
    // the other one is still served
    await publish(ctx.server, ch, { still: true });
    assert.deepEqual(await stay.next(), { channel: ch, pub: { data: { still: true } } });
  });
}

// ---------------------------------------------------------------------------------------------
// uni_http_stream

t('uni_http_stream: each push is one JSON line; GET → 405; bad JSON → 400', async () => {
  const c = await uniSession('uni_http_stream', { token: token(uniqUser()) });
  assert.ok(c.text().startsWith('{"connect":{'), JSON.stringify(c.text().slice(0, 60)));

  const get = await request(ctx.server, '/connection/uni_http_stream');
  assert.equal(get.status, 405, get.text);
  const bad = await request(ctx.server, '/connection/uni_http_stream', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"token":',
  });
  assert.equal(bad.status, 400, bad.text);
});

t('uni_http_stream: a body over 65536 bytes → 413', async () => {
  const r = await request(ctx.server, '/connection/uni_http_stream', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: token(uniqUser()), data: { blob: 'x'.repeat(70000) } }),
  });
  assert.equal(r.status, 413, r.text);
});

// ---------------------------------------------------------------------------------------------
// uni_sse

t('uni_sse: text/event-stream, "\\r\\n" first, one `data:` event per push', async () => {
  const ch = `news-sse-frame`;
  const c = await uniSession('uni_sse', { token: token(uniqUser(), { channels: [ch] }) });
  assert.equal(c.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(c.preamble(), true);
  assert.ok(c.text().startsWith('\r\ndata: {"connect":{'), JSON.stringify(c.text().slice(0, 60)));
  await publish(ctx.server, ch, { n: 1 });
  assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n: 1 } } });
  const evs = c.events();
  assert.equal(evs.length, c.all.length, JSON.stringify(evs));
  for (const e of evs) assert.match(e, /^data: \{[^\n]*\}$/);
  assert.deepEqual(c.invalid, []);
});

t('uni_sse: POST with the ConnectRequest as body works like GET', async () => {
  const ch = 'news-sse-post';
  const c = await uniSse(ctx.server, { token: token(uniqUser(), { channels: [ch] }) }, { method: 'POST' });
  assert.equal(c.status, 200, c.text());
  const first = await c.next();
  assert.ok(first.connect, JSON.stringify(first));
  await publish(ctx.server, ch, { n: 1 });
  assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n: 1 } } });
});

t('uni_sse: GET without cf_connect is an empty ConnectRequest: no credentials → disconnect 3501', async () => {
  const c = await uniSse(ctx.server, undefined);
  assert.equal(c.status, 200, c.text());
  assert.deepEqual(await c.next(), { disconnect: { code: 3501, reason: 'bad request' } });
  await assertDisconnectedWith('uni_sse', c, 3501, 'bad request');
});

// ---------------------------------------------------------------------------------------------
// uni_websocket

t('uni_websocket: the ConnectRequest in ?cf_connect= works like the first message', async () => {
  const ch = 'news-ws-query';
  const c = await uniWebSocket(ctx.server, { token: token(uniqUser(), { channels: [ch] }) }, { query: true });
  const first = await c.next();
  assert.ok(first.connect, JSON.stringify(first));
  assert.deepEqual(first.connect.subs, { [ch]: {} });
  await publish(ctx.server, ch, { n: 1 });
  assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n: 1 } } });
});

t('uni_websocket: one push per text message', async () => {
  const ch = 'news-ws-frames';
  const c = await uniSession('uni_websocket', { token: token(uniqUser(), { channels: [ch] }) });
  for (let n = 0; n < 3; n++) await publish(ctx.server, ch, { n });
  for (let n = 0; n < 3; n++) assert.deepEqual(await c.next(), { channel: ch, pub: { data: { n } } });
  for (const f of c.frames) assert.equal(typeof f === 'string' && !f.includes('\n'), true, JSON.stringify(f));
});

t('uni_websocket: a first message that is not JSON → close 3501', async () => {
  const c = await uniWebSocket(ctx.server, null, { firstMessage: '{"token":' });
  const end = await streamEnd(c, 5000, 'the close of the uni_websocket');
  assert.equal(end.code, 3501, JSON.stringify(end));
});

// ---------------------------------------------------------------------------------------------
// a client that stops reading

test('uni_http_stream: a client that stops reading is disconnected at the queue bound; another one receives everything', async () => {
  const srv = await startServer(uniConfig({ client: { queue_max_size: 262144 } }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let slow;
  try {
    await withLogsOnFailure(srv, async () => {
      const ch = 'flood';
      const tok = jwt.connToken(srv.secret, '9', { channels: [ch] });
      const fast = await uniHttpStream(srv, { token: tok });
      assert.equal(fast.status, 200);
      assert.ok((await fast.next()).connect);

      slow = await rawHttp(srv.port, {
        method: 'POST',
        path: '/connection/uni_http_stream',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: tok }),
      });
      const connectedOk = await slow.until(() => slow.lines().length >= 1, 5000, 'the slow client connect push');
      assert.ok(connectedOk, `slow client closed before its connect push: ${slow.head()}\n${slow.body()}`);
      assert.match(slow.head(), /^HTTP\/1\.1 200/);
      assert.ok(JSON.parse(slow.lines()[0]).connect, slow.lines()[0]);
      slow.socket.pause(); // stop reading: the kernel buffers fill, then the server's queue

      // the kernel absorbs several MB on loopback, so publish well beyond that
      const N = 2500;
      const pad = 'p'.repeat(4096);
      for (let i = 0; i < N; i++) await publish(srv, ch, { i, pad }, {}, { agent });

      for (let i = 0; i < N; i++) {
        const m = await fast.next(10000);
        assert.ok(m.pub, `fast client got ${JSON.stringify(m).slice(0, 200)}`);
        assert.equal(m.pub.data.i, i, 'fast client: publications out of order or lost');
      }

      slow.socket.resume();
      const pubs = () => slow.lines().filter((l) => l.startsWith('{"channel"')).length;
      // resolves when the server closes the connection (or everything arrived: asserted below)
      await slow.until(() => pubs() >= N, 20000, 'the slow client to be closed by the server');
      assert.ok(pubs() < N, `slow client was not disconnected (received all ${pubs()} publications)`);
      const last = slow.lines().at(-1);
      if (!last.startsWith('{"channel"')) assert.deepEqual(JSON.parse(last), { disconnect: { code: 3008, reason: 'slow' } });
      assert.match(srv.logs(), /slow|3008/i, 'server log does not mention the slow disconnect');

      // the fast one is still connected and served
      await publish(srv, ch, { i: 'last' });
      assert.equal((await fast.next()).pub.data.i, 'last');
    });
  } finally {
    agent.destroy();
    if (slow) slow.destroy();
    await assertCleanExit(srv);
  }
});

// ---------------------------------------------------------------------------------------------
// shutdown

test('SIGTERM with open unidirectional connections: each gets the 3001 "shutdown" disconnect, the server exits cleanly', async () => {
  const srv = await startServer(uniConfig());
  try {
    await withLogsOnFailure(srv, async () => {
      const tok = jwt.connToken(srv.secret, uniqUser());
      const conns = {};
      for (const tr of TRANSPORTS) {
        conns[tr] = await UNI[tr](srv, { token: tok });
        assert.ok((await conns[tr].next()).connect);
      }
      await assertCleanExit(srv);
      for (const tr of TRANSPORTS) {
        const end = await streamEnd(conns[tr], 2000, `the end of ${tr} at shutdown`);
        assert.deepEqual(conns[tr].all.at(-1), { disconnect: { code: 3001, reason: 'shutdown' } }, tr);
        if (tr === 'uni_websocket') assert.deepEqual(end, { code: 3001, reason: 'shutdown' });
      }
    });
  } finally {
    await srv.stop();
  }
});
