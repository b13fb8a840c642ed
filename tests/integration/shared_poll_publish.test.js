'use strict';
// Shared poll direct publish (Centrifugo v6.8 `shared_poll_publish`, issue 16): the application
// hands an item's new data and version to the server, which gives it at once to the clients
// tracking the item (official SharedPollSubscription, JSON and Protobuf), drops stale versions,
// spares the backend the next cycle's question about the item, and starts a channel afresh on
// a new publisher epoch. With shared_poll.publish_enabled it crosses nodes through the Redis
// engine (two Lucent nodes on a real redis-server); without, only the receiving node delivers.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const { startRedis } = require('./lib/redis');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { newClient, connected, rawSession, rawCall } = require('./lib/client');
const { sleep, waitUntil } = require('./lib/wait');
const { startBackend } = require('./lib/backend');

const HMAC = 'shared-poll-publish-key';
const SLOW = '10s'; // refresh_interval where only a direct publish can explain an update
const FAST = 400; // ms, refresh_interval of the namespace whose cycles are watched

function sign(user, channel, keys) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + 3600;
  const keysHash = crypto.createHash('sha256').update(keys.join('\x00')).digest('hex');
  const mac = crypto.createHmac('sha256', HMAC).update(`${now}:${exp}:${user}:${channel}:${keysHash}`).digest('hex');
  return `${now}:${exp}:${mac}`;
}

// The application's versioned state per channel: {epoch, items: Map(key → {data, version})}.
const state = new Map();
const stateOf = (ch) => {
  if (!state.has(ch)) state.set(ch, { epoch: '', items: new Map() });
  return state.get(ch);
};

function answerVersioned(r) {
  const s = stateOf(r.json?.channel);
  const items = [];
  for (const { key, version = 0 } of r.json?.items ?? []) {
    const it = s.items.get(key);
    if (it?.removed) items.push({ key, removed: true });
    else if (it && it.version > version) items.push({ key, data: it.data, version: it.version });
  }
  return { json: { result: { items, epoch: s.epoch } } };
}

function answerVersionless(r) {
  return { json: { result: { items: (r.json?.items ?? []).map(({ key }) => ({ key, data: { v: 1 } })) } } };
}

const ns = (name, sp, extra = {}) => ({
  name,
  subscription_type: 'shared_poll',
  allow_subscribe_for_client: true,
  shared_poll: { proxy_name: 'ver', mode: 'versioned', ...sp },
  ...extra,
});

function spollConfig(backend, extra = {}) {
  return merge(
    merge(defaultConfig(), {
      workers: 2,
      shared_poll: { hmac_secret_key: HMAC },
      proxies: [{ name: 'ver', endpoint: backend.url('/refresh-v'), timeout: '2s' }],
      channel: {
        proxy: { shared_poll_refresh: { endpoint: backend.url('/refresh'), timeout: '2s' } },
        namespaces: [
          { name: 'chat', allow_subscribe_for_client: true },
          ns('pv', { refresh_interval: SLOW }),
          ns('pf', { refresh_interval: `${FAST}ms` }),
          ns('pe', { refresh_interval: SLOW, publish_enabled: true }),
          ns('pd', { refresh_interval: SLOW }),
          ns('pl', { refresh_interval: SLOW, proxy_name: '', mode: 'versionless' }),
          ns('pc', { refresh_interval: SLOW }, { allow_publish_for_client: true }),
        ],
      },
    }),
    extra,
  );
}

let backend;
let server;

before(async () => {
  backend = await startBackend({ '/refresh-v': answerVersioned, '/refresh': answerVersionless });
  server = await startServer(spollConfig(backend));
});

after(async () => {
  if (server) await assertCleanExit(server);
  await backend?.close();
});

const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(server, fn));

let seq = 0;
const uniq = (prefix) => `${prefix}:feed${process.pid}x${++seq}`;

function valueOf(data) {
  if (!(data instanceof Uint8Array)) return data;
  return data.length ? JSON.parse(new TextDecoder().decode(data)) : null; // a removal has none
}

