'use strict';
// Shared poll subscriptions (Centrifugo v6.8 subscription_type "shared_poll", issue 16 point 2)
// with the official client's SharedPollSubscription (npm centrifuge, JSON and Protobuf) and a
// real Node HTTP backend standing in for the application: clients track items with signed
// sub_refresh requests, the server asks the refresh proxy once per cycle for the union of the
// items tracked on the node and pushes only what changed, to the connections tracking it.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { newClient, connected, rawSession, rawCall } = require('./lib/client');
const { sleep, waitUntil } = require('./lib/wait');
const { dropTransport } = require('./lib/chan');
const { startBackend } = require('./lib/backend');
const fs = require('node:fs');
const path = require('node:path');

function readmeScript() {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const m = /<!-- shared-poll-example -->\n```lua\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the shared poll example script');
  return m[1];
}

const HMAC = 'shared-poll-test-key';
const INTERVAL = 300; // ms, refresh_interval of the test namespaces

/** The backend's signature over keys (Centrifugo's format: iat:exp:hmac_hex). */
function sign(user, channel, keys, { ttl = 3600, secret = HMAC, iat } = {}) {
  const now = iat ?? Math.floor(Date.now() / 1000);
  const exp = ttl === 0 ? 0 : now + ttl;
  const keysHash = crypto.createHash('sha256').update(keys.join('\x00')).digest('hex');
  const mac = crypto.createHmac('sha256', secret).update(`${now}:${exp}:${user}:${channel}:${keysHash}`).digest('hex');
  return `${now}:${exp}:${mac}`;
}

// The application's state and what its refresh endpoint was asked.
const votes = new Map(); // channel → Map(key → data)
const versioned = new Map(); // key → {data, version}
let hang = false; // /refresh-slow never answers in time while set
let backend;
let server;

// Written by hand so that a value given as {raw: text} goes out byte for byte.
function answerVersionless(r) {
  const state = votes.get(r.json?.channel) ?? new Map();
  const items = [];
  for (const { key } of r.json?.items ?? []) {
    if (!state.has(key)) continue;
    const v = state.get(key);
    items.push(`{"key":${JSON.stringify(key)},"data":${v && v.raw !== undefined ? v.raw : JSON.stringify(v)}}`);
  }
  return { body: `{"result":{"items":[${items.join(',')}]}}`, headers: { 'Content-Type': 'application/json' } };
}

before(async () => {
  backend = await startBackend({
    '/refresh': answerVersionless,
    '/refresh-slow': (r) =>
      hang === 'down' ? { destroy: true } : hang ? { delayMs: 3000, json: { result: { items: [] } } } : answerVersionless(r),
    '/refresh-v': (r) => {
      const items = [];
      for (const { key, version = 0 } of r.json?.items ?? []) {
        const s = versioned.get(key);
        if (!s) continue;
        // unchanged items are left out: the server treats them as unchanged in versioned mode
        if (s.version > version) items.push({ key, data: s.data, version: s.version });
      }
      return { json: { result: { items, epoch: versioned.epoch ?? '' } } };
    },
  });
  const ns = (name, sp = {}, extra = {}) => ({
    name,
    subscription_type: 'shared_poll',
    allow_subscribe_for_client: true,
    shared_poll: { refresh_interval: `${INTERVAL}ms`, ...sp },
    ...extra,
  });
  const config = merge(defaultConfig(), {
    workers: 2,
    shared_poll: { hmac_secret_key: HMAC },
    proxies: [
      { name: 'slow', endpoint: backend.url('/refresh-slow'), timeout: '400ms' },
      { name: 'ver', endpoint: backend.url('/refresh-v'), timeout: '1s' },
    ],
    channel: {
      proxy: { shared_poll_refresh: { endpoint: backend.url('/refresh'), timeout: '1s' } },
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true },
        ns('votes'),
        ns('few', { max_keys_per_connection: 3 }),
        ns('batch', { refresh_batch_size: 2 }),
        ns('slow', { proxy_name: 'slow' }),
        ns('ver', { proxy_name: 'ver', mode: 'versioned' }),
        ns('results'),
      ],
    },
    lua: { script: 'votes.lua' },
  });
  // the vote-count script of the README's "Shared poll subscriptions", as it is written there
  server = await startServer(config, { files: { 'votes.lua': readmeScript() } });
});

after(async () => {
  if (server) await assertCleanExit(server);
  await backend?.close();
});

const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(server, fn));

let seq = 0;
const uniq = (prefix) => `${prefix}:feed${process.pid}x${++seq}`;

/** A connected client with a shared poll subscription to channel (subscribed). */
async function pollClient(channel, { user = '1', encoding, getSignature } = {}) {
  const c = newClient(server, { token: jwt.connToken(server.config.client.token.hmac_secret_key, user), encoding });
  await connected(c);
  const sub = c.newSharedPollSubscription(channel, {
    getSignature: getSignature ?? (async (ctx) => ({ keys: ctx.keys, signature: sign(user, channel, ctx.keys) })),
  });
  const updates = [];
  const errors = [];
  sub.on('update', (ctx) => updates.push({ key: ctx.key, data: valueOf(ctx.data), version: ctx.version, removed: !!ctx.removed }));
  sub.on('error', (e) => errors.push(e));
  const subscribedCtx = new Promise((resolve) => sub.once('subscribed', resolve));
  sub.subscribe();
  const ctx = await subscribedCtx;
  return { c, sub, updates, errors, ctx };
}

function valueOf(data) {
  return data instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(data)) : data;
}

const latest = (updates, key) => [...updates].reverse().find((u) => u.key === key);
const keysOf = (req) => (req.json?.items ?? []).map((i) => i.key);

async function untilData(p, key, votesWanted, what) {
  await waitUntil(() => latest(p.updates, key)?.data?.votes === votesWanted, {
    timeoutMs: 4000,
    what: what ?? `update of ${key} to ${votesWanted} votes`,
  });
}

for (const encoding of ['json', 'protobuf']) {
  t(`two clients with overlapping items: one refresh request per cycle with the union, only changed items pushed (${encoding})`, async () => {
    const ch = uniq('votes');
    votes.set(ch, new Map([['a', { votes: 1 }], ['b', { votes: 2 }], ['c', { votes: 3 }]]));
    const A = await pollClient(ch, { user: '1', encoding });
    const B = await pollClient(ch, { user: '2', encoding });
    assert.ok(A.ctx.streamPosition === undefined, 'no stream position for shared poll');
    A.sub.track(['a', 'b']);
    B.sub.track(['b', 'c']);
    // initial data arrives quickly (cold items are polled at once) and only for tracked keys
    await untilData(A, 'a', 1);
    await untilData(A, 'b', 2);
    await untilData(B, 'b', 2);
    await untilData(B, 'c', 3);
    assert.equal(latest(A.updates, 'c'), undefined, 'A does not track c');
    assert.equal(latest(B.updates, 'a'), undefined, 'B does not track a');

    // steady state: count the cycles over ~6 intervals
    await sleep(INTERVAL);
    const from = Date.now();
    const before = backend.calls('/refresh').filter((r) => r.json?.channel === ch).length;
    await sleep(6 * INTERVAL);
    const reqs = backend.calls('/refresh').filter((r) => r.json?.channel === ch).slice(before);
    const elapsed = Date.now() - from;
    assert.ok(reqs.length >= 4 && reqs.length <= Math.ceil(elapsed / INTERVAL) + 1,
      `about one request per ${INTERVAL} ms cycle: ${reqs.length} in ${elapsed} ms`);
    for (const r of reqs) assert.deepEqual(keysOf(r), ['a', 'b', 'c'], 'each request asks for the union, once');
    for (let i = 1; i < reqs.length; i++)
      assert.ok(reqs[i].time - reqs[i - 1].time >= INTERVAL * 0.6, 'requests are a cycle apart, not one per client');

    // nothing changed: nothing pushed
    const nA = A.updates.length;
    const nB = B.updates.length;
    assert.equal(nA, 2, `A got a and b once each: ${JSON.stringify(A.updates)}`);
    assert.equal(nB, 2, `B got b and c once each: ${JSON.stringify(B.updates)}`);

    // b changes: both trackers get b, nothing else, with a newer version
    const oldB = latest(A.updates, 'b').version;
    votes.get(ch).set('b', { votes: 20 });
    await untilData(A, 'b', 20);
    await untilData(B, 'b', 20);
    await sleep(2 * INTERVAL);
    assert.equal(A.updates.length, nA + 1, `A: only b pushed: ${JSON.stringify(A.updates)}`);
    assert.equal(B.updates.length, nB + 1, `B: only b pushed: ${JSON.stringify(B.updates)}`);
    assert.ok(latest(A.updates, 'b').version > oldB, 'versionless mode: a newer synthetic version');
    assert.equal(latest(A.updates, 'b').version, latest(B.updates, 'b').version, 'one version for everyone');
    assert.equal(A.errors.length + B.errors.length, 0, JSON.stringify([...A.errors, ...B.errors]));
    A.c.disconnect();
    B.c.disconnect();
  });
}

t('untrack: the item leaves the union and its updates stop; an item tracked elsewhere stays', async () => {
  const ch = uniq('votes');
  votes.set(ch, new Map([['x', { votes: 1 }], ['y', { votes: 2 }]]));
  const A = await pollClient(ch, { user: '1' });
  const B = await pollClient(ch, { user: '2' });
  A.sub.track(['x', 'y']);
  B.sub.track(['y']);
  await untilData(A, 'x', 1);
  await untilData(A, 'y', 2);
  await untilData(B, 'y', 2);
  A.sub.untrack(['x', 'y']);
  await sleep(2 * INTERVAL);
  const n = backend.calls('/refresh').length;
  await waitUntil(() => backend.calls('/refresh').slice(n).some((r) => r.json?.channel === ch), { what: 'a cycle after untrack' });
  const last = backend.calls('/refresh').filter((r) => r.json?.channel === ch).pop();
  assert.deepEqual(keysOf(last), ['y'], 'x is no longer asked for; y is (B tracks it)');
  const nA = A.updates.length;
  votes.get(ch).set('y', { votes: 5 });
  await untilData(B, 'y', 5);
  await sleep(INTERVAL);
  assert.equal(A.updates.length, nA, 'A untracked y: no update for it');
  // the last tracker leaves: no more requests for the channel
  B.sub.untrack(['y']);
  await sleep(2 * INTERVAL);
  const m = backend.calls('/refresh').filter((r) => r.json?.channel === ch).length;
  await sleep(3 * INTERVAL);
  assert.equal(backend.calls('/refresh').filter((r) => r.json?.channel === ch).length, m, 'no tracked items: no polling');
  A.c.disconnect();
  B.c.disconnect();
});

t('refresh_batch_size: a cycle asks in batches of at most that many items, together covering the union', async () => {
  const ch = uniq('batch');
  votes.set(ch, new Map([['a', { votes: 1 }], ['b', { votes: 2 }], ['c', { votes: 3 }]]));
  const A = await pollClient(ch, { user: '1' });
  A.sub.track(['a', 'b', 'c']);
  await untilData(A, 'c', 3);
  await sleep(INTERVAL);
  const n = backend.calls('/refresh').length;
  await sleep(3 * INTERVAL);
  const reqs = backend.calls('/refresh').slice(n).filter((r) => r.json?.channel === ch);
  assert.ok(reqs.length >= 4, `two requests per cycle: ${reqs.length}`);
  for (const r of reqs) assert.ok(keysOf(r).length <= 2);
  const keys = new Set(reqs.flatMap(keysOf));
  assert.deepEqual([...keys].sort(), ['a', 'b', 'c']);
  A.c.disconnect();
});

t('versionless mode: an item left out by the backend twice is removed; reconnect replays versions without duplicates', async () => {
  const ch = uniq('votes');
  votes.set(ch, new Map([['p', { votes: 7 }], ['q', { votes: 8 }]]));
  const A = await pollClient(ch, { user: '1' });
  assert.ok(A.ctx.streamPosition === undefined);
  A.sub.track(['p', 'q']);
  await untilData(A, 'p', 7);
  await untilData(A, 'q', 8);
  const n = A.updates.length;

  // reconnect: the SDK replays its tracks with the versions it holds; nothing unchanged comes again
  const trackReplays = backend.calls('/refresh').length;
  dropTransport(A.c);
  await waitUntil(() => A.c.state === 'connected' && A.sub.state === 'subscribed', { what: 'reconnect' });
  await sleep(3 * INTERVAL);
  assert.equal(A.updates.length, n, `no duplicate updates after reconnect: ${JSON.stringify(A.updates.slice(n))}`);
  assert.ok(backend.calls('/refresh').length > trackReplays);
  // a change while offline arrives after the next reconnect
  dropTransport(A.c);
  votes.get(ch).set('p', { votes: 70 });
  await untilData(A, 'p', 70, 'the change made while offline');

  // the backend stops returning q: removed after max_consecutive_absences (2) cycles
  votes.get(ch).delete('q');
  await waitUntil(() => latest(A.updates, 'q')?.removed, { timeoutMs: 4000, what: 'q removed' });
  assert.ok(!A.sub.trackedKeys().has('q'));
  A.c.disconnect();
});

t('versioned mode: backend versions reach the client, unchanged items may be left out, a new epoch resubscribes', async () => {
  const ch = uniq('ver');
  versioned.clear();
  versioned.epoch = 'e1';
  versioned.set('k1', { data: { votes: 1 }, version: 5 });
  const A = await pollClient(ch, { user: '1' });
  A.sub.track(['k1']);
  await untilData(A, 'k1', 1);
  assert.equal(latest(A.updates, 'k1').version, 5, 'the backend version');
  const asked = backend.calls('/refresh-v').filter((r) => r.json?.channel === ch);
  await waitUntil(() => backend.calls('/refresh-v').filter((r) => r.json?.channel === ch && r.json.items[0]?.version === 5).length > 0, {
    what: 'a request carrying the held version',
  });
  assert.ok(asked.length >= 1);
  versioned.set('k1', { data: { votes: 2 }, version: 6 });
  await untilData(A, 'k1', 2);
  assert.equal(latest(A.updates, 'k1').version, 6);
  // the backend restarts with a new epoch and lower versions: subscribers start afresh
  versioned.epoch = 'e2';
  versioned.set('k1', { data: { votes: 3 }, version: 1 });
  await untilData(A, 'k1', 3, 'data of the new epoch');
  assert.equal(A.sub.state, 'subscribed');
  A.c.disconnect();
});

t('a backend that hangs or is down stalls only its own channel (timeout, logged) and recovers', async () => {
  const slow = uniq('slow');
  const fine = uniq('votes');
  votes.set(slow, new Map([['s', { votes: 1 }]]));
  votes.set(fine, new Map([['f', { votes: 1 }]]));
  const A = await pollClient(slow, { user: '1' });
  const B = await pollClient(fine, { user: '1' });
  A.sub.track(['s']);
  B.sub.track(['f']);
  await untilData(A, 's', 1);
  await untilData(B, 'f', 1);
  hang = true;
  votes.get(slow).set('s', { votes: 2 });
  for (let v = 2; v <= 4; v++) {
    votes.get(fine).set('f', { votes: v });
    await untilData(B, 'f', v, `the healthy channel keeps updating (${v})`);
  }
  assert.equal(latest(A.updates, 's').data.votes, 1, 'nothing from the hanging backend');
  await waitUntil(() => /shared poll refresh proxy .*refresh-slow.*(timeout|timed out)/i.test(server.logs()), {
    what: 'a log line for the timed-out refresh',
  });
  // down: the connection is cut without an answer
  hang = 'down';
  const logged = server.logs().length;
  votes.get(fine).set('f', { votes: 5 });
  await untilData(B, 'f', 5, 'the healthy channel keeps updating while the other backend is down');
  await waitUntil(() => /shared poll refresh proxy .*refresh-slow/.test(server.logs().slice(logged)), {
    what: 'a log line for the failed refresh',
  });
  assert.equal(latest(A.updates, 's').data.votes, 1, 'nothing from the backend that is down');
  hang = false;
  await untilData(A, 's', 2, 'the channel recovers with its backend');
  A.c.disconnect();
  B.c.disconnect();
});

t('Lua (the README script): the track hook refuses items, the shared_poll_refresh hook adds shares once per cycle', async () => {
  const ch = uniq('results');
  votes.set(ch, new Map([['m', { votes: 1 }], ['n', { votes: 3 }], ['hidden-1', { votes: 9 }]]));
  const A = await pollClient(ch, { user: '1' });
  const B = await pollClient(ch, { user: '2' });
  A.sub.track(['m', 'n']);
  B.sub.track(['n']);
  await waitUntil(() => latest(A.updates, 'm')?.data?.share === 25 && latest(A.updates, 'n')?.data?.share === 75, {
    what: 'the transformed items',
  });
  assert.deepEqual(latest(A.updates, 'm').data, { votes: 1, share: 25 });
  await waitUntil(() => latest(B.updates, 'n')?.data?.share === 75, { what: 'the same transformed item for B' });
  // the same share for everybody: computed from the whole answer, once per cycle
  votes.get(ch).set('m', { votes: 3 });
  await waitUntil(() => latest(A.updates, 'n')?.data?.share === 50 && latest(B.updates, 'n')?.data?.share === 50, {
    what: 'n falling to 50% for both',
  });
  A.sub.track(['hidden-1']);
  await waitUntil(() => A.errors.some((e) => e.type === 'track' && e.error?.code === 403), { what: 'the refused track' });
  await sleep(2 * INTERVAL);
  assert.equal(latest(A.updates, 'hidden-1')?.data ?? null, null, 'the refused item never delivers data');
  // a channel the script leaves alone (nil): the backend's bytes as they were
  const plain = uniq('votes');
  votes.set(plain, new Map([['z', { votes: 2 }]]));
  const C = await pollClient(plain, { user: '3' });
  C.sub.track(['z']);
  await untilData(C, 'z', 2);
  assert.deepEqual(latest(C.updates, 'z').data, { votes: 2 });
  A.c.disconnect();
  B.c.disconnect();
  C.c.disconnect();
});

// ---- bad inputs over a raw connection: the documented codes ----

async function rawPoll(ch, user = '7') {
  const raw = await rawSession(server, { token: jwt.connToken(server.config.client.token.hmac_secret_key, user) });
  const r = await rawCall(raw, { subscribe: { channel: ch, type: 4 } });
  assert.ok(r.subscribe, JSON.stringify(r));
  assert.match(r.subscribe.epoch, /^[0-9a-f]{16}$/, 'the subscribe reply carries the node epoch');
  return raw;
}

const track = (raw, ch, batches, extra = {}) => rawCall(raw, { sub_refresh: { channel: ch, type: 1, track: batches, ...extra } });
const signed = (user, ch, keys, opts) => ({ signature: sign(user, ch, keys, opts), items: keys.map((key) => ({ key })) });

t('bad inputs: too many tracked items (106), bad item shapes (107), bad or expired signatures (103, 109)', async () => {
  const ch = uniq('few');
  votes.set(ch, new Map([['k1', { v: 1 }]]));
  const raw = await rawPoll(ch);
  // a good track: {} or items, expires/ttl from the signature
  let r = await track(raw, ch, [signed('7', ch, ['k1', 'k2'])]);
  assert.ok(r.sub_refresh, JSON.stringify(r));
  assert.equal(r.sub_refresh.expires, true);
  assert.ok(r.sub_refresh.ttl > 3500 && r.sub_refresh.ttl <= 3600);
  // max_keys_per_connection 3: two more new keys is one too many
  r = await track(raw, ch, [signed('7', ch, ['k3', 'k4'])]);
  assert.deepEqual(r.error, { code: 106, message: 'limit exceeded' });
  // re-tracking held keys does not count again
  r = await track(raw, ch, [signed('7', ch, ['k1', 'k2', 'k3'])]);
  assert.ok(r.sub_refresh, JSON.stringify(r));
  // shapes
  r = await track(raw, ch, []);
  assert.equal(r.error?.code, 107, 'no batches');
  r = await track(raw, ch, [{ signature: sign('7', ch, []), items: [] }]);
  assert.equal(r.error?.code, 107, 'a batch without items');
  r = await track(raw, ch, [signed('7', ch, [''])]);
  assert.equal(r.error?.code, 107, 'an empty key');
  r = await track(raw, ch, [signed('7', ch, ['x'.repeat(513)])]);
  assert.equal(r.error?.code, 107, 'a key over 512 bytes');
  r = await rawCall(raw, { sub_refresh: { channel: ch, type: 2 } });
  assert.equal(r.error?.code, 107, 'untrack without keys');
  r = await rawCall(raw, { sub_refresh: { channel: ch, type: 9, untrack: ['k1'] } });
  assert.equal(r.error?.code, 107, 'an unknown type');
  // signatures
  r = await track(raw, ch, [{ signature: 'garbage', items: [{ key: 'k1' }] }]);
  assert.deepEqual(r.error, { code: 103, message: 'permission denied' });
  r = await track(raw, ch, [signed('someone-else', ch, ['k1'])]);
  assert.equal(r.error?.code, 103, 'signed for another user');
  r = await track(raw, ch, [{ signature: sign('7', ch, ['k2', 'k1']), items: [{ key: 'k1' }, { key: 'k2' }] }]);
  assert.equal(r.error?.code, 103, 'keys in another order than signed');
  r = await track(raw, ch, [signed('7', ch, ['k1'], { secret: 'wrong' })]);
  assert.equal(r.error?.code, 103, 'another key');
  const old = Math.floor(Date.now() / 1000) - 200;
  r = await track(raw, ch, [signed('7', ch, ['k1'], { iat: old, ttl: 100 })]);
  assert.deepEqual(r.error, { code: 109, message: 'token expired' }, 'expired past the 30 s grace');
  r = await track(raw, ch, [signed('7', ch, ['k1'], { iat: old, ttl: 180 })]);
  assert.ok(r.sub_refresh, 'expired 20 s ago: within the grace period');
  assert.equal(r.sub_refresh.ttl ?? 0, 0);
  // not subscribed / not a shared poll subscription
  r = await track(raw, 'votes:other', [signed('7', 'votes:other', ['k1'])]);
  assert.equal(r.error?.code, 103, 'not subscribed');
  r = await rawCall(raw, { subscribe: { channel: 'chat:room' } });
  assert.ok(r.subscribe);
  r = await track(raw, 'chat:room', [signed('7', 'chat:room', ['k1'])]);
  assert.equal(r.error?.code, 107, 'a stream subscription');
  r = await rawCall(raw, { subscribe: { channel: 'chat:x', type: 4 } });
  assert.equal(r.error?.code, 107, 'type 4 into a stream namespace');
  r = await rawCall(raw, { subscribe: { channel: uniq('votes') } });
  assert.equal(r.error?.code, 107, 'a stream subscribe into a shared poll namespace');
  // a malformed command is a bad request disconnect; the connection was fine until then
  assert.ok(raw.isOpen());
  raw.cmd({ sub_refresh: { channel: ch, type: 1, track: { items: 'no' } } });
  const closed = await raw.closed;
  assert.equal(closed.code, 3501);
});

t('data tracked elsewhere on the node comes in the track reply; untrack and disconnect clean up', async () => {
  const ch = uniq('votes');
  // payload bytes are kept: a big integer and a number's formatting survive
  const RAW = '{"n":12345678901234567890,"f":1.50}';
  votes.set(ch, new Map([['d', { raw: RAW }]]));
  const A = await pollClient(ch, { user: '1' });
  A.sub.track(['d']);
  await waitUntil(() => latest(A.updates, 'd'), { what: 'first data' });
  const raw = await rawPoll(ch);
  const r = await track(raw, ch, [signed('7', ch, ['d'])]);
  assert.equal(r.sub_refresh.items?.length, 1, JSON.stringify(r));
  assert.equal(r.sub_refresh.items[0].key, 'd');
  assert.ok(r.sub_refresh.items[0].version >= 1);
  assert.ok(raw.frames.items.some((f) => typeof f === 'string' && f.includes(`"data":${RAW}`)),
    'the backend\'s data bytes, unchanged, in the track reply');
  // held version: not sent again
  const again = await track(raw, ch, [{ signature: sign('7', ch, ['d']), items: [{ key: 'd', version: r.sub_refresh.items[0].version }] }]);
  assert.equal(again.sub_refresh.items, undefined);
  raw.close();
  A.c.disconnect();
  await sleep(2 * INTERVAL);
  const n = backend.calls('/refresh').filter((q) => q.json?.channel === ch).length;
  await sleep(3 * INTERVAL);
  assert.equal(backend.calls('/refresh').filter((q) => q.json?.channel === ch).length, n, 'everyone left: no polling');
});

test('config: a missing hmac key, an unknown proxy and keep_latest_data stop start-up with a clear message', async () => {
  const base = (sp, top) =>
    merge(defaultConfig(), {
      ...(top ? { shared_poll: top } : {}),
      channel: {
        proxy: { shared_poll_refresh: { endpoint: 'http://127.0.0.1:9/refresh' } },
        namespaces: [{ name: 'vv', subscription_type: 'shared_poll', shared_poll: sp }],
      },
    });
  await assert.rejects(startServer(base({}, null)), /hmac_secret_key/);
  await assert.rejects(startServer(base({ proxy_name: 'nope' }, { hmac_secret_key: 'k' })), /no proxy named "nope"/);
  await assert.rejects(startServer(base({ keep_latest_data: true }, { hmac_secret_key: 'k' })), /keep_latest_data.*PRO/);
});
