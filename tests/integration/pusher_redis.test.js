'use strict';
// Pusher sessions on two Lucent nodes sharing a real redis-server (issue 14 point 4): one
// presence list for the channel whichever node a member is on (member_added only for a user's
// first connection anywhere, member_removed after the last), client events reaching the other
// node without coming back to the sender, and the server API's exclude_client with a socket_id
// honoured on the node that holds the socket.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit } = require('./lib/server');
const { startRedis } = require('./lib/redis');
const { api } = require('./lib/api');
const { waitUntil, sleep } = require('./lib/wait');
const P = require('./lib/pusher');

let redis;
let nodes = [];
let backend;
let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;

before(async () => {
  redis = await startRedis();
  const prefix = `pr${Date.now()}`;
  const cfg = merge(defaultConfig(), {
    engine: { type: 'redis', redis: { address: redis.address, prefix, presence_ttl: '3s' } },
    pusher: P.pusherSection(),
  });
  nodes = await Promise.all([startServer(cfg), startServer(cfg)]);
  backend = await P.startAuthBackend();
  await P.loadEcho();
});

after(async () => {
  P.closeAll();
  await backend.stop();
  for (const n of nodes) if (!n.exited) await assertCleanExit(n);
  await redis.stop();
});

const t = (name, fn) =>
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      for (const n of nodes) err.message += `\n--- node ${n.port} ---\n${n.logs().slice(-5000)}`;
      throw err;
    }
  });

/** Join a presence channel with Echo; resolves the here() list. */
const join = (echo, room) => new Promise((resolve) => echo.join(room).here(resolve));

t('one presence list across nodes: here, joining and leaving per user wherever the connections are', async () => {
  const [a, b] = nodes;
  const room = uniq('team.');
  const e1 = P.newEcho(a, { user: '1', backend });
  assert.deepEqual(await join(e1, room), [{ name: 'User 1' }]);
  const joins = [];
  const leaves = [];
  e1.join(room).joining((u) => joins.push(u)).leaving((u) => leaves.push(u));
  // user 2 on node B
  const e2 = P.newEcho(b, { user: '2', backend });
  const here2 = await join(e2, room);
  assert.deepEqual(here2.map((u) => u.name).sort(), ['User 1', 'User 2']);
  await waitUntil(() => joins.length === 1, { what: 'joining(User 2) across nodes' });
  // user 2 again, on node A: still one member, no joining
  const e2b = P.newEcho(a, { user: '2', backend });
  assert.equal((await join(e2b, room)).length, 2);
  await sleep(400);
  assert.equal(joins.length, 1);
  // the connection on B leaves: user 2 is still there through node A
  e2.leave(room);
  await sleep(400);
  assert.equal(leaves.length, 0, 'user 2 still has a connection on node A');
  e2b.leave(room);
  await waitUntil(() => leaves.length === 1, { what: 'leaving(User 2)' });
  assert.deepEqual(leaves[0], { name: 'User 2' });
});

t('a whisper from node A reaches node B, never the sender; exclude_client by socket_id holds across nodes', async () => {
  const [a, b] = nodes;
  const room = uniq('private-room.');
  const pa = P.newPusher(a, { user: '1', backend });
  const pb = P.newPusher(b, { user: '2', backend });
  const { ch: ca } = await P.subscribed(pa, room);
  const { ch: cb } = await P.subscribed(pb, room);
  const own = [];
  ca.bind('client-typing', (d) => own.push(d));
  await sleep(200); // both nodes' Redis subscriptions in place
  const got = P.nextEvent(cb, 'client-typing');
  ca.trigger('client-typing', { n: 1 });
  assert.deepEqual((await got).data, { n: 1 });
  await sleep(300);
  assert.equal(own.length, 0, 'the sender got its own whisper back');
  // toOthers(): published through node B excluding the socket on node A
  const seen = [];
  ca.bind('Ev', (d) => seen.push(d));
  const onB = P.nextEvent(cb, 'Ev');
  await api(b, 'publish', { channel: room, data: { n: 1 }, tags: { event: 'Ev' }, exclude_client: pa.connection.socket_id });
  await onB;
  await api(b, 'publish', { channel: room, data: { n: 2 }, tags: { event: 'Ev' } });
  await waitUntil(() => seen.length > 0, { what: 'the second publication on node A' });
  assert.deepEqual(seen[0], { n: 2 }, 'the excluded socket on node A got the first publication');
});