/** A connected client with a subscribed SharedPollSubscription to channel. */
async function pollClient(srv, channel, { user = '1', encoding } = {}) {
  const c = newClient(srv, { token: jwt.connToken(srv.config.client.token.hmac_secret_key, user), encoding });
  await connected(c);
  const sub = c.newSharedPollSubscription(channel, {
    getSignature: async (ctx) => ({ keys: ctx.keys, signature: sign(user, channel, ctx.keys) }),
  });
  const updates = [];
  const events = { subscribed: 0, unsubscribed: [] };
  sub.on('update', (ctx) => updates.push({ key: ctx.key, data: valueOf(ctx.data), version: ctx.version, removed: !!ctx.removed }));
  sub.on('subscribed', () => events.subscribed++);
  sub.on('unsubscribed', (ctx) => events.unsubscribed.push(ctx));
  sub.on('subscribing', (ctx) => events.unsubscribed.push(ctx));
  const first = new Promise((resolve) => sub.once('subscribed', resolve));
  sub.subscribe();
  await first;
  return { c, sub, updates, events };
}

const latest = (p, key) => [...p.updates].reverse().find((u) => u.key === key);
const keysOf = (req) => (req.json?.items ?? []).map((i) => i.key);

async function untilVersion(p, key, version, what) {
  await waitUntil(() => latest(p, key)?.version === version, { timeoutMs: 4000, what: what ?? `${key} at version ${version}` });
}

/** shared_poll_publish that must succeed. */
async function spPublish(srv, params) {
  const r = await api(srv, 'shared_poll_publish', params);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { result: {} }, r.text);
}

for (const [encoding, prefix] of [['json', 'pv'], ['protobuf', 'pv'], ['json', 'pe']]) {
  t(`a publish reaches the trackers of its key at once, and only them; stale versions are dropped (${encoding}, ${prefix === 'pe' ? 'through the memory engine' : 'local'})`, async () => {
    const ch = uniq(prefix);
    const s = stateOf(ch);
    s.items.set('a', { data: { votes: 1 }, version: 1 });
    s.items.set('b', { data: { votes: 2 }, version: 1 });
    s.items.set('c', { data: { votes: 3 }, version: 1 });
    const A = await pollClient(server, ch, { user: '1', encoding });
    const B = await pollClient(server, ch, { user: '2', encoding });
    const C = await pollClient(server, ch, { user: '3', encoding });
    A.sub.track(['a', 'b']);
    B.sub.track(['b']);
    C.sub.track(['c']);
    // first data: the cold-key poll (the refresh interval is 10 s)
    await untilVersion(A, 'a', 1);
    await untilVersion(A, 'b', 1);
    await untilVersion(B, 'b', 1);
    await untilVersion(C, 'c', 1);
    const n = { A: A.updates.length, B: B.updates.length, C: C.updates.length };
    const asked = backend.calls('/refresh-v').filter((r) => r.json?.channel === ch).length;

    // the backend still says version 1: version 5 can only come from the publish
    const from = Date.now();
    await spPublish(server, { channel: ch, key: 'b', data: { votes: 20 }, version: 5 });
    await untilVersion(A, 'b', 5);
    await untilVersion(B, 'b', 5);
    assert.ok(Date.now() - from < 2000, 'at once, not at the next cycle');
    assert.deepEqual(latest(A, 'b').data, { votes: 20 });
    assert.deepEqual(latest(B, 'b').data, { votes: 20 });
    assert.equal(backend.calls('/refresh-v').filter((r) => r.json?.channel === ch).length, asked, 'no backend call for it');

    // stale: the version held or older, dropped silently (the API answers success)
    await spPublish(server, { channel: ch, key: 'b', data: { votes: 0 }, version: 5 });
    await spPublish(server, { channel: ch, key: 'b', data: { votes: -1 }, version: 4 });
    // a key nobody tracks: nothing to deliver
    await spPublish(server, { channel: ch, key: 'zzz', data: { votes: 9 }, version: 9 });
    await spPublish(server, { channel: ch, key: 'b', data: { votes: 21 }, version: 6 });
    await untilVersion(A, 'b', 6);
    await untilVersion(B, 'b', 6);
    await sleep(300);
    assert.equal(A.updates.length, n.A + 2, `A: b twice: ${JSON.stringify(A.updates.slice(n.A))}`);
    assert.equal(B.updates.length, n.B + 2, `B: b twice: ${JSON.stringify(B.updates.slice(n.B))}`);
    assert.equal(C.updates.length, n.C, 'C does not track b');
    assert.deepEqual(latest(A, 'b').data, { votes: 21 });

    // a client tracking b afterwards gets the published data in its track reply
    const D = await pollClient(server, ch, { user: '4', encoding });
    D.sub.track(['b']);
    await untilVersion(D, 'b', 6);
    assert.deepEqual(latest(D, 'b').data, { votes: 21 });
    for (const p of [A, B, C, D]) p.c.disconnect();
  });
}

