'use strict';
// Presence and join/leave with the memory engine (spec §1.6 presence/presence_stats, §1.7
// join/leave pushes, §6.2 presence/join_leave/force_push_join_leave, §6.3 join_leave intent).

const assert = require('node:assert/strict');
const { defaultConfig, merge } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall } = require('./lib/client');
const { waitUntil, sleep } = require('./lib/wait');
const { sharedServer, events, assertErrorReply } = require('./lib/chan');

const ctx = sharedServer(() =>
  merge(defaultConfig(), {
    channel: {
      namespaces: [
        // join/leave on the subscriber's request (joinLeave option / join_leave flag)
        { name: 'room', allow_subscribe_for_client: true, presence: true, join_leave: true, allow_presence_for_subscriber: true },
        // join/leave to every subscriber
        {
          name: 'forced',
          allow_subscribe_for_client: true,
          presence: true,
          join_leave: true,
          force_push_join_leave: true,
          allow_presence_for_subscriber: true,
        },
        { name: 'noperm', allow_subscribe_for_client: true, presence: true, join_leave: true },
        { name: 'nopres', allow_subscribe_for_client: true, allow_presence_for_client: true },
        { name: 'anyone', allow_subscribe_for_client: true, presence: true, allow_presence_for_client: true },
      ],
    },
  }),
);
const { t } = ctx;
const names = { 1: 'Alice', 2: 'Bob', 3: 'Carol' };
const token = (user) => jwt.connToken(ctx.server.secret, user, { info: { name: names[user] ?? `user ${user}` } });

/** A connected centrifuge-js client of `user` subscribed to channel; subOpts are subscription options. */
async function member(user, channel, subOpts = {}) {
  const client = newClient(ctx.server, { token: token(user) });
  const cc = await connected(client);
  const sub = newSubscription(client, channel, subOpts);
  const joins = events(sub, 'join');
  const leaves = events(sub, 'leave');
  await subscribed(sub);
  return { client, sub, id: cc.client, joins, leaves };
}

/** The presence map of a channel as seen by a subscribed SDK subscription. */
async function presenceOf(sub) {
  const p = await sub.presence();
  return p.clients;
}

t('presence() lists both subscribers with user, client and conn_info; presenceStats() counts them', async () => {
  const ch = 'room:1';
  const a = await member('1', ch);
  const b = await member('2', ch);
  const clients = await presenceOf(a.sub);
  assert.deepEqual(Object.keys(clients).sort(), [a.id, b.id].sort());
  assert.equal(clients[a.id].user, '1');
  assert.equal(clients[a.id].client, a.id);
  assert.deepEqual(clients[a.id].conn_info, { name: 'Alice' });
  assert.equal(clients[b.id].user, '2');
  assert.equal(clients[b.id].client, b.id);
  assert.deepEqual(clients[b.id].conn_info, { name: 'Bob' });
  // the SDK mirrors conn_info as connInfo
  assert.deepEqual(clients[b.id].connInfo, { name: 'Bob' });

  const stats = await b.sub.presenceStats();
  assert.deepEqual(stats, { numClients: 2, numUsers: 2 });
});

t('raw presence and presence_stats: exact wire shapes; two connections of one user → num_clients 2, num_users 1', async () => {
  const ch = 'room:wire';
  const a = await rawSession(ctx.server, { token: token('1'), channels: [ch] });
  const b = await rawSession(ctx.server, { token: token('1'), channels: [ch] });
  const p = await rawCall(a, { presence: { channel: ch } });
  assert.deepEqual(p, {
    id: p.id,
    presence: {
      presence: {
        [a.client]: { user: '1', client: a.client, conn_info: { name: 'Alice' } },
        [b.client]: { user: '1', client: b.client, conn_info: { name: 'Alice' } },
      },
    },
  });
  const s = await rawCall(b, { presence_stats: { channel: ch } });
  assert.deepEqual(s, { id: s.id, presence_stats: { num_clients: 2, num_users: 1 } });
});

