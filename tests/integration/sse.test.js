'use strict';
// HTTP-streaming and SSE with the bidirectional emulation (spec §8, §8.1; disconnects §2.3):
// centrifuge-js over its `http_stream` and `sse` transports (connect, publications, client
// publish, presence, history, recovery, bad token, API disconnect, pings), and the raw wire:
// the stream's framing and headers, POST /emulation and its error statuses.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish, request } = require('./lib/api');
const { newClient, connected, disconnected, newSubscription, subscribed, nextPublication } = require('./lib/client');
const { waitUntil, sleep } = require('./lib/wait');
const { sharedServer, events, offsets } = require('./lib/chan');
const {
  streamEnd,
  emulate,
  emulationBody,
  emulationSession,
  newStreamClient,
  dropStream,
  recordingFetch,
} = require('./lib/stream');

const TRANSPORTS = ['http_stream', 'sse'];
const HISTORY = { history_size: 100, history_ttl: '300s' };

function streamConfig(extra = {}) {
  return merge(
    merge(defaultConfig(), {
      http_stream: { enabled: true },
      sse: { enabled: true },
      channel: {
        namespaces: [
          { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
          {
            name: 'room',
            allow_subscribe_for_client: true,
            allow_publish_for_subscriber: true,
            presence: true,
            allow_presence_for_subscriber: true,
            ...HISTORY,
            allow_history_for_subscriber: true,
          },
          { name: 'rec', allow_subscribe_for_client: true, ...HISTORY, force_recovery: true },
        ],
      },
    }),
    extra,
  );
}

const ctx = sharedServer(() => streamConfig());
const { t } = ctx;

let seq = 0;
/** A user id no other test uses (API disconnects address users). */
const uniqUser = (p = 'u') => `${p}${++seq}`;
const token = (user) => jwt.connToken(ctx.server.secret, user);

const CACHE_CONTROL = 'private, no-cache, no-store, must-revalidate, max-age=0';

/** Assert the headers every emulation stream response carries (spec §8.1). */
function assertStreamHeaders(s) {
  assert.equal(s.headers['cache-control'], CACHE_CONTROL, JSON.stringify(s.headers));
  assert.equal(s.headers.pragma, 'no-cache', JSON.stringify(s.headers));
  assert.equal(s.headers['x-accel-buffering'], 'no', JSON.stringify(s.headers));
}

/** Assert a connect result of an emulation transport: client, version, session and node. */
function assertEmulationConnect(r) {
  assert.ok(typeof r.client === 'string' && r.client.length > 0, `client in ${JSON.stringify(r)}`);
  assert.ok(typeof r.version === 'string' && r.version.length > 0, `version in ${JSON.stringify(r)}`);
  assert.ok(typeof r.session === 'string' && r.session.length > 0, `session in ${JSON.stringify(r)}`);
  assert.ok(typeof r.node === 'string' && r.node.length > 0, `node in ${JSON.stringify(r)}`);
  assert.equal(r.ping, 25, `ping in ${JSON.stringify(r)}`);
  assert.equal(r.pong, true, `pong in ${JSON.stringify(r)}`);
  assert.equal(r.expires, true, `expires in ${JSON.stringify(r)}`);
  assert.ok(r.ttl > 3500 && r.ttl <= 3600, `ttl in ${JSON.stringify(r)}`);
}

// ---------------------------------------------------------------------------------------------
// centrifuge-js over each emulation transport

/** A connected centrifuge-js client over transport; resolves {client, id}. */
async function streamClient(transport, user, opts = {}) {
  const client = newStreamClient(ctx.server, transport, { token: token(user), ...opts });
  const cc = await connected(client);
  return { client, id: cc.client, ctx: cc };
}

/** SDK recovery over an emulation transport: 3 live publications, a cut, 5 while away, recovery. */
async function sdkRecovery(transport, channel, user, cut) {
  // reconnect only after 1-1.5 s, so the publications below happen while it is away
  const { client: c } = await streamClient(transport, user, { minReconnectDelay: 1000, maxReconnectDelay: 1500 });
  const sub = newSubscription(c, channel);
  const subs = events(sub, 'subscribed');
  const got = [];
  sub.on('publication', (p) => got.push(p));
  await subscribed(sub);
  const first = await subs.next();
  assert.equal(first.recoverable, true, `first subscribe ctx ${JSON.stringify(first)}`);
  assert.equal(first.recovered, false);

  for (const n of [0, 1, 2]) await publish(ctx.server, channel, { n });
  await waitUntil(() => got.length >= 3, { timeoutMs: 5000, what: '3 live publications' });

  const connecting = events(c, 'connecting');
  await cut(c);
  const why = await connecting.next(5000);
  for (const n of [3, 4, 5, 6, 7]) await publish(ctx.server, channel, { n });
  assert.equal(c.state, 'connecting', 'the client reconnected before the publications were made');

  const second = await subs.next(10000);
  assert.equal(second.wasRecovering, true, `resubscribe ctx ${JSON.stringify(second)}`);
  assert.equal(second.recovered, true, `resubscribe ctx ${JSON.stringify(second)}`);
  await waitUntil(() => got.length >= 8, { timeoutMs: 5000, what: '8 publications in all' });
  await sleep(300); // a duplicate would arrive now
  assert.deepEqual(
    got.map((p) => p.data.n),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(offsets(got), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(c.lc.connectedCtx.transport, transport);
  return why;
}

for (const tr of TRANSPORTS) {
  t(`${tr}: centrifuge-js connects; the connected ctx names the transport`, async () => {
    const { client, ctx: cc } = await streamClient(tr, uniqUser());
    assert.equal(client.state, 'connected');
    assert.equal(cc.transport, tr);
    assert.ok(typeof cc.client === 'string' && cc.client.length > 0, JSON.stringify(cc));
  });

  t(`${tr}: subscribe, then API publications arrive in order`, async () => {
    const ch = `chat:${tr}-api`;
    const { client } = await streamClient(tr, uniqUser());
    const sub = newSubscription(client, ch);
    await subscribed(sub);
    for (let n = 0; n < 10; n++) await publish(ctx.server, ch, { n, text: `hi ${n}` });
    for (let n = 0; n < 10; n++) {
      const p = await nextPublication(sub);
      assert.equal(p.channel, ch);
      assert.deepEqual(p.data, { n, text: `hi ${n}` });
    }
  });

  t(`${tr}: a client publish reaches a WebSocket subscriber (with info), and the other way round`, async () => {
    const ch = `chat:${tr}-pub`;
    const wsUser = uniqUser('ws');
    const ws = newClient(ctx.server, { token: token(wsUser) });
    const wsId = (await connected(ws)).client;
    const wsSub = newSubscription(ws, ch);
    await subscribed(wsSub);

    const user = uniqUser('st');
    const { client, id } = await streamClient(tr, user);
    const sub = newSubscription(client, ch);
    await subscribed(sub);

    await sub.publish({ from: tr });
    const p = await nextPublication(wsSub);
    assert.deepEqual(p.data, { from: tr });
    assert.equal(p.info.user, user);
    assert.equal(p.info.client, id);
    // the publisher is subscribed too
    assert.deepEqual((await nextPublication(sub)).data, { from: tr });

    await wsSub.publish({ from: 'websocket' });
    const back = await nextPublication(sub);
    assert.deepEqual(back.data, { from: 'websocket' });
    assert.equal(back.info.user, wsUser);
    assert.equal(back.info.client, wsId);
  });

  t(`${tr}: presence, presence stats and history in a namespace that has them`, async () => {
    const ch = `room:${tr}-ph`;
    const ws = newClient(ctx.server, { token: token(uniqUser('ws')) });
    const wsId = (await connected(ws)).client;
    await subscribed(newSubscription(ws, ch));
    const { client, id } = await streamClient(tr, uniqUser('st'));
    const sub = newSubscription(client, ch);
    await subscribed(sub);

    const pres = await sub.presence();
    assert.deepEqual(Object.keys(pres.clients).sort(), [id, wsId].sort());
    assert.equal(pres.clients[id].client, id);
    assert.deepEqual(await sub.presenceStats(), { numClients: 2, numUsers: 2 });

    for (const n of [1, 2, 3]) await publish(ctx.server, ch, { n });
    for (const n of [1, 2, 3]) assert.deepEqual((await nextPublication(sub)).data, { n });
    const h = await sub.history({ limit: 10 });
    assert.deepEqual(
      h.publications.map((p) => [p.data.n, p.offset]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    assert.equal(h.offset, 3);
    assert.ok(typeof h.epoch === 'string' && h.epoch.length > 0, JSON.stringify(h));
  });

  t(`${tr}: the stream is cut → reconnect and recover: the missed publications arrive once, in order`, async () => {
    await sdkRecovery(tr, `rec:${tr}-drop`, uniqUser('rec'), (c) => dropStream(c));
  });

  t(`${tr}: API disconnect 3011 "force reconnect" → reconnect and recover`, async () => {
    const user = uniqUser('rec');
    const why = await sdkRecovery(tr, `rec:${tr}-3011`, user, async () => {
      const r = await api(ctx.server, 'disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
      assert.deepEqual(r.body, { result: {} });
    });
    assert.equal(why.code, 3011);
    assert.equal(why.reason, 'force reconnect');
  });

  t(`${tr}: a bad token → disconnected state with 3500`, async () => {
    const c = newStreamClient(ctx.server, tr, { token: jwt.wrongKeyToken({ sub: uniqUser() }) });
    const d = await disconnected(c, 8000);
    assert.equal(d.code, 3500, JSON.stringify(d));
    assert.equal(d.reason, 'invalid token');
    assert.equal(c.state, 'disconnected');
  });

  t(`${tr}: API disconnect → disconnected state with 3503 "force disconnect", no reconnect`, async () => {
    const user = uniqUser();
    const { client } = await streamClient(tr, user);
    const gone = disconnected(client, 5000);
    const r = await api(ctx.server, 'disconnect', { user });
    assert.deepEqual(r.body, { result: {} });
    assert.deepEqual(await gone, { code: 3503, reason: 'force disconnect' });
    await sleep(500);
    assert.equal(client.state, 'disconnected');
  });
}

// ---------------------------------------------------------------------------------------------
// raw HTTP-streaming

t('raw http_stream: POST connect → 200, chunked, no-cache headers; the first line is the connect reply', async () => {
  const s = await emulationSession(ctx.server, { transport: 'http_stream', connect: { token: token(uniqUser()) } });
  assert.equal(s.status, 200);
  assert.equal(s.headers['transfer-encoding'], 'chunked', JSON.stringify(s.headers));
  assertStreamHeaders(s);
  assert.ok(s.text().startsWith('{"id":1,"connect":{'), `body starts ${JSON.stringify(s.text().slice(0, 80))}`);
  assertEmulationConnect(s.first.connect);
  assert.deepEqual(Object.keys(s.first).sort(), ['connect', 'id']);
  assert.deepEqual(s.invalid, []);
});

t('raw http_stream: commands via POST /emulation → 204; replies and publications arrive on the stream', async () => {
  const ch = 'chat:raw-emu';
  const user = uniqUser();
  const s = await emulationSession(ctx.server, { transport: 'http_stream', connect: { token: token(user) } });

  const subReply = await s.call({ subscribe: { channel: ch } });
  assert.deepEqual(subReply, { id: 2, subscribe: {} });

  await publish(ctx.server, ch, { n: 1 });
  assert.deepEqual(await s.push((p) => p.channel === ch), { push: { channel: ch, pub: { data: { n: 1 } } } });

  const pubReply = await s.call({ publish: { channel: ch, data: { own: true } } });
  assert.deepEqual(pubReply, { id: pubReply.id, publish: {} });
  assert.deepEqual(await s.push((p) => p.channel === ch), {
    push: { channel: ch, pub: { data: { own: true }, info: { user, client: s.client } } },
  });

  // several commands in one emulation request: replies in order
  const r = await emulate(
    ctx.server,
    emulationBody(s.session, s.node, [
      { id: 10, subscribe: { channel: 'chat:raw-emu2' } },
      { id: 11, unsubscribe: { channel: ch } },
    ]),
  );
  assert.equal(r.status, 204, r.text);
  assert.equal(r.text, '');
  assert.deepEqual(await s.reply(10), { id: 10, subscribe: {} });
  assert.deepEqual(await s.reply(11), { id: 11, unsubscribe: {} });
  const ids = s.all.filter((m) => m.id !== undefined).map((m) => m.id);
  assert.deepEqual(ids.slice(-2), [10, 11]);
  assert.deepEqual(s.invalid, []);
});

t('raw http_stream: the connect request may carry subscribe commands after connect', async () => {
  const s = await emulationSession(ctx.server, {
    transport: 'http_stream',
    connect: { token: token(uniqUser()) },
    extra: [{ id: 2, subscribe: { channel: 'chat:raw-first' } }],
  });
  assert.deepEqual(await s.reply(2), { id: 2, subscribe: {} });
  await publish(ctx.server, 'chat:raw-first', { n: 1 });
  assert.deepEqual(await s.push(), { push: { channel: 'chat:raw-first', pub: { data: { n: 1 } } } });
});

t('raw /emulation: wrong node → 404, bad JSON → 400, body over 65536 bytes → 413', async () => {
  const s = await emulationSession(ctx.server, { transport: 'http_stream', connect: { token: token(uniqUser()) } });
  const cmd = [{ id: 2, subscribe: { channel: 'chat:never' } }];

  const wrongNode = await emulate(ctx.server, emulationBody(s.session, `${s.node}-other`, cmd));
  assert.equal(wrongNode.status, 404, wrongNode.text);

  const bad = await emulate(ctx.server, '{"session":');
  assert.equal(bad.status, 400, bad.text);

  const big = emulationBody(s.session, s.node, [{ id: 3, publish: { channel: 'chat:never', data: { blob: 'x'.repeat(70000) } } }]);
  const tooLarge = await emulate(ctx.server, big);
  assert.equal(tooLarge.status, 413, tooLarge.text);

  // none of these reached the session: the stream got nothing but the connect reply
  assert.deepEqual(await s.call({ id: 4, subscribe: { channel: 'chat:after-errors' } }), { id: 4, subscribe: {} });
  assert.deepEqual(
    s.all.map((m) => m.id),
    [1, 4],
  );
});

t('raw /emulation: an unknown session on this node → 204 (dropped); non-string data → 204 (dropped)', async () => {
  const s = await emulationSession(ctx.server, { transport: 'http_stream', connect: { token: token(uniqUser()) } });
  const unknown = await emulate(ctx.server, emulationBody('no-such-session', s.node, [{ id: 2, subscribe: { channel: 'chat:x' } }]));
  assert.equal(unknown.status, 204, unknown.text);

  const notString = await emulate(ctx.server, { session: s.session, node: s.node, data: { id: 3, subscribe: { channel: 'chat:y' } } });
  assert.equal(notString.status, 204, notString.text);

  assert.deepEqual(await s.call({ id: 4, subscribe: { channel: 'chat:z' } }), { id: 4, subscribe: {} });
  assert.deepEqual(
    s.all.map((m) => m.id),
    [1, 4],
  );
});

t('raw http_stream: GET → 405; a connect body over 65536 bytes → 413', async () => {
  const get = await request(ctx.server, '/connection/http_stream');
  assert.equal(get.status, 405, get.text);
  const body = JSON.stringify({ id: 1, connect: { token: token('big'), data: { blob: 'x'.repeat(70000) } } });
  const big = await request(ctx.server, '/connection/http_stream', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
  assert.equal(big.status, 413, big.text);
});

// ---------------------------------------------------------------------------------------------
// raw SSE

t('raw sse: GET ?cf_connect= → text/event-stream, "\\r\\n" first, then one `data:` event per reply', async () => {
  const ch = 'chat:raw-sse';
  const s = await emulationSession(ctx.server, { transport: 'sse', connect: { token: token(uniqUser()) } });
  assert.equal(s.status, 200);
  assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8');
  assertStreamHeaders(s);
  assert.ok(s.text().startsWith('\r\ndata: {"id":1,"connect":{'), `body starts ${JSON.stringify(s.text().slice(0, 80))}`);
  assert.equal(s.preamble(), true);
  assertEmulationConnect(s.first.connect);

  assert.deepEqual(await s.call({ subscribe: { channel: ch } }), { id: 2, subscribe: {} });
  await publish(ctx.server, ch, { n: 1 });
  assert.deepEqual(await s.push((p) => p.channel === ch), { push: { channel: ch, pub: { data: { n: 1 } } } });
  await publish(ctx.server, ch, { n: 2 });
  assert.deepEqual(await s.push((p) => p.channel === ch), { push: { channel: ch, pub: { data: { n: 2 } } } });

  // every event is a single `data: <reply>` line: no event:/id: fields, one reply per event
  const evs = s.events();
  assert.equal(evs.length, s.all.length, JSON.stringify(evs));
  for (const e of evs) assert.match(e, /^data: \{[^\n]*\}$/);
  assert.deepEqual(s.invalid, []);
});

t('raw sse: POST with the connect command as body is accepted too', async () => {
  const s = await emulationSession(ctx.server, { transport: 'sse', sseMethod: 'POST', connect: { token: token(uniqUser()) } });
  assert.equal(s.headers['content-type'], 'text/event-stream; charset=utf-8');
  assertEmulationConnect(s.first.connect);
  assert.deepEqual(await s.call({ subscribe: { channel: 'chat:sse-post' } }), { id: 2, subscribe: {} });
});

t('raw sse: GET without cf_connect → 400', async () => {
  const r = await request(ctx.server, '/connection/sse');
  assert.equal(r.status, 400, r.text);
});

// ---------------------------------------------------------------------------------------------
// disconnects on raw streams (spec §2.3: a disconnect push, then the response ends)

for (const tr of TRANSPORTS) {
  t(`raw ${tr}: API disconnect → the last message is the 3503 disconnect push and the response ends`, async () => {
    const user = uniqUser();
    const s = await emulationSession(ctx.server, { transport: tr, connect: { token: token(user) } });
    const r = await api(ctx.server, 'disconnect', { user });
    assert.deepEqual(r.body, { result: {} });
    const end = await streamEnd(s, 5000, `the end of the ${tr} response`);
    assert.equal(end.complete, true, 'the response was reset instead of ended');
    assert.deepEqual(s.all.at(-1), { push: { disconnect: { code: 3503, reason: 'force disconnect' } } });
    assert.equal(s.all.length, 2, JSON.stringify(s.all));
    if (tr === 'http_stream') assert.ok(s.text().endsWith('{"push":{"disconnect":{"code":3503,"reason":"force disconnect"}}}\n'), s.text());
    else assert.ok(s.text().endsWith('data: {"push":{"disconnect":{"code":3503,"reason":"force disconnect"}}}\n\n'), s.text());
  });

  t(`raw ${tr}: a bad token → a 3500 disconnect push, then the response ends`, async () => {
    const s = await emulationSession(ctx.server, {
      transport: tr,
      connect: { token: jwt.wrongKeyToken({ sub: uniqUser() }) },
      expectConnect: false,
    });
    assert.deepEqual(s.first, { push: { disconnect: { code: 3500, reason: 'invalid token' } } });
    const end = await streamEnd(s, 5000, `the end of the ${tr} response`);
    assert.equal(end.complete, true, 'the response was reset instead of ended');
    assert.equal(s.all.length, 1, JSON.stringify(s.all));
  });
}

test('SIGTERM with open streams: each gets the 3001 "shutdown" disconnect push, the server exits cleanly', async () => {
  const server = await startServer(streamConfig());
  try {
    await withLogsOnFailure(server, async () => {
      const tok = jwt.connToken(server.secret, uniqUser());
      const streams = [];
      for (const tr of TRANSPORTS) streams.push(await emulationSession(server, { transport: tr, connect: { token: tok } }));
      await assertCleanExit(server);
      for (const s of streams) {
        await streamEnd(s, 2000, 'the end of the stream at shutdown');
        assert.deepEqual(s.all.at(-1), { push: { disconnect: { code: 3001, reason: 'shutdown' } } });
      }
    });
  } finally {
    await server.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// pings: ping_interval 1s, pong_timeout 500ms

describe('pings (ping_interval 1s, pong_timeout 500ms)', () => {
  let server;
  before(async () => {
    server = await startServer(streamConfig({ client: { ping_interval: '1s', pong_timeout: '500ms' } }));
  });
  after(async () => {
    if (server) await assertCleanExit(server);
  });
  const pt = (name, fn) => test(name, () => withLogsOnFailure(server, fn));

  for (const tr of TRANSPORTS) {
    pt(`${tr}: centrifuge-js answers the pings (pongs via /emulation) and stays connected over 4 s`, async () => {
      const rec = recordingFetch();
      const c = newStreamClient(server, tr, { token: jwt.connToken(server.secret, uniqUser('p')), fetch: rec.fetch });
      await connected(c);
      const before = c.lc.events.length;
      await sleep(4000);
      assert.equal(c.state, 'connected');
      assert.deepEqual(
        c.lc.events.slice(before).map((e) => `${e.type} ${e.ctx.code ?? ''} ${e.ctx.reason ?? ''}`),
        [],
        'the client left the connected state',
      );
      const pongs = rec.bodies.filter((b) => b.data === '{}');
      assert.ok(pongs.length >= 2, `only ${pongs.length} pongs were sent in 4 s: ${JSON.stringify(rec.bodies)}`);
    });

    pt(`raw ${tr}: pings are {} messages; answered via /emulation the stream stays up`, async () => {
      const s = await emulationSession(server, { transport: tr, connect: { token: jwt.connToken(server.secret, uniqUser('p')) } });
      assert.equal(s.connectResult.ping, 1, JSON.stringify(s.connectResult));
      assert.equal(s.connectResult.pong, true);
      await sleep(3500);
      assert.equal(s.isEnded(), false, `stream ended: ${JSON.stringify(s.all)}`);
      assert.ok(s.pings >= 2, `${s.pings} pings in 3.5 s`);
      assert.equal(s.pongErrors(), 0);
    });

    pt(`raw ${tr}: pings not answered → disconnect push 3012 "no pong", then the end`, async () => {
      const s = await emulationSession(server, {
        transport: tr,
        autoPong: false,
        connect: { token: jwt.connToken(server.secret, uniqUser('p')) },
      });
      const end = await streamEnd(s, 5000, 'the no-pong disconnect');
      assert.equal(end.complete, true, 'the response was reset instead of ended');
      assert.deepEqual(s.all.at(-1), { push: { disconnect: { code: 3012, reason: 'no pong' } } });
      assert.ok(s.pings >= 1);
    });
  }
});