t('payload bytes are kept: the trackers get the data exactly as published', async () => {
  const ch = uniq('pv');
  stateOf(ch).items.set('d', { data: { n: 1 }, version: 1 });
  const raw = await rawSession(server, { token: jwt.connToken(server.config.client.token.hmac_secret_key, '7') });
  assert.ok((await rawCall(raw, { subscribe: { channel: ch, type: 4 } })).subscribe);
  const r = await rawCall(raw, { sub_refresh: { channel: ch, type: 1, track: [{ signature: sign('7', ch, ['d']), items: [{ key: 'd' }] }] } });
  assert.ok(r.sub_refresh, JSON.stringify(r));
  await waitUntil(() => raw.frames.items.some((f) => typeof f === 'string' && f.includes('"version":1')), { what: 'first data' });
  const RAW = '{"n":12345678901234567890,"f":1.50,"s":"h\\u00e9"}';
  const body = `{"channel":${JSON.stringify(ch)},"key":"d","version":2,"data":${RAW}}`;
  const res = await api(server, 'shared_poll_publish', null, { raw: body });
  assert.equal(res.status, 200, res.text);
  await waitUntil(() => raw.frames.items.some((f) => typeof f === 'string' && f.includes(`"data":${RAW}`)), {
    what: 'the published bytes, unchanged',
  });
  raw.close();
});

t('the next timed cycle does not ask the backend about a freshly published key; the one after does', async () => {
  const ch = uniq('pf');
  const s = stateOf(ch);
  s.items.set('k1', { data: { votes: 1 }, version: 1 });
  s.items.set('k2', { data: { votes: 2 }, version: 1 });
  const A = await pollClient(server, ch);
  A.sub.track(['k1', 'k2']);
  await untilVersion(A, 'k1', 1);
  await untilVersion(A, 'k2', 1);
  await sleep(FAST);
  // the application writes its database, then publishes
  s.items.set('k1', { data: { votes: 10 }, version: 2 });
  await spPublish(server, { channel: ch, key: 'k1', data: { votes: 10 }, version: 2 });
  const t0 = Date.now();
  await untilVersion(A, 'k1', 2);
  const mine = () => backend.calls('/refresh-v').filter((r) => r.json?.channel === ch && r.time >= t0);
  await waitUntil(() => mine().some((r) => keysOf(r).includes('k1') && r.json.items.find((i) => i.key === 'k1').version === 2), {
    timeoutMs: 5 * FAST,
    what: 'a cycle asking about k1 at version 2',
  });
  const reqs = mine();
  const skip = reqs.findIndex((r) => keysOf(r).join() === 'k2');
  // (a cycle already collecting its keys while the publish was applied may come first)
  assert.ok(skip >= 0 && skip <= 1, `a cycle asked about k2 only: ${JSON.stringify(reqs.map(keysOf))}`);
  const next = reqs[skip + 1];
  assert.deepEqual(keysOf(next), ['k1', 'k2'], 'the following cycle asks about k1 again');
  assert.equal(next.json.items.find((i) => i.key === 'k1').version, 2, 'with the published version');
  assert.equal(A.updates.filter((u) => u.key === 'k1').length, 2, 'k1 delivered once per version');
  A.c.disconnect();
});