t('presence of a user without conn info: only user and client', async () => {
  const ch = 'room:noinfo';
  const a = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, '8'), channels: [ch] });
  const p = await rawCall(a, { presence: { channel: ch } });
  assert.deepEqual(p.presence, { presence: { [a.client]: { user: '8', client: a.client } } });
});

t('joinLeave option: join when another client subscribes, leave when it unsubscribes and when it disconnects', async () => {
  const ch = 'room:jl';
  const a = await member('1', ch, { joinLeave: true });
  const b = await member('2', ch);
  const join = await a.joins.take((j) => j.info.client === b.id, 5000, 'join of client b');
  assert.equal(join.channel, ch);
  assert.equal(join.info.user, '2');
  assert.deepEqual(join.info.connInfo, { name: 'Bob' });

  b.sub.unsubscribe();
  const leave = await a.leaves.take((l) => l.info.client === b.id, 5000, 'leave after unsubscribe');
  assert.equal(leave.info.user, '2');

  await subscribed(b.sub);
  await a.joins.take((j) => j.info.client === b.id, 5000, 'join after subscribing again');
  b.client.disconnect();
  const gone = await a.leaves.take((l) => l.info.client === b.id, 5000, 'leave after disconnect');
  assert.equal(gone.info.user, '2');

  // and presence no longer lists it
  await waitUntil(async () => Object.keys(await presenceOf(a.sub)).length === 1, {
    timeoutMs: 3000,
    what: 'presence without the disconnected client',
  });
  assert.deepEqual(Object.keys(await presenceOf(a.sub)), [a.id]);
});

t('join_leave namespace without force_push: a subscriber that did not ask gets no join/leave', async () => {
  const ch = 'room:quiet';
  const quiet = await member('3', ch);
  const b = await member('2', ch);
  b.client.disconnect();
  await waitUntil(async () => (await quiet.sub.presenceStats()).numClients === 1, {
    timeoutMs: 3000,
    what: 'the disconnected client to leave presence',
  });
  // pushes of one channel keep their order: the publication after the join and leave is the
  // barrier, anything before it has arrived when it has
  await publish(ctx.server, ch, { barrier: true });
  assert.deepEqual((await nextPublication(quiet.sub)).data, { barrier: true });
  assert.deepEqual(quiet.joins.pending(), []);
  assert.deepEqual(quiet.leaves.pending(), []);
});

t('force_push_join_leave: join and leave reach subscribers that did not ask for them', async () => {
  const ch = 'forced:1';
  const a = await member('1', ch);
  const b = await member('2', ch);
  const join = await a.joins.take((j) => j.info.client === b.id, 5000, 'forced join');
  assert.equal(join.info.user, '2');
  b.sub.unsubscribe();
  await a.leaves.take((l) => l.info.client === b.id, 5000, 'forced leave after unsubscribe');
  await subscribed(b.sub);
  await a.joins.take((j) => j.info.client === b.id, 5000, 'forced join again');
  b.client.disconnect();
  await a.leaves.take((l) => l.info.client === b.id, 5000, 'forced leave after disconnect');
});

t('raw join and leave pushes: exact shape', async () => {
  const ch = 'room:rawjl';
  const a = await rawSession(ctx.server, { token: token('1') });
  const r = await rawCall(a, { subscribe: { channel: ch, join_leave: true } });
  assert.ok(r.subscribe, JSON.stringify(r));
  const b = await rawSession(ctx.server, { token: token('2'), channels: [ch] });
  const join = await a.push((p) => p.join !== undefined && p.join.info.client === b.client, 5000, 'join push');
  assert.deepEqual(join, { push: { channel: ch, join: { info: { user: '2', client: b.client, conn_info: { name: 'Bob' } } } } });
  const u = await rawCall(b, { unsubscribe: { channel: ch } });
  assert.deepEqual(u, { id: u.id, unsubscribe: {} });
  const leave = await a.push((p) => p.leave !== undefined, 5000, 'leave push');
  assert.deepEqual(leave, { push: { channel: ch, leave: { info: { user: '2', client: b.client, conn_info: { name: 'Bob' } } } } });
});

