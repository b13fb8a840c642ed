'use strict';
// The Redis engine with several Lucent nodes on real redis-server processes: cross-node
// delivery with one Redis subscription per channel per node, history and recovery through
// another node, presence and join/leave across nodes, entries of a SIGKILLed node expiring,
// API session operations (refresh too; subscribe into history channels, positioned and
// recovering) and exclusion across nodes, fossil deltas across nodes, `info` and `channels`
// covering every node (a node stopped with SIGTERM leaving them at once), Redis restarts
// (clients kept, 503 health, publish errors while down, publishing resuming), a node stopped
// while a subscribe waits for Redis, two shards, and the configuration refusals.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, httpGet, binaryPath, makeTempDir, readJsonConfig, REPO_ROOT } = require('./lib/server');
const { startRedis, startSentinel } = require('./lib/redis');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { rawSession, rawCall, newClient, connected, newSubscription, subscribed, nextPublication } = require('./lib/client');
const { waitUntil, sleep, withTimeout } = require('./lib/wait');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const secret = 'redis-test-secret-0123456789';
const apiKey = 'redis-test-api-key';

function nodeConfig(addresses, prefix, extra = {}) {
  return merge(
    merge(defaultConfig({ secret, apiKey }), {
      engine: { type: 'redis', redis: { address: addresses, prefix, presence_ttl: '2s', io_timeout: '2s' } },
      // a connection whose expiry passes unrefreshed is closed a second later (refresh test)
      client: { expired_close_delay: '1s' },
      channel: {
        without_namespace: {
          allow_subscribe_for_client: true,
          allow_publish_for_subscriber: true,
          history_size: 50,
          history_ttl: '300s',
        },
        namespaces: [
          { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
          { name: 'pr', allow_subscribe_for_client: true, presence: true, join_leave: true, force_push_join_leave: true },
          { name: 'big', allow_subscribe_for_client: true, history_size: 5000, history_ttl: '300s' },
          { name: 'rec', allow_subscribe_for_client: true, history_size: 50, history_ttl: '300s', force_recovery: true },
          { name: 'dl', allow_subscribe_for_client: true, allowed_delta_types: ['fossil'], history_size: 10, history_ttl: '300s', force_recovery: true },
        ],
      },
    }),
    extra,
  );
}

const token = (user = '42') => jwt.connToken(secret, user);

let redis;
let nodes = [];
let prefix;

before(async () => {
  redis = await startRedis();
  prefix = `lt${Date.now()}`;
  nodes = await Promise.all([0, 1, 2].map(() => startServer(nodeConfig(redis.address, prefix))));
});

after(async () => {
  for (const n of nodes) if (!n.exited) await assertCleanExit(n);
  await redis.stop();
});

const t = (name, fn, opts = {}) =>
  test(name, opts, async () => {
    try {
      await fn();
    } catch (err) {
      let logs = '';
      for (const n of nodes) logs += `\n--- node ${n.port} ---\n${n.logs().slice(-6000)}`;
      logs += `\n--- redis ---\n${redis.logs().slice(-3000)}`;
      if (err instanceof Error) {
        err.message += logs;
        throw err;
      }
      throw new Error(JSON.stringify(err) + logs);
    }
  });

/** Wait until `node` has asked Redis for the channel (a subscription counted by PUBSUB). */
async function numsub(channel) {
  const r = await redis.cmd(['PUBSUB', 'NUMSUB', `${prefix}.client.${channel}`]);
  return Number(r[1]);
}

async function subscribedEverywhere(channel, n) {
  await waitUntil(async () => (await numsub(channel)) === n, { timeoutMs: 5000, what: `${n} node subscriptions to ${channel}` });
}

t('a publication through node B reaches subscribers on nodes A and C, byte for byte', async () => {
  const [a, b, c] = nodes;
  const onA = await rawSession(a, { token: token('1'), channels: ['x1'] });
  const onC = await rawSession(c, { token: token('2'), channels: ['x1'] });
  await subscribedEverywhere('x1', 2);
  const data = { text: 'héllo \u2603', n: [1, 2.5, { deep: null }] };
  const r = await api(b, 'publish', { channel: 'x1', data });
  assert.equal(r.status, 200);
  assert.equal(r.body.result.offset, 1);
  const ma = await onA.next();
  // not positioned: the hub gives the offset anyway (the memory engine does the same)
  const mc = await onC.next();
  assert.deepEqual(ma, { push: { channel: 'x1', pub: { data, offset: 1 } } });
  assert.deepEqual(mc, ma);
});

t('one Redis subscription per channel per node, whatever the number of local subscribers', async () => {
  const [a, b] = nodes;
  const sessions = [];
  for (let i = 0; i < 5; i++) sessions.push(await rawSession(a, { token: token(`u${i}`), channels: ['many'] }));
  await subscribedEverywhere('many', 1);
  sessions.push(await rawSession(b, { token: token('ub'), channels: ['many'] }));
  await subscribedEverywhere('many', 2);
  await publish(b, 'many', { k: 1 });
  for (const s of sessions) assert.deepEqual((await s.next()).push.pub.data, { k: 1 });
  // the last local subscriber leaving drops the node's subscription
  for (const s of sessions.slice(0, 5)) s.close();
  await subscribedEverywhere('many', 1);
});

t('client publish on node A reaches a client on node B with publisher info', async () => {
  const [a, b] = nodes;
  const pubr = await rawSession(a, { token: token('alice'), channels: ['chat:x'] });
  const recv = await rawSession(b, { token: token('bob'), channels: ['chat:x'] });
  await subscribedEverywhere('chat:x', 2);
  const reply = await rawCall(pubr, { publish: { channel: 'chat:x', data: { m: 'hi' } } });
  assert.ok(reply.publish, JSON.stringify(reply));
  const m = await recv.next();
  assert.deepEqual(m.push.pub.data, { m: 'hi' });
  assert.equal(m.push.pub.info.user, 'alice');
  assert.equal(m.push.pub.info.client, pubr.client);
});

t('history read through another node: same publications, offsets and epoch', async () => {
  const [a, b, c] = nodes;
  const res = [];
  for (let i = 1; i <= 4; i++) res.push((await api(a, 'publish', { channel: 'h1', data: { i } })).body.result);
  const epoch = res[0].epoch;
  assert.ok(epoch);
  assert.deepEqual(res.map((r) => r.offset), [1, 2, 3, 4]);
  for (const n of [b, c]) {
    const h = (await api(n, 'history', { channel: 'h1', limit: -1 })).body.result;
    assert.equal(h.epoch, epoch);
    assert.equal(h.offset, 4);
    assert.deepEqual(h.publications.map((p) => [p.offset, p.data.i]), [[1, 1], [2, 2], [3, 3], [4, 4]]);
  }
  const rev = (await api(b, 'history', { channel: 'h1', limit: 2, reverse: true })).body.result;
  assert.deepEqual(rev.publications.map((p) => p.offset), [4, 3]);
  const since = (await api(c, 'history', { channel: 'h1', limit: 10, since: { offset: 2, epoch } })).body.result;
  assert.deepEqual(since.publications.map((p) => p.offset), [3, 4]);
  const wrong = await api(c, 'history', { channel: 'h1', limit: 10, since: { offset: 2, epoch: 'nope' } });
  assert.equal(wrong.body.error.code, 112);
  // history_remove through one node keeps the position
  assert.deepEqual((await api(b, 'history_remove', { channel: 'h1' })).body, { result: {} });
  const after = (await api(a, 'history', { channel: 'h1', limit: -1 })).body.result;
  assert.equal(after.offset, 4);
  assert.equal(after.epoch, epoch);
  assert.equal((after.publications || []).length, 0);
});

t('idempotency_key: a repeat through any node answers the first result and publishes nothing', async () => {
  const [a, b] = nodes;
  const s = await rawSession(a, { token: token('idem'), channels: ['idem1', 'chat:idem'] });
  await subscribedEverywhere('idem1', 1);
  await subscribedEverywhere('chat:idem', 1);
  const first = (await api(a, 'publish', { channel: 'idem1', data: { n: 1 }, idempotency_key: 'k1' })).body.result;
  const again = (await api(b, 'publish', { channel: 'idem1', data: { n: 2 }, idempotency_key: 'k1' })).body.result;
  assert.deepEqual(again, first);
  const other = (await api(b, 'publish', { channel: 'idem1', data: { n: 3 }, idempotency_key: 'k2' })).body.result;
  assert.equal(other.offset, first.offset + 1);
  // without history: the first is delivered, the repeat is not
  await api(b, 'publish', { channel: 'chat:idem', data: { n: 4 }, idempotency_key: 'k3' });
  await api(a, 'publish', { channel: 'chat:idem', data: { n: 5 }, idempotency_key: 'k3' });
  await api(a, 'publish', { channel: 'chat:idem', data: { n: 6 } });
  const got = [];
  for (let i = 0; i < 4; i++) got.push((await s.next()).push.pub.data.n);
  assert.deepEqual(got.sort(), [1, 3, 4, 6]);
  const h = (await api(a, 'history', { channel: 'idem1', limit: -1 })).body.result;
  assert.deepEqual(h.publications.map((p) => p.data.n), [1, 3]);
});

t('a client that reconnects to another node recovers what it missed', async () => {
  const [a, b] = nodes;
  const first = await rawSession(a, { token: token('r1'), channels: [] });
  const sub = await rawCall(first, { subscribe: { channel: 'rec:one', recover: true } });
  assert.ok(sub.subscribe.recoverable);
  await subscribedEverywhere('rec:one', 1);
  await publish(b, 'rec:one', { n: 1 });
  const got = await first.next();
  const { offset } = got.push.pub;
  const epoch = sub.subscribe.epoch;
  first.close();
  await publish(a, 'rec:one', { n: 2 });
  await publish(b, 'rec:one', { n: 3 });
  const second = await rawSession(b, { token: token('r1'), channels: [] });
  const rec = await rawCall(second, { subscribe: { channel: 'rec:one', recover: true, offset, epoch } });
  assert.equal(rec.subscribe.recovered, true, JSON.stringify(rec));
  assert.equal(rec.subscribe.epoch, epoch);
  assert.deepEqual(rec.subscribe.publications.map((p) => p.data.n), [2, 3]);
});

t('presence and presence_stats are the same through every node; join and leave cross nodes', async () => {
  const [a, b, c] = nodes;
  const watcher = await rawSession(c, { token: token('w'), channels: ['pr:p1'] });
  const u1 = await rawSession(a, { token: token('pa'), channels: ['pr:p1'] });
  // (the watcher's own join comes first: join/leave is forced in this namespace)
  const join = await watcher.push((p) => p.join && p.join.info.user === 'pa');
  assert.equal(join.push.join.info.client, u1.client);
  const u2 = await rawSession(b, { token: token('pb'), channels: ['pr:p1'] });
  const join2 = await watcher.push((p) => p.join && p.join.info.user === 'pb');
  assert.equal(join2.push.join.info.client, u2.client);
  for (const n of nodes) {
    const p = (await api(n, 'presence', { channel: 'pr:p1' })).body.result.presence;
    assert.deepEqual(Object.keys(p).sort(), [watcher.client, u1.client, u2.client].sort());
    assert.equal(p[u1.client].user, 'pa');
    const st = (await api(n, 'presence_stats', { channel: 'pr:p1' })).body.result;
    assert.deepEqual(st, { num_clients: 3, num_users: 3 });
  }
  u1.close();
  const leave = await watcher.push((p) => p.leave);
  assert.equal(leave.push.leave.info.user, 'pa');
  const p = (await api(b, 'presence', { channel: 'pr:p1' })).body.result.presence;
  assert.deepEqual(Object.keys(p).sort(), [watcher.client, u2.client].sort());
});

t('API disconnect, unsubscribe and subscribe act on connections of any node', async () => {
  const [a, b] = nodes;
  const s = await rawSession(a, { token: token('target'), channels: ['ops1'] });
  await subscribedEverywhere('ops1', 1);
  assert.deepEqual((await api(b, 'subscribe', { user: 'target', channel: 'ops2' })).body, { result: {} });
  const pushed = await s.next();
  assert.equal(pushed.push.channel, 'ops2');
  assert.ok(pushed.push.subscribe, JSON.stringify(pushed));
  await subscribedEverywhere('ops2', 1);
  await publish(b, 'ops2', { via: 'b' });
  assert.deepEqual((await s.next()).push.pub.data, { via: 'b' });
  assert.deepEqual((await api(b, 'unsubscribe', { user: 'target', channel: 'ops1' })).body, { result: {} });
  const un = await s.next();
  assert.equal(un.push.channel, 'ops1');
  assert.equal(un.push.unsubscribe.code, 2000);
  assert.deepEqual((await api(b, 'disconnect', { user: 'target' })).body, { result: {} });
  const closed = await withTimeout(s.closed, 3000, 'disconnect through another node');
  assert.equal(closed.code, 3503);
});

t('API subscribe into a history channel through another node and the same node: positioned push, offsets, recovery', async () => {
  const [a, b, c] = nodes;
  const ch = `rec:api${Date.now()}`;
  const pre = [];
  for (let i = 1; i <= 3; i++) pre.push((await api(a, 'publish', { channel: ch, data: { i } })).body.result);
  const { epoch } = pre[0];
  const onA = await rawSession(a, { token: token('apisub') });
  const onB = await rawSession(b, { token: token('apisub') });
  // through node B: one connection on B itself, one on A (a control message there)
  assert.deepEqual((await api(b, 'subscribe', { user: 'apisub', channel: ch })).body, { result: {} });
  for (const s of [onA, onB]) {
    const p = await s.push((m) => m.subscribe !== undefined, 5000, 'subscribe push');
    assert.equal(p.push.channel, ch);
    const r = p.push.subscribe;
    assert.equal(r.positioned, true, JSON.stringify(p));
    assert.equal(r.recoverable, true, JSON.stringify(p));
    assert.equal(r.epoch, epoch);
    assert.equal(r.offset, 3);
  }
  // the subscribe push came once the node receives the channel: nothing published after it is missed
  await publish(c, ch, { i: 4 });
  for (const s of [onA, onB]) assert.deepEqual((await s.next()).push.pub, { data: { i: 4 }, offset: 4 });
  // a second subscribe of a subscribed connection sends nothing
  assert.deepEqual((await api(a, 'subscribe', { user: 'apisub', channel: ch })).body, { result: {} });
  await publish(a, ch, { i: 5 });
  for (const s of [onA, onB]) assert.deepEqual((await s.next()).push.pub, { data: { i: 5 }, offset: 5 });

  // the connection on A goes away and misses two; back on C, the backend subscribes it again
  // with recover_since, asked through node A
  onA.close();
  await publish(b, ch, { i: 6 });
  await publish(c, ch, { i: 7 });
  const back = await rawSession(c, { token: token('apisub2') });
  assert.deepEqual(
    (await api(a, 'subscribe', { user: 'apisub2', channel: ch, recover_since: { offset: 5, epoch } })).body,
    { result: {} },
  );
  const rp = (await back.push((m) => m.subscribe !== undefined, 5000, 'recovering subscribe push')).push.subscribe;
  assert.equal(rp.recovered, true, JSON.stringify(rp));
  assert.equal(rp.epoch, epoch);
  assert.deepEqual(rp.publications.map((p) => [p.offset, p.data.i]), [[6, 6], [7, 7]]);
  await publish(b, ch, { i: 8 });
  assert.deepEqual((await back.next()).push.pub, { data: { i: 8 }, offset: 8 });
  // the same node: the API call on C for the connection on C, with a stale epoch: not recovered
  const same = await rawSession(c, { token: token('apisub3') });
  await api(c, 'subscribe', { user: 'apisub3', channel: ch, recover_since: { offset: 2, epoch: 'stale' } });
  const sp = (await same.push((m) => m.subscribe !== undefined, 5000, 'same-node subscribe push')).push.subscribe;
  assert.ok(!sp.recovered, JSON.stringify(sp));
  assert.equal(sp.epoch, epoch);
  assert.equal(sp.offset, 8);
  await publish(a, ch, { i: 9 });
  assert.deepEqual((await same.next()).push.pub, { data: { i: 9 }, offset: 9 });
  assert.deepEqual((await back.next()).push.pub, { data: { i: 9 }, offset: 9 });
});

/** A 2 KB document of which one item changes per step. */
function documentAt(step) {
  const items = [];
  for (let i = 0; i < 40; i++) items.push({ id: i, name: `item-${i}`, value: i === step % 40 ? step : i * 7 });
  return { step, items };
}

t('fossil deltas across nodes: a subscriber on A decodes publications made on B and C', async () => {
  const [a, b, c] = nodes;
  const ch = `dl:doc${Date.now()}`;
  const cl = newClient(a, { token: token('delta1') });
  await connected(cl);
  const sub = newSubscription(cl, ch, { delta: 'fossil' });
  await subscribed(sub);
  assert.equal(sub._delta_negotiated, true, 'delta negotiated on the Redis engine');
  for (let step = 0; step < 20; step++) {
    const via = step % 2 ? c : b;
    const r = await api(via, 'publish', { channel: ch, data: documentAt(step), delta: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((await nextPublication(sub)).data, documentAt(step), `step ${step}`);
  }
  assert.equal(sub._deltaNumFull, 1);
  assert.equal(sub._deltaNumDelta, 19);
});

t('fossil deltas across nodes: a missed publication or a reconnect gets the next one whole', async () => {
  const [a, b, c] = nodes;
  const ch = `dl:raw${Date.now()}`;
  const raw = await rawSession(a, { token: token('delta2') });
  const rep = await rawCall(raw, { subscribe: { channel: ch, delta: 'fossil' } });
  assert.equal(rep.subscribe.delta, true, JSON.stringify(rep));
  const pubOf = async (s) => (await s.push((p) => p.pub)).push.pub;
  const text = (n) => ({ n, text: 'x'.repeat(200) });
  await api(b, 'publish', { channel: ch, data: text(1), delta: true });
  const p1 = await pubOf(raw);
  assert.equal(p1.delta, false);
  assert.deepEqual(JSON.parse(p1.data), text(1));
  await api(c, 'publish', { channel: ch, data: text(2), delta: true });
  const p2 = await pubOf(raw);
  assert.equal(p2.delta, true);
  assert.ok(p2.data.length < 40, p2.data);
  // excluded from offset 3 (made on B): offset 4 cannot be a delta against it
  await api(b, 'publish', { channel: ch, data: text(3), delta: true, exclude_client: raw.client });
  await api(c, 'publish', { channel: ch, data: text(4), delta: true });
  const p4 = await pubOf(raw);
  assert.equal(p4.offset, 4);
  assert.equal(p4.delta, false);
  assert.deepEqual(JSON.parse(p4.data), text(4));
  await api(b, 'publish', { channel: ch, data: text(5), delta: true });
  const p5 = await pubOf(raw);
  assert.equal(p5.delta, true);
  // back through node C after missing 6: recovered whole, then the first live one whole
  raw.close();
  await api(a, 'publish', { channel: ch, data: text(6), delta: true });
  const again = await rawSession(c, { token: token('delta2') });
  const rec = await rawCall(again, { subscribe: { channel: ch, delta: 'fossil', recover: true, offset: 5, epoch: rep.subscribe.epoch } });
  assert.equal(rec.subscribe.recovered, true, JSON.stringify(rec));
  assert.deepEqual(rec.subscribe.publications.map((p) => p.offset), [6]);
  await api(b, 'publish', { channel: ch, data: text(7), delta: true });
  const p7 = await pubOf(again);
  assert.equal(p7.delta, false);
  assert.deepEqual(JSON.parse(p7.data), text(7));
  await api(a, 'publish', { channel: ch, data: text(8), delta: true });
  assert.equal((await pubOf(again)).delta, true);
});

t('exclusion travels with the publication: exclude_client and exclude_user on another node', async () => {
  const [a, b] = nodes;
  const x = await rawSession(a, { token: token('ex1'), channels: ['exc'] });
  const y = await rawSession(a, { token: token('ex2'), channels: ['exc'] });
  const z = await rawSession(b, { token: token('ex3'), channels: ['exc'] });
  await subscribedEverywhere('exc', 2);
  await api(b, 'publish', { channel: 'exc', data: { n: 1 }, exclude_client: x.client });
  await api(b, 'publish', { channel: 'exc', data: { n: 2 }, exclude_user: 'ex2' });
  assert.deepEqual((await x.next()).push.pub.data, { n: 2 });
  assert.deepEqual((await y.next()).push.pub.data, { n: 1 });
  assert.deepEqual((await z.next()).push.pub.data, { n: 1 });
  assert.deepEqual((await z.next()).push.pub.data, { n: 2 });
  // nothing else arrives for x and y
  await assert.rejects(x.next(300));
  await assert.rejects(y.next(100));
});

t('info lists every node', async () => {
  for (const n of nodes) {
    await waitUntil(async () => (await api(n, 'info', {})).body.result.nodes.length === 3, {
      timeoutMs: 6000,
      what: `three nodes in the info of ${n.port}`,
    });
    const info = (await api(n, 'info', {})).body.result.nodes;
    assert.equal(new Set(info.map((x) => x.uid)).size, 3);
  }
});

t('channels lists the channels of every node, num_clients summed over nodes, pattern applied', async () => {
  const [a, b, c] = nodes;
  // every node knows the others (node info travels every 2 s)
  for (const n of nodes) {
    await waitUntil(async () => (await api(n, 'info', {})).body.result.nodes.length === 3, { timeoutMs: 6000, what: 'three nodes' });
  }
  const base = `cl${Date.now()}`;
  const open = [];
  open.push(await rawSession(a, { token: token('ca1'), channels: [`${base}.both`, `${base}.a`] }));
  open.push(await rawSession(a, { token: token('ca2'), channels: [`${base}.both`] }));
  open.push(await rawSession(b, { token: token('cb1'), channels: [`${base}.both`, `${base}.b`] }));
  open.push(await rawSession(c, { token: token('cc1'), channels: [`other${base}`] }));
  const want = {
    [`${base}.both`]: { num_clients: 3 },
    [`${base}.a`]: { num_clients: 1 },
    [`${base}.b`]: { num_clients: 1 },
  };
  // asked through each node, even one with none of these subscribers
  for (const n of nodes) {
    const r = await api(n, 'channels', { pattern: `${base}.*` });
    assert.deepEqual(r.body, { result: { channels: want } }, `through ${n.port}`);
  }
  // no pattern: every channel of every node, other tests' included
  const all = (await api(c, 'channels', {})).body.result.channels;
  for (const [ch, v] of Object.entries(want)) assert.deepEqual(all[ch], v);
  assert.deepEqual(all[`other${base}`], { num_clients: 1 });
  // a client leaving node B is counted out
  open[2].close();
  await waitUntil(async () => !(await api(a, 'channels', { pattern: `${base}.b` })).body.result.channels[`${base}.b`], {
    what: 'the channel of the closed client gone',
  });
  const r = await api(a, 'channels', { pattern: `${base}.both` });
  assert.deepEqual(r.body.result.channels, { [`${base}.both`]: { num_clients: 2 } });
  for (const s of open) s.close();
});

t('a node serving no HTTP API still runs other nodes\' operations and answers their channels survey', async () => {
  const quiet = await startServer(nodeConfig(redis.address, prefix, { http_api: { disabled: true } }));
  try {
    await waitUntil(async () => (await api(nodes[0], 'info', {})).body.result.nodes.length === 4, { timeoutMs: 6000, what: 'four nodes' });
    const ch = `quiet${Date.now()}`;
    const s = await rawSession(quiet, { token: token('quiet'), channels: [ch] });
    assert.deepEqual((await api(nodes[0], 'channels', { pattern: ch })).body, { result: { channels: { [ch]: { num_clients: 1 } } } });
    assert.deepEqual((await api(nodes[1], 'disconnect', { user: 'quiet' })).body, { result: {} });
    assert.equal((await withTimeout(s.closed, 3000, 'disconnect through another node')).code, 3503);
  } finally {
    await assertCleanExit(quiet);
  }
});

t('channels with a node that does not answer: error 100 after a bounded wait, not a partial list', async () => {
  const extra = await startServer(nodeConfig(redis.address, prefix));
  const uid = (await api(extra, 'info', {})).body.result.nodes[0].uid;
  await waitUntil(async () => (await api(nodes[0], 'info', {})).body.result.nodes.some((n) => n.uid === uid), {
    timeoutMs: 6000,
    what: 'the new node known',
  });
  extra.process.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    const r = await api(nodes[0], 'channels', {});
    const took = Date.now() - t0;
    assert.equal(r.body.error && r.body.error.code, 100, JSON.stringify(r.body));
    assert.ok(took >= 2500 && took < 6000, `answered after ${took} ms`);
  } finally {
    extra.process.kill('SIGKILL');
    await extra.exitPromise;
  }
  // once the dead node is forgotten, channels answers again
  await waitUntil(async () => !(await api(nodes[0], 'channels', {})).body.error, { timeoutMs: 12000, what: 'channels answered again' });
}, { timeout: 30000 });

t('a node stopped with SIGTERM leaves info and channels of the other nodes at once', async () => {
  const extra = await startServer(nodeConfig(redis.address, prefix));
  const uid = (await api(extra, 'info', {})).body.result.nodes[0].uid;
  for (const n of nodes) {
    await waitUntil(async () => (await api(n, 'info', {})).body.result.nodes.some((x) => x.uid === uid), {
      timeoutMs: 6000,
      what: 'the new node known',
    });
  }
  const ch = `leaving${Date.now()}`;
  const s = await rawSession(extra, { token: token('leaver'), channels: [ch] });
  assert.deepEqual((await api(nodes[0], 'channels', { pattern: ch })).body, { result: { channels: { [ch]: { num_clients: 1 } } } });
  await assertCleanExit(extra);
  await s.closed;
  // node info travels every 2 s and is forgotten 6 s after the last: without the goodbye the
  // node would still be listed here for 4 to 6 s
  const t0 = Date.now();
  for (const n of nodes) {
    await waitUntil(async () => !(await api(n, 'info', {})).body.result.nodes.some((x) => x.uid === uid), {
      timeoutMs: 3000,
      intervalMs: 50,
      what: `the stopped node gone from the info of ${n.port}`,
    });
  }
  const r = await api(nodes[1], 'channels', { pattern: ch });
  assert.deepEqual(r.body, { result: { channels: {} } });
  assert.ok(Date.now() - t0 < 3500, `took ${Date.now() - t0} ms`);
});

test('a node stopped while a subscribe waits for Redis answers it with 100 and exits cleanly', async () => {
  const own = await startRedis();
  const srv = await startServer(nodeConfig(own.address, `stop${Date.now()}`, { engine: { redis: { io_timeout: '10s' } } }));
  try {
    const raw = await rawSession(srv, { token: token('stopping') });
    // Redis frozen: the channel's SUBSCRIBE stays unanswered, the subscribe waits for it
    own.proc.child.kill('SIGSTOP');
    const id = raw.cmd({ subscribe: { channel: `frozen${Date.now()}` } });
    await sleep(300);
    const stopping = assertCleanExit(srv).then(() => null, (err) => err);
    const rep = await raw.reply(id, 5000).catch((err) => ({ noReply: String(err) }));
    const stopErr = await stopping;
    assert.equal(rep.error && rep.error.code, 100, JSON.stringify(rep));
    // exit 0 without a leak report: the waiting subscribe was answered, not dropped
    if (stopErr) throw stopErr;
  } finally {
    own.proc.child.kill('SIGCONT');
    if (!srv.exited) srv.process.kill('SIGKILL');
    await own.stop();
  }
});

t('API refresh through node B acts on a connection on node A: new expiry, closed at it with 3005', async () => {
  const [a, b, c] = nodes;
  const s = await rawSession(a, { token: token('refr') });
  const at = Math.floor(Date.now() / 1000) + 2;
  assert.deepEqual((await api(b, 'refresh', { user: 'refr', expire_at: at })).body, { result: {} });
  const rp = (await s.push((p) => p.refresh !== undefined, 3000, 'refresh push')).push;
  assert.equal(rp.refresh.expires, true, JSON.stringify(rp));
  assert.ok(rp.refresh.ttl >= 1 && rp.refresh.ttl <= 2, JSON.stringify(rp));
  assert.ok(s.isOpen(), 'open until the new expiry');
  const closed = await withTimeout(s.closed, 6000, 'connection closed at its new expiry');
  assert.equal(closed.code, 3005);
  // after the expiry plus client.expired_close_delay (1 s), not before
  assert.ok(Date.now() >= at * 1000 + 900, `closed ${at * 1000 + 1000 - Date.now()} ms early`);
  // expired: true, by client id, through a third node
  const s2 = await rawSession(a, { token: token('refr2') });
  assert.deepEqual((await api(c, 'refresh', { client: s2.client, expired: true })).body, { result: {} });
  assert.equal((await withTimeout(s2.closed, 3000, 'expired through node C')).code, 3005);
});

t('presence entries of a SIGKILLed node expire within presence_ttl', async () => {
  const extra = await startServer(nodeConfig(redis.address, prefix));
  const s = await rawSession(extra, { token: token('doomed'), channels: ['pr:pk'] });
  await waitUntil(async () => (await api(nodes[0], 'presence', { channel: 'pr:pk' })).body.result.presence[s.client], {
    what: 'the presence entry seen through another node',
  });
  // refreshed past presence_ttl while the node lives
  await sleep(2500);
  assert.ok((await api(nodes[0], 'presence', { channel: 'pr:pk' })).body.result.presence[s.client]);
  extra.process.kill('SIGKILL');
  await extra.exitPromise;
  await waitUntil(async () => !(await api(nodes[0], 'presence', { channel: 'pr:pk' })).body.result.presence[s.client], {
    timeoutMs: 4000,
    what: 'the dead node\'s presence entry to expire',
  });
});

t('Redis restart: clients stay, /health 503 and API publish errors while down, publishing resumes', async () => {
  const [a, b] = nodes;
  const s = await rawSession(a, { token: token('rs'), channels: ['rst'] });
  await subscribedEverywhere('rst', 1);
  // a positioned subscription too: it is told to recover once Redis is back
  const pos = await rawSession(a, { token: token('rs2'), channels: ['rec:rst'] });
  await publish(b, 'rst', { n: 1 });
  assert.equal((await s.next()).push.pub.data.n, 1);
  await redis.kill();
  await waitUntil(async () => (await httpGet(`${b.url}/health`)).status === 503, { timeoutMs: 4000, what: '503 health' });
  const r = await api(b, 'publish', { channel: 'rst', data: { n: 2 } });
  assert.ok(r.body.error, `publish while Redis is down must fail: ${JSON.stringify(r.body)}`);
  assert.ok(s.isOpen(), 'client connection kept');
  await redis.restart();
  const t0 = Date.now();
  await waitUntil(async () => (await httpGet(`${b.url}/health`)).status === 200 && (await httpGet(`${a.url}/health`)).status === 200, {
    timeoutMs: 5000,
    what: 'health back',
  });
  await waitUntil(async () => !(await api(b, 'publish', { channel: 'rst', data: { n: 3 } })).body.error, { timeoutMs: 5000, what: 'publish ok' });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 5000, `publishing resumed after ${elapsed} ms`);
  const un = await pos.push((p) => p.unsubscribe);
  assert.equal(un.push.unsubscribe.code, 2500, JSON.stringify(un));
  const again = await rawCall(pos, { subscribe: { channel: 'rec:rst', recover: true, offset: 0, epoch: 'gone' } });
  assert.ok(again.subscribe.was_recovering && !again.subscribe.recovered, JSON.stringify(again));
  // the node subscribed again by itself: the same connection gets publications again
  await subscribedEverywhere('rst', 1);
  await publish(b, 'rst', { n: 4 });
  let m = await s.next();
  if (m.push.pub.data.n === 3) m = await s.next();
  assert.equal(m.push.pub.data.n, 4);
}, { timeout: 30000 });

test('two Redis shards: channels spread over both, delivered and kept on their own shard', async () => {
  const r1 = await startRedis();
  const r2 = await startRedis();
  const pre = `sh${Date.now()}`;
  const cfg = nodeConfig([r1.address, r2.address], pre);
  const a = await startServer(cfg);
  const b = await startServer(cfg);
  try {
    const channels = Array.from({ length: 12 }, (_, i) => `shard${i}`);
    const subs = await rawSession(a, { token: token('s'), channels });
    for (const ch of channels) {
      await waitUntil(
        async () => {
          const n1 = Number((await r1.cmd(['PUBSUB', 'NUMSUB', `${pre}.client.${ch}`]))[1]);
          const n2 = Number((await r2.cmd(['PUBSUB', 'NUMSUB', `${pre}.client.${ch}`]))[1]);
          return n1 + n2 === 1;
        },
        { what: `one shard subscription for ${ch}` },
      );
    }
    for (const ch of channels) await publish(b, ch, { ch });
    const got = new Set();
    for (let i = 0; i < channels.length; i++) got.add((await subs.next()).push.pub.data.ch);
    assert.equal(got.size, channels.length);
    const k1 = Number(await r1.cmd(['DBSIZE']));
    const k2 = Number(await r2.cmd(['DBSIZE']));
    assert.ok(k1 > 0 && k2 > 0, `both shards hold streams (${k1}, ${k2})`);
    for (const ch of channels) {
      const h = (await api(a, 'history', { channel: ch, limit: -1 })).body.result;
      assert.equal(h.publications.length, 1);
    }
  } catch (err) {
    err.message += `\n--- a ---\n${a.logs().slice(-5000)}\n--- b ---\n${b.logs().slice(-5000)}`;
    throw err;
  } finally {
    await assertCleanExit(a);
    await assertCleanExit(b);
    await r1.stop();
    await r2.stop();
  }
});

test('Sentinel failover under a publish loop: no acknowledged publication is lost', { timeout: 40000 }, async () => {
  const primary = await startRedis();
  const replica = await startRedis({ replicaOf: primary.port });
  await waitUntil(async () => /state=online/.test(await primary.cmd(['INFO', 'replication'])), {
    timeoutMs: 8000,
    what: 'replica in sync',
  });
  const sentinel = await startSentinel(primary.port);
  await waitUntil(async () => (await sentinel.cmd(['SENTINEL', 'REPLICAS', 'mymaster'])).length > 0, {
    timeoutMs: 8000,
    what: 'sentinel sees the replica',
  });
  const pre = `sn${Date.now()}`;
  const cfg = nodeConfig([], pre);
  cfg.engine.redis = { sentinel_address: [sentinel.address], sentinel_master_name: 'mymaster', prefix: pre, io_timeout: '2s' };
  const a = await startServer(cfg);
  const acked = [];
  let failed = 0;
  let stop = false;
  let n = 0;
  try {
    const loop = (async () => {
      while (!stop) {
        n++;
        const r = await api(a, 'publish', { channel: 'big:fo', data: { n } }).catch(() => null);
        if (r && r.body && r.body.result) acked.push({ n, offset: r.body.result.offset, epoch: r.body.result.epoch });
        else failed++;
        await sleep(10);
      }
    })();
    await waitUntil(() => acked.length >= 20, { what: 'publications before the failover' });
    const before = acked.length;
    assert.equal(String(await sentinel.cmd(['SENTINEL', 'FAILOVER', 'mymaster'])), 'OK');
    await waitUntil(async () => (await sentinel.cmd(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster']))[1] === String(replica.port), {
      timeoutMs: 15000,
      what: 'the replica promoted',
    });
    // publishing resumes on the new primary
    await waitUntil(() => acked.length >= before + 40, { timeoutMs: 15000, what: 'publications after the failover' });
    stop = true;
    await loop;
    const h = (await api(a, 'history', { channel: 'big:fo', limit: -1 })).body.result;
    const kept = new Set(h.publications.map((p) => p.data.n));
    const lost = acked.filter((x) => !kept.has(x.n));
    assert.deepEqual(lost, [], `acknowledged but lost (of ${acked.length}, ${failed} refused)`);
    // every acknowledged offset is where history says
    const byN = new Map(h.publications.map((p) => [p.data.n, p.offset]));
    for (const x of acked) assert.equal(byN.get(x.n), x.offset);
    assert.equal(new Set(acked.map((x) => x.epoch)).size, 1, 'the epoch survived the failover');
    // the node heard Sentinel's +switch-master itself
    assert.match(a.logs(), /Sentinel switched the primary \(mymaster /);
  } catch (err) {
    err.message += `\n--- node ---\n${a.logs().slice(-6000)}\n--- sentinel ---\n${sentinel.logs().slice(-3000)}`;
    throw err;
  } finally {
    stop = true;
    await assertCleanExit(a);
    await sentinel.stop();
    await primary.stop();
    await replica.stop();
  }
});

test('examples/two-nodes.json as shipped: two nodes share deliveries and history', async () => {
  const r = await startRedis();
  const cfg = readJsonConfig(path.join(REPO_ROOT, 'examples', 'two-nodes.json'));
  cfg.engine.redis.address = `redis://${r.address}`;
  cfg.client.token.hmac_secret_key = secret;
  cfg.client.allowed_origins = [];
  cfg.http_api.key = apiKey;
  const a = await startServer(cfg);
  const b = await startServer(cfg);
  try {
    const onA = await rawSession(a, { token: token('ann'), channels: ['news'] });
    await waitUntil(async () => Number((await r.cmd(['PUBSUB', 'NUMSUB', 'lucent.client.news']))[1]) === 1, { what: 'node A subscribed' });
    await api(b, 'publish', { channel: 'news', data: { hi: 1 } });
    assert.deepEqual((await onA.next()).push.pub, { data: { hi: 1 } });
    const res = (await api(a, 'publish', { channel: 'chat:lobby', data: { m: 1 } })).body.result;
    assert.equal(res.offset, 1);
    const h = (await api(b, 'history', { channel: 'chat:lobby', limit: 10 })).body.result;
    assert.equal(h.epoch, res.epoch);
    assert.deepEqual(h.publications, [{ data: { m: 1 }, offset: 1 }]);
  } finally {
    await assertCleanExit(a);
    await assertCleanExit(b);
    await r.stop();
  }
});

test('config: cluster_address, history_use_lists and Redis TLS stop start-up with a clear message', () => {
  const dir = makeTempDir();
  const cases = [
    [{ engine: { type: 'redis', redis: { cluster_address: ['127.0.0.1:7000'] } } }, /cluster_address: Redis Cluster is not supported yet/],
    [{ engine: { type: 'redis', redis: { history_use_lists: true } } }, /history_use_lists: not supported yet/],
    [{ engine: { type: 'redis', redis: { tls: { enabled: true } } } }, /TLS to Redis is not supported yet/],
    [{ redis_cluster_address: '127.0.0.1:7000', engine: 'redis' }, /not supported yet/],
    [{ broker: { enabled: true, type: 'redis' } }, /separate broker is not supported/],
  ];
  for (const [cfg, re] of cases) {
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const r = spawnSync(binaryPath(), ['-c', file], { encoding: 'utf8', timeout: 5000 });
    assert.notEqual(r.status, 0, `${JSON.stringify(cfg)} must not start`);
    assert.match(r.stdout + r.stderr, re);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