t('a new epoch in a publish: subscribers are unsubscribed (insufficient state), resubscribe and get the new state', async () => {
  const ch = uniq('pv');
  const s = stateOf(ch);
  s.epoch = 'boot-1';
  s.items.set('e', { data: { votes: 7 }, version: 7 });
  const A = await pollClient(server, ch);
  A.sub.track(['e']);
  await untilVersion(A, 'e', 7);
  // same epoch: an ordinary publish
  await spPublish(server, { channel: ch, key: 'e', data: { votes: 8 }, version: 8, epoch: 'boot-1' });
  await untilVersion(A, 'e', 8);
  assert.equal(A.events.subscribed, 1);
  // the publisher restarted: its versions start again from 1 under a new epoch
  s.epoch = 'boot-2';
  s.items.set('e', { data: { votes: 1 }, version: 1 });
  await spPublish(server, { channel: ch, key: 'e', data: { votes: 1 }, version: 1, epoch: 'boot-2' });
  await waitUntil(() => A.events.subscribed === 2, { what: 'the SDK resubscribing' });
  assert.ok(A.events.unsubscribed.some((e) => e.code === 2500), `insufficient state: ${JSON.stringify(A.events.unsubscribed)}`);
  await untilVersion(A, 'e', 1, 'the new epoch\'s version 1');
  assert.deepEqual(latest(A, 'e').data, { votes: 1 });
  // the new epoch holds: version 2 is newer
  await spPublish(server, { channel: ch, key: 'e', data: { votes: 2 }, version: 2, epoch: 'boot-2' });
  await untilVersion(A, 'e', 2);
  assert.equal(A.events.subscribed, 2, 'no further resubscribe');
  A.c.disconnect();
});

t('bad inputs: 107 with the field named, 102 for an unknown channel, 100 on a versionless channel; each logged', async () => {
  const ch = uniq('pv');
  const call = async (params, opts) => (await api(server, 'shared_poll_publish', params, opts)).body;
  const cases = [
    [{ key: 'k', version: 1, data: {} }, 107, /channel: required/],
    [{ channel: ch, version: 1, data: {} }, 107, /key: required/],
    [{ channel: ch, key: '', version: 1, data: {} }, 107, /key: required/],
    [{ channel: ch, key: 'x'.repeat(513), version: 1, data: {} }, 107, /key: longer/],
    [{ channel: ch, key: 'k', data: {} }, 107, /version: required/],
    [{ channel: ch, key: 'k', version: 0, data: {} }, 107, /version: required/],
    [{ channel: ch, key: 'k', version: -3, data: {} }, 107, /version/],
    [{ channel: ch, key: 'k', version: 1.5, data: {} }, 107, /version/],
    [{ channel: ch, key: 'k', version: '7', data: {} }, 107, /version/],
    [{ channel: ch, key: 'k', version: 1 }, 107, /data: required/],
    [{ channel: ch, key: 'k', version: 1, b64data: 'AAEC' }, 107, /b64data/],
    [{ channel: ch, key: 'k', version: 1, data: {}, epoch: 'e'.repeat(65) }, 107, /epoch/],
    [{ channel: 'chat:room', key: 'k', version: 1, data: {} }, 107, /not a shared poll channel/],
    [{ channel: 'nope:x', key: 'k', version: 1, data: {} }, 102, /unknown channel/],
  ];
  for (const [params, code, why] of cases) {
    const logged = server.logs().length;
    const r = await call(params);
    assert.equal(r.error?.code, code, `${JSON.stringify(params).slice(0, 80)}: ${JSON.stringify(r)}`);
    assert.match(r.error.message, why);
    await waitUntil(() => new RegExp(`api shared_poll_publish from .*error ${code}`).test(server.logs().slice(logged)), {
      what: `a log line for ${JSON.stringify(params).slice(0, 60)}`,
    });
  }
  // a plain publish into a shared poll channel would reach its clients as an item without key
  const plain = await api(server, 'publish', { channel: ch, data: { votes: 1 } });
  assert.equal(plain.body.error?.code, 107, plain.text);
  assert.match(plain.body.error.message, /shared poll channel: use shared_poll_publish/);
  const raw = await rawSession(server, { token: jwt.connToken(server.config.client.token.hmac_secret_key, '5') });
  const pc = await rawCall(raw, { publish: { channel: uniq('pc'), data: { votes: 1 } } });
  assert.equal(pc.error?.code, 107, `a client's publish: ${JSON.stringify(pc)}`);
  raw.close();
  // invalid JSON in data: refused at the door
  let logged = server.logs().length;
  const bad = await api(server, 'shared_poll_publish', null, { raw: `{"channel":"${ch}","key":"k","version":1,"data":{"a":}}` });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 107);
  await waitUntil(() => /api shared_poll_publish: malformed JSON body/.test(server.logs().slice(logged)), { what: 'the malformed body logged' });
  // versionless: direct publish needs versions (Centrifugo's node refuses it: internal error)
  logged = server.logs().length;
  const vl = await call({ channel: uniq('pl'), key: 'k', version: 1, data: {} });
  assert.equal(vl.error?.code, 100, JSON.stringify(vl));
  await waitUntil(() => /shared_poll_publish to pl:.*versioned/.test(server.logs().slice(logged)), { what: 'the versionless refusal logged' });
});

