'use strict';
// Map channels on the Redis map broker: two Lucent nodes on one real redis-server. The server
// API writes on one node and reads on the other (map_publish / map_remove / map_read_state /
// map_read_stream / map_stats / map_clear), stream positions and epochs agree, versions,
// idempotency, stream_data, key_mode and max_keys are decided in Redis, a key's TTL expiry (the cleanup of either node) is seen on
// both; the official client subscribed on one node gets the snapshot and the live updates
// written through the other, catches up after a reconnect, and sees map_clients / map_users
// entries of connections on the other node come and go; clients subscribing one after another
// while the other node writes steadily end with exactly the written state, without resubscribing
// (a write delivered before a live reply is not lost); the start-up refusals of map_broker.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, defaultConfig, merge, assertCleanExit, binaryPath, makeTempDir } = require('./lib/server');
const { startRedis, startSentinel } = require('./lib/redis');
const { api, apiResult } = require('./lib/api');
const { waitUntil, sleep } = require('./lib/wait');
const jwt = require('./lib/jwt');
const { newClient, connected, valueOf } = require('./lib/client');
const { events, dropTransport } = require('./lib/chan');

const secret = 'map-redis-secret-0123456789';
const apiKey = 'map-redis-api-key';

function nodeConfig(address, prefix, extra = {}) {
  return merge(
    merge(defaultConfig({ secret, apiKey }), {
      engine: { type: 'redis', redis: { address, prefix, presence_ttl: '2s', io_timeout: '2s' } },
      map_broker: { redis: { cleanup_interval: '200ms' } },
      channel: {
        namespaces: [
          { name: 'board', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '300s', stream_size: 50, max_page_size: 3, max_keys: 5 } },
          { name: 'rank', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'persistent', ordered: true } },
          { name: 'short', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '1s', stream_size: 20 } },
          // subscribes under a steady write rate: small pages make walks of several reads
          { name: 'flow', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'ephemeral', key_ttl: '60s', min_page_size: 1 } },
          { name: 'flowd', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '60s', stream_size: 1000, min_page_size: 1 } },
          {
            name: 'game',
            subscription_type: 'map',
            allow_subscribe_for_client: true,
            map_clients_presence_channel_prefix: 'clients:',
            map_users_presence_channel_prefix: 'users:',
            map: { mode: 'ephemeral', key_ttl: '60s' },
          },
          { name: 'clients', subscription_type: 'map_clients', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '2s' } },
          { name: 'users', subscription_type: 'map_users', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '2s' } },
        ],
      },
    }),
    extra,
  );
}

let redis;
let prefix;
const nodes = [];

before(async () => {
  redis = await startRedis();
  prefix = `mr${Date.now()}`;
  for (let i = 0; i < 2; i++) nodes.push(await startServer(nodeConfig(redis.address, prefix)));
});

after(async () => {
  for (const n of nodes) if (!n.exited) await assertCleanExit(n);
  if (redis) await redis.stop();
});

const t = (name, fn) =>
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      let logs = '';
      for (const n of nodes) logs += `\n--- node ${n.port} ---\n${n.logs().slice(-4000)}`;
      if (err instanceof Error) err.message += logs;
      throw err;
    }
  });

const call = apiResult;

const keysOf = (entries) => entries.map((e) => e.key);

t('a write on one node is the state, stream and position of the other', async () => {
  const [a, b] = nodes;
  const ch = 'board:one';
  const w1 = await call(a, 'map_publish', { channel: ch, key: 'k1', data: { v: 1 } });
  const w2 = await call(b, 'map_publish', { channel: ch, key: 'k2', data: { v: 2 } });
  assert.equal(w1.offset, 1);
  assert.equal(w2.offset, 2);
  assert.equal(w1.epoch, w2.epoch);
  const st = await call(b, 'map_read_state', { channel: ch });
  assert.deepEqual(keysOf(st.entries), ['k1', 'k2']);
  assert.deepEqual(st.entries[0].data, { v: 1 });
  assert.equal(st.entries[0].offset, 1);
  assert.equal(st.offset, 2);
  assert.equal(st.epoch, w1.epoch);
  const rm = await call(a, 'map_remove', { channel: ch, key: 'k1' });
  assert.equal(rm.offset, 3);
  const stream = await call(b, 'map_read_stream', { channel: ch, since_offset: 0, since_epoch: w1.epoch });
  assert.deepEqual(
    stream.entries.map((e) => [e.offset, e.key, !!e.removed]),
    [
      [1, 'k1', false],
      [2, 'k2', false],
      [3, 'k1', true],
    ],
  );
  const stats = await call(a, 'map_stats', { channel: ch });
  assert.equal(stats.num_keys, 1);
  // a removal of a key that is not there changes nothing
  const again = await call(b, 'map_remove', { channel: ch, key: 'k1' });
  assert.equal(again.suppressed, true);
  assert.equal(again.suppress_reason, 'key_not_found');
  assert.equal(again.offset, 3);
});