t('leave is sent when the other connection drops without a close handshake', async () => {
  const ch = 'forced:drop';
  const a = await rawSession(ctx.server, { token: token('1'), channels: [ch] });
  const b = await rawSession(ctx.server, { token: token('2'), channels: [ch] });
  await a.push((p) => p.join !== undefined && p.join.info.client === b.client, 5000, 'join push');
  b.terminate();
  const leave = await a.push((p) => p.leave !== undefined, 5000, 'leave push after a dropped connection');
  assert.equal(leave.push.leave.info.client, b.client);
  const s = await rawCall(a, { presence_stats: { channel: ch } });
  assert.deepEqual(s.presence_stats, { num_clients: 1, num_users: 1 });
});

t('presence on an empty channel with allow_presence_for_client: {} and zero stats', async () => {
  const raw = await rawSession(ctx.server, { token: token('1') });
  const p = await rawCall(raw, { presence: { channel: 'anyone:empty' } });
  assert.deepEqual(p, { id: p.id, presence: { presence: {} } });
  const s = await rawCall(raw, { presence_stats: { channel: 'anyone:empty' } });
  assert.deepEqual(s, { id: s.id, presence_stats: { num_clients: 0, num_users: 0 } });
});

t('presence without permission → 103; presence off → 108; unknown namespace → 102; not subscribed → 103', async () => {
  const raw = await rawSession(ctx.server, { token: token('1'), channels: ['noperm:x', 'nopres:x'] });
  for (const cmd of ['presence', 'presence_stats']) {
    assertErrorReply(await rawCall(raw, { [cmd]: { channel: 'noperm:x' } }), 103, 'permission denied');
    assertErrorReply(await rawCall(raw, { [cmd]: { channel: 'nopres:x' } }), 108, 'not available');
    assertErrorReply(await rawCall(raw, { [cmd]: { channel: 'nope:x' } }), 102, 'unknown channel');
    // allow_presence_for_subscriber, but not subscribed
    assertErrorReply(await rawCall(raw, { [cmd]: { channel: 'room:other' } }), 103, 'permission denied');
  }
  assert.ok(raw.isOpen(), 'error replies must not close the connection');

  // the SDK rejects with the same codes
  const c = newClient(ctx.server, { token: token('1') });
  await connected(c);
  const sub = newSubscription(c, 'noperm:sdk');
  await subscribed(sub);
  await assert.rejects(sub.presence(), (err) => err.code === 103);
  await assert.rejects(sub.presenceStats(), (err) => err.code === 103);
  const off = newSubscription(c, 'nopres:sdk');
  await subscribed(off);
  await assert.rejects(off.presence(), (err) => err.code === 108);
});

t('join_leave requested without presence permission: subscribed, but no join pushes', async () => {
  const ch = 'noperm:jl';
  const a = await rawSession(ctx.server, { token: token('1') });
  const r = await rawCall(a, { subscribe: { channel: ch, join_leave: true } });
  assert.ok(r.subscribe, JSON.stringify(r));
  await rawSession(ctx.server, { token: token('2'), channels: [ch] });
  await publish(ctx.server, ch, { barrier: true });
  const next = await a.push((p) => p.channel === ch, 5000, 'the barrier publication');
  assert.deepEqual(next, { push: { channel: ch, pub: { data: { barrier: true } } } });
});

t('presence follows unsubscribe immediately', async () => {
  const ch = 'room:unsub';
  const a = await rawSession(ctx.server, { token: token('1'), channels: [ch] });
  const b = await rawSession(ctx.server, { token: token('2'), channels: [ch] });
  let s = await rawCall(a, { presence_stats: { channel: ch } });
  assert.deepEqual(s.presence_stats, { num_clients: 2, num_users: 2 });
  await rawCall(b, { unsubscribe: { channel: ch } });
  await sleep(50);
  s = await rawCall(a, { presence_stats: { channel: ch } });
  assert.deepEqual(s.presence_stats, { num_clients: 1, num_users: 1 });
});