t('in /api/batch', async () => {
  const ch = uniq('pv');
  stateOf(ch).items.set('q', { data: { votes: 1 }, version: 1 });
  const A = await pollClient(server, ch);
  A.sub.track(['q']);
  await untilVersion(A, 'q', 1);
  const r = await api(server, 'batch', {
    commands: [
      { shared_poll_publish: { channel: ch, key: 'q', data: { votes: 3 }, version: 3 } },
      { shared_poll_publish: { channel: ch, key: 'q' } },
    ],
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.result.replies[0], { shared_poll_publish: {} }, r.text);
  assert.equal(r.body.result.replies[1].error.code, 107, r.text);
  await untilVersion(A, 'q', 3);
  A.c.disconnect();
});

// ---- the refresh side of quick initial data and removals ----

t('cold keys: a key tracked with version 0 that nobody else tracks on the node is polled at once, alone; others wait for the cycle', async () => {
  const ch = uniq('pv'); // refresh_interval 10 s: any request within the test is a cold-key poll
  const s = stateOf(ch);
  s.items.set('c1', { data: { votes: 1 }, version: 3 });
  const asked = (key) => backend.calls('/refresh-v').filter((r) => r.json?.channel === ch && keysOf(r).includes(key));
  const A = await pollClient(server, ch, { user: '1' });
  A.sub.track(['c1']);
  await untilVersion(A, 'c1', 3, 'c1 from the immediate poll');
  assert.deepEqual(asked('c1').map(keysOf), [['c1']]);
  // tracked elsewhere on the node with data: in the track reply, no request
  const B = await pollClient(server, ch, { user: '2' });
  B.sub.track(['c1']);
  await untilVersion(B, 'c1', 3);
  // the backend has nothing for nodata: asked once, not again for a second tracker
  A.sub.track(['nodata']);
  await waitUntil(() => asked('nodata').length === 1, { what: 'the poll of nodata' });
  B.sub.track(['nodata']);
  // a client holding data (version > 0) of a key nobody tracks: no early poll
  const raw = await rawSession(server, { token: jwt.connToken(server.config.client.token.hmac_secret_key, '9') });
  assert.ok((await rawCall(raw, { subscribe: { channel: ch, type: 4 } })).subscribe);
  const r = await rawCall(raw, { sub_refresh: { channel: ch, type: 1, track: [{ signature: sign('9', ch, ['held']), items: [{ key: 'held', version: 4 }] }] } });
  assert.ok(r.sub_refresh, JSON.stringify(r));
  await sleep(600);
  assert.equal(asked('nodata').length, 1, 'a second tracker of a cold key does not ask again');
  assert.equal(asked('held').length, 0, 'version > 0: the cycle will do');
  assert.equal(asked('c1').length, 1);
  raw.close();
  A.c.disconnect();
  B.c.disconnect();
});

t('an item the backend answers removed: true reaches its trackers as a removal and leaves the cycles', async () => {
  const ch = uniq('pf');
  const s = stateOf(ch);
  s.items.set('r1', { data: { votes: 1 }, version: 1 });
  s.items.set('r2', { data: { votes: 2 }, version: 1 });
  const A = await pollClient(server, ch, { encoding: 'protobuf' });
  A.sub.track(['r1', 'r2']);
  await untilVersion(A, 'r1', 1);
  await untilVersion(A, 'r2', 1);
  s.items.set('r1', { removed: true });
  await waitUntil(() => latest(A, 'r1')?.removed, { what: 'the removal of r1' });
  assert.ok(!A.sub.trackedKeys().has('r1'));
  const t0 = Date.now();
  await waitUntil(() => backend.calls('/refresh-v').filter((r) => r.json?.channel === ch && r.time > t0).length >= 2, {
    what: 'two cycles after the removal',
  });
  const last = backend.calls('/refresh-v').filter((r) => r.json?.channel === ch).pop();
  assert.deepEqual(keysOf(last), ['r2'], 'r1 is no longer asked about');
  A.c.disconnect();
});

// ---- two nodes on the Redis engine ----

test('Redis engine: with publish_enabled a publish on node A reaches a tracker on node B; without, only A\'s trackers', async () => {
  const redis = await startRedis();
  const prefix = `sp${Date.now()}`;
  const cfg = () => spollConfig(backend, { engine: { type: 'redis', redis: { address: redis.address, prefix } } });
  const nodes = [];
  try {
    nodes.push(await startServer(cfg()), await startServer(cfg()));
    const [A, B] = nodes;
    const on = uniq('pe');
    const off = uniq('pd');
    for (const ch of [on, off]) stateOf(ch).items.set('k', { data: { votes: 1 }, version: 1 });
    // publish_enabled: B answers the subscribe once it receives the channel from Redis, so
    // no publish after a track reply is missed (Redis paused: the answer waits for it)
    await redis.cmd(['CLIENT', 'PAUSE', '700', 'ALL']);
    const t0 = Date.now();
    const onB = await pollClient(B, on);
    assert.ok(Date.now() - t0 >= 500, `the subscribe waited for Redis: ${Date.now() - t0} ms`);
    assert.equal(Number((await redis.cmd(['PUBSUB', 'NUMSUB', `${prefix}.client.${on}`]))[1]), 1, 'B subscribed in Redis');
    const offB = await pollClient(B, off);
    const offA = await pollClient(A, off);
    onB.sub.track(['k']);
    offB.sub.track(['k']);
    offA.sub.track(['k']);
    await untilVersion(onB, 'k', 1);
    await untilVersion(offB, 'k', 1);
    await untilVersion(offA, 'k', 1);

    await spPublish(A, { channel: on, key: 'k', data: { votes: 5 }, version: 5 });
    await untilVersion(onB, 'k', 5, 'the publish on A reaching B');
    assert.deepEqual(latest(onB, 'k').data, { votes: 5 });
    // stale through Redis too
    await spPublish(A, { channel: on, key: 'k', data: { votes: 4 }, version: 4 });

    // publish_enabled off: A's trackers only
    await spPublish(A, { channel: off, key: 'k', data: { votes: 6 }, version: 6 });
    await untilVersion(offA, 'k', 6);
    await sleep(500);
    assert.equal(latest(offB, 'k').version, 1, 'the tracker on B does not get a local-only publish of A');
    assert.equal(latest(onB, 'k').version, 5, 'the stale publish was dropped');
    // the same publish on B's own API reaches it
    await spPublish(B, { channel: off, key: 'k', data: { votes: 6 }, version: 6 });
    await untilVersion(offB, 'k', 6);
    for (const p of [onB, offB, offA]) p.c.disconnect();
  } catch (err) {
    for (const n of nodes) err.message += `\n--- node ${n.port} ---\n${n.logs().slice(-4000)}`;
    throw err;
  } finally {
    for (const n of nodes) await assertCleanExit(n);
    await redis.stop();
  }
});