t('pages with cursors, across nodes, by key and by score', async () => {
  const [a, b] = nodes;
  const ch = 'board:pages';
  for (const k of ['e', 'a', 'd', 'b', 'c']) await call(a, 'map_publish', { channel: ch, key: k, data: { k } });
  const got = [];
  let cursor = '';
  for (let i = 0; i < 5 && (i === 0 || cursor); i++) {
    const page = await call(i % 2 ? a : b, 'map_read_state', { channel: ch, limit: 2, cursor });
    assert.ok(page.entries.length <= 2);
    got.push(...keysOf(page.entries));
    cursor = page.cursor || '';
  }
  assert.deepEqual(got, ['a', 'b', 'c', 'd', 'e']);
  // not a cursor
  const bad = await api(b, 'map_read_state', { channel: ch, cursor: 'nope' });
  assert.ok(bad.body.error, bad.text);
  // one key
  const one = await call(b, 'map_read_state', { channel: ch, key: 'd' });
  assert.deepEqual(keysOf(one.entries), ['d']);

  const rk = 'rank:top';
  const scores = { x: 5, y: 9, z: 5, w: 1 };
  for (const [k, score] of Object.entries(scores)) await call(a, 'map_publish', { channel: rk, key: k, data: {}, score });
  const p1 = await call(b, 'map_read_state', { channel: rk, limit: 2 });
  assert.deepEqual(keysOf(p1.entries), ['y', 'x']);
  assert.ok(p1.cursor);
  const p2 = await call(a, 'map_read_state', { channel: rk, limit: 2, cursor: p1.cursor });
  assert.deepEqual(keysOf(p2.entries), ['z', 'w']);
  assert.ok(!p2.cursor);
});

t('versions, idempotent retries and stream_data across nodes', async () => {
  const [a, b] = nodes;
  const ch = 'board:extras';
  const v5 = await call(a, 'map_publish', { channel: ch, key: 'doc', data: { v: 5 }, version: 5, version_epoch: 'x' });
  assert.ok(!v5.suppressed);
  const stale = await call(b, 'map_publish', { channel: ch, key: 'doc', data: { v: 4 }, version: 4, version_epoch: 'x' });
  assert.deepEqual([stale.suppressed, stale.suppress_reason], [true, 'version']);
  const other = await call(b, 'map_publish', { channel: ch, key: 'doc', data: { v: 1 }, version: 1, version_epoch: 'y' });
  assert.ok(!other.suppressed);
  const first = await call(a, 'map_publish', { channel: ch, key: 'once', data: {}, idempotency_key: 'op-1' });
  const retry = await call(b, 'map_publish', { channel: ch, key: 'once', data: {}, idempotency_key: 'op-1' });
  assert.deepEqual([retry.suppressed, retry.suppress_reason, retry.offset, retry.epoch], [true, 'idempotency', first.offset, first.epoch]);
  const sd = await call(a, 'map_publish', { channel: ch, key: 'text', data: { whole: 'abc' }, stream_data: { append: 'c' } });
  const state = await call(b, 'map_read_state', { channel: ch, key: 'text' });
  assert.deepEqual(state.entries[0].data, { whole: 'abc' });
  const change = await call(b, 'map_read_stream', { channel: ch, since_offset: sd.offset - 1, since_epoch: sd.epoch });
  assert.deepEqual(change.entries[0].data, { append: 'c' });
});

t('key_mode and max_keys are decided in Redis', async () => {
  const [a, b] = nodes;
  const ch = 'board:modes';
  const n1 = await call(a, 'map_publish', { channel: ch, key: 'k', data: { v: 1 }, key_mode: 'if_new' });
  assert.ok(!n1.suppressed);
  const n2 = await call(b, 'map_publish', { channel: ch, key: 'k', data: { v: 2 }, key_mode: 'if_new' });
  assert.equal(n2.suppress_reason, 'key_exists');
  const e1 = await call(b, 'map_publish', { channel: ch, key: 'nope', data: {}, key_mode: 'if_exists' });
  assert.equal(e1.suppress_reason, 'key_not_found');
  for (let i = 0; i < 4; i++) await call(a, 'map_publish', { channel: ch, key: `f${i}`, data: {} });
  const full = await api(b, 'map_publish', { channel: ch, key: 'sixth', data: {} });
  assert.equal(full.body.error && full.body.error.code, 107, full.text);
  const st = await call(a, 'map_stats', { channel: ch });
  assert.equal(st.num_keys, 5);
});

t('a key TTL expiry is a removal seen on both nodes', async () => {
  const [a, b] = nodes;
  const ch = 'short:ttl';
  const w = await call(a, 'map_publish', { channel: ch, key: 'gone', data: { v: 1 } });
  await waitUntil(async () => (await call(b, 'map_stats', { channel: ch })).num_keys === 0, { timeoutMs: 5000, what: 'the key to expire' });
  const sa = await call(a, 'map_read_state', { channel: ch });
  assert.equal(sa.entries.length, 0);
  const stream = await call(b, 'map_read_stream', { channel: ch, since_offset: w.offset, since_epoch: w.epoch });
  assert.equal(stream.entries.length, 1);
  assert.equal(stream.entries[0].key, 'gone');
  assert.equal(stream.entries[0].removed, true);
  assert.equal(stream.entries[0].offset, w.offset + 1);
});

t('map_clear drops the channel on every node; the next write starts a new epoch', async () => {
  const [a, b] = nodes;
  const ch = 'board:clear';
  const w = await call(a, 'map_publish', { channel: ch, key: 'k', data: {} });
  await call(b, 'map_clear', { channel: ch });
  const st = await call(a, 'map_read_state', { channel: ch });
  assert.equal(st.entries.length, 0);
  assert.notEqual(st.epoch, w.epoch);
  const gone = await api(a, 'map_read_stream', { channel: ch, since_offset: w.offset, since_epoch: w.epoch });
  assert.ok(gone.body.error, gone.text);
});

async function mapMember(node, user, channel, kind = 'map') {
  const client = newClient(node, { token: jwt.connToken(secret, user) });
  await connected(client);
  const make = { map: 'newMapSubscription', clients: 'newMapClientsSubscription', users: 'newMapUsersSubscription' }[kind];
  const sub = client[make](channel, {});
  const m = { client, sub, syncs: events(sub, 'sync'), updates: events(sub, 'update'), subscribedQ: events(sub, 'subscribed') };
  sub.subscribe();
  return m;
}

const entriesOf = (sync) => Object.fromEntries(sync.entries.map((e) => [e.key, e.data === undefined ? null : valueOf(e.data)]));

t('a client on one node: snapshot, then live updates written through the other node', async () => {
  const [a, b] = nodes;
  const ch = 'board:live';
  await call(a, 'map_publish', { channel: ch, key: 'u1', data: { x: 1 } });
  await call(a, 'map_publish', { channel: ch, key: 'u2', data: { x: 2 } });
  const m = await mapMember(b, 'viewer', ch);
  try {
    assert.deepEqual(entriesOf(await m.syncs.next()), { u1: { x: 1 }, u2: { x: 2 } });
    await call(a, 'map_publish', { channel: ch, key: 'u1', data: { x: 10 } });
    const up = await m.updates.next();
    assert.deepEqual([up.key, valueOf(up.data)], ['u1', { x: 10 }]);
    await call(a, 'map_remove', { channel: ch, key: 'u2' });
    const rm = await m.updates.next();
    assert.deepEqual([rm.key, rm.removed], ['u2', true]);

    // reconnect: the changes made meanwhile through node A come as updates, no new sync
    await m.subscribedQ.next();
    const connecting = events(m.client, 'connecting');
    dropTransport(m.client);
    await connecting.next();
    await call(a, 'map_publish', { channel: ch, key: 'u3', data: { x: 3 } });
    await call(a, 'map_remove', { channel: ch, key: 'u1' });
    const again = await m.subscribedQ.next(8000);
    assert.equal(again.recovered, true);
    const u3 = await m.updates.next();
    assert.deepEqual([u3.key, valueOf(u3.data)], ['u3', { x: 3 }]);
    const u1 = await m.updates.next();
    assert.deepEqual([u1.key, u1.removed], ['u1', true]);
  } finally {
    m.client.disconnect();
  }
});

// A write that lands in Redis after a walk's read but reaches this node before the session
// is live must still reach it, after the subscribe reply (the SDK drops earlier ones): else an
// ephemeral map keeps a stale value or a removed key, and a durable one sees a gap and starts
// over (an unsubscribe 2500 and a new subscribe).
t('clients subscribing on one node while the other writes steadily end with the exact state, without resubscribing', async () => {
  const [a, b] = nodes;
  const chans = ['flow:steady', 'flowd:steady'];
  // each write adds the next key and removes the oldest, the first of the snapshot's pages:
  // a removal lost during a walk leaves a stale key for good
  const LIVE = 10;
  const key = (i) => `w${String(i).padStart(6, '0')}`;
  for (const ch of chans) for (let i = 0; i < LIVE; i++) await call(a, 'map_publish', { channel: ch, key: key(i), data: { n: i } });
  let stop = false;
  let writes = 0;
  const writer = (async () => {
    for (let i = LIVE; !stop; i++) {
      for (const ch of chans) {
        await call(a, 'map_publish', { channel: ch, key: key(i), data: { n: i } });
        await call(a, 'map_remove', { channel: ch, key: key(i - LIVE) });
        writes += 2;
      }
      await sleep(2);
    }
  })();
  const members = [];
  try {
    for (let i = 0; i < 12; i++) {
      for (const ch of chans) {
        const client = newClient(b, { token: jwt.connToken(secret, `s${i}`) });
        const m = { ch, client, state: new Map(), subscribing: 0, unsubscribed: [] };
        const sub = client.newMapSubscription(ch, { pageSize: 2 });
        sub.on('subscribing', () => m.subscribing++);
        sub.on('unsubscribed', (ctx) => m.unsubscribed.push(ctx.code));
        sub.on('sync', (ctx) => {
          m.state = new Map(ctx.entries.map((e) => [e.key, valueOf(e.data)]));
        });
        sub.on('update', (e) => {
          if (e.removed) m.state.delete(e.key);
          else m.state.set(e.key, valueOf(e.data));
        });
        const subscribed = events(sub, 'subscribed');
        client.connect();
        sub.subscribe();
        await subscribed.next(8000);
        members.push(m);
        await sleep(10);
      }
    }
  } finally {
    stop = true;
    await writer;
  }
  assert.ok(writes > 48, `only ${writes} writes while subscribing`);
  const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1)));
  const want = {};
  for (const ch of chans) {
    const st = await call(b, 'map_read_state', { channel: ch, limit: 100 });
    want[ch] = JSON.stringify(sorted(Object.fromEntries(st.entries.map((e) => [e.key, e.data]))));
  }
  const seen = (m) => JSON.stringify(sorted(Object.fromEntries(m.state)));
  // the last deliveries may still be on their way
  await waitUntil(() => members.every((m) => seen(m) === want[m.ch]), { timeoutMs: 3000, what: 'every client at the written state' }).catch(() => {});
  const problems = [];
  members.forEach((m, i) => {
    if (seen(m) !== want[m.ch]) problems.push(`client ${i} of ${m.ch}: ${seen(m)}, written ${want[m.ch]}`);
    // one subscribe each: no gap made it leave (2500) and start over
    if (m.subscribing !== 1) problems.push(`client ${i} of ${m.ch}: ${m.subscribing} subscribes (it left and started over; unsubscribed events: ${JSON.stringify(m.unsubscribed)})`);
  });
  assert.deepEqual(problems, [], `${writes} writes`);
  for (const m of members) m.client.disconnect();
});

t('map_clients and map_users entries of connections on another node come and go', async () => {
  const [a, b] = nodes;
  const game = 'game:2';
  const watchC = await mapMember(b, 'w', `clients:${game}`, 'clients');
  const watchU = await mapMember(b, 'w', `users:${game}`, 'users');
  try {
    assert.deepEqual((await watchC.syncs.next()).entries, []);
    assert.deepEqual((await watchU.syncs.next()).entries, []);
    const player = await mapMember(a, '42', game);
    await player.syncs.next();
    const clientId = player.client.lc.connectedCtx.client;
    const joined = await watchC.updates.next();
    assert.deepEqual([joined.key, joined.info.user], [clientId, '42']);
    assert.equal((await watchU.updates.next()).key, '42');
    // held by node A: the user entry outlives its 2s TTL while the connection stays
    await new Promise((r) => setTimeout(r, 3000));
    const users = await call(b, 'map_read_state', { channel: `users:${game}` });
    assert.deepEqual(keysOf(users.entries), ['42']);
    player.client.disconnect();
    const left = await watchC.updates.next();
    assert.deepEqual([left.key, left.removed], [clientId, true]);
    // the user entry goes key_ttl after its last connection left (node B's or A's cleanup)
    const gone = await watchU.updates.next(5000);
    assert.deepEqual([gone.key, gone.removed], ['42', true]);
  } finally {
    watchC.client.disconnect();
    watchU.client.disconnect();
  }
});

t('presence entries held by a SIGKILLed node expire key_ttl later', async () => {
  const b = nodes[1];
  const doomed = await startServer(nodeConfig(redis.address, prefix));
  const game = 'game:3';
  const watchC = await mapMember(b, 'w', `clients:${game}`, 'clients');
  const watchU = await mapMember(b, 'w', `users:${game}`, 'users');
  try {
    await watchC.syncs.next();
    await watchU.syncs.next();
    const player = await mapMember(doomed, '77', game);
    await player.syncs.next();
    assert.equal((await watchC.updates.next()).key, player.client.lc.connectedCtx.client);
    assert.equal((await watchU.updates.next()).key, '77');
    // refreshed past both TTLs (2s) while the node lives
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await call(b, 'map_stats', { channel: `clients:${game}` })).num_keys, 1);
    assert.equal((await call(b, 'map_stats', { channel: `users:${game}` })).num_keys, 1);
    doomed.process.kill('SIGKILL');
    await doomed.exitPromise;
    player.client.disconnect();
    const users = await watchU.updates.next(6000);
    assert.deepEqual([users.key, users.removed], ['77', true]);
    const clients = await watchC.updates.next(6000);
    assert.equal(clients.removed, true);
  } finally {
    watchC.client.disconnect();
    watchU.client.disconnect();
  }
});

test('with Sentinel a map write is acknowledged once the replica has it', { timeout: 30000 }, async () => {
  const primary = await startRedis();
  const replica = await startRedis({ replicaOf: primary.port });
  let sentinel = null;
  let node = null;
  try {
    await waitUntil(async () => /state=online/.test(await primary.cmd(['INFO', 'replication'])), { timeoutMs: 8000, what: 'replica in sync' });
    sentinel = await startSentinel(primary.port);
    const pre = `ms${Date.now()}`;
    const cfg = nodeConfig('', pre);
    cfg.engine.redis = { sentinel_address: [sentinel.address], sentinel_master_name: 'mymaster', prefix: pre, io_timeout: '2s' };
    node = await startServer(cfg);
    for (let i = 0; i < 5; i++) {
      const w = await call(node, 'map_publish', { channel: 'board:sn', key: `k${i}`, data: { i } });
      assert.equal(w.offset, i + 1);
      // acknowledged: the replica has the key's state already
      const kept = await replica.cmd(['HGET', `${pre}.map.state.board:sn`, `k${i}`]);
      assert.match(String(kept), new RegExp(`^${i + 1}:\\{"data":\\{"i":${i}\\}`));
    }
  } finally {
    if (node) await assertCleanExit(node);
    if (sentinel) await sentinel.stop();
    await replica.stop();
    await primary.stop();
  }
});

function checkConfig(config) {
  const dir = makeTempDir();
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(binaryPath(), ['checkconfig', '--config', file], { encoding: 'utf8', timeout: 10000 });
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

test('map_broker refusals at start-up', () => {
  const base = defaultConfig({ secret, apiKey });
  let r = checkConfig(merge(base, { map_broker: { type: 'redis' } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /map_broker redis needs engine.type redis/);
  const onRedis = merge(base, { engine: { type: 'redis', redis: { address: '127.0.0.1:6379' } } });
  r = checkConfig(merge(onRedis, { map_broker: { type: 'memory' } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /map channels would live on one node only/);
  r = checkConfig(merge(onRedis, { map_broker: { type: 'redis', redis: { address: '127.0.0.1:6380' } } }));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /127\.0\.0\.1:6380.*127\.0\.0\.1:6379/);
  r = checkConfig(merge(onRedis, { map_broker: { type: 'redis', redis: { address: '127.0.0.1:6379', cleanup_batch_size: 10 } } }));
  assert.equal(r.status, 0, r.stderr + r.stdout);
});
