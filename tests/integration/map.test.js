'use strict';
// Map subscriptions (Centrifugo v6.8 "Map subscriptions") on the memory engine, with the
// official client's newMapSubscription / newMapClientsSubscription / newMapUsersSubscription
// in JSON and Protobuf, and raw frames for the wire shapes and the bad inputs: snapshot pages
// then live per-key updates, catch-up after a reconnect, key TTL expiry, map_clients and
// map_users presence entries following connections, the server API, client writes through a
// Lua publish hook that sees the key, and the documented error codes.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { defaultConfig, merge, startServer, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, apiResult } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, rawSession, rawCall, payload, valueOf } = require('./lib/client');
const { waitUntil } = require('./lib/wait');
const { events, dropTransport, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

// Cursor sharing: a client may write only the key of its own user (the Lua publish hook sees
// ctx.key); everyone else's cursor is read-only to it.
const SCRIPT = `
return {
    publish = function(ctx)
        if ctx.key ~= nil and ctx.channel:sub(1, 8) == "cursors:" and ctx.key ~= ctx.user then
            return lucent.error(103, "only your own cursor")
        end
        return nil
    end,
    subscribe = function(ctx)
        -- ctx.type names the map subscription type: user presence is not for "spy"
        if ctx.type == "map_users" and ctx.user == "spy" then
            return false
        end
        return nil
    end,
}
`;

const box = { server: null, backend: null };
before(async () => {
  // the map publish / remove proxy: sees the key, may replace the data or refuse
  box.backend = await startBackend({
    '/map': (r) =>
      r.json.key === 'locked' ? { json: { error: { code: 1403, message: 'locked' } } } : { json: { result: r.json.removed ? {} : { data: { by: 'proxy', got: r.json.data } } } },
  });
  const config = merge(defaultConfig(), {
    lua: { script: 'hooks.lua' },
    proxies: [{ name: 'backend', endpoint: box.backend.url('/map'), timeout: '3s' }],
    channel: {
      namespaces: [
        {
          name: 'cursors',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          publication_data_format: 'json_object',
          map: { mode: 'ephemeral', key_ttl: '60s', allow_publish_for_subscriber: true, allow_remove_for_subscriber: true },
        },
        {
          name: 'board',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          map: { mode: 'durable', key_ttl: '300s', min_page_size: 2, default_page_size: 2, max_page_size: 3, stream_size: 50 },
        },
        { name: 'short', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'ephemeral', key_ttl: '1s' } },
        {
          name: 'tiny',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          map: { mode: 'persistent', allow_publish_for_client: true, max_keys: 3, max_key_length: 16, client_key: '' },
        },
        {
          name: 'game',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          map_clients_presence_channel_prefix: 'clients:',
          map_users_presence_channel_prefix: 'users:',
          map: { mode: 'ephemeral', key_ttl: '60s' },
        },
        { name: 'clients', subscription_type: 'map_clients', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '60s' } },
        { name: 'users', subscription_type: 'map_users', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '1s' } },
        { name: 'news', allow_subscribe_for_client: true },
        // a stream namespace with map presence: its subscribers appear in clients:lobby:…
        { name: 'lobby', allow_subscribe_for_client: true, map_clients_presence_channel_prefix: 'clients:' },
        // private map channels ($secret:…): a subscription token grants, with its expiry and info
        { name: 'secret', subscription_type: 'map', map: { mode: 'durable', key_ttl: '60s', min_page_size: 2, default_page_size: 2 } },
        {
          name: 'pins',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          map: { mode: 'durable', key_ttl: '60s', publish_proxy_enabled: true, publish_proxy_name: 'backend', remove_proxy_enabled: true, remove_proxy_name: 'backend' },
        },
        {
          name: 'typing',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          client_publish_debounce_interval: '50ms',
          map: { mode: 'ephemeral', key_ttl: '10s', client_key: 'client_id', remove_client_on_unsubscribe: true, allow_publish_for_subscriber: true },
        },
      ],
    },
  });
  box.server = await startServer(config, { files: { 'hooks.lua': SCRIPT } });
});
after(async () => {
  if (box.server) await assertCleanExit(box.server);
});
const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));
const token = (user) => jwt.connToken(box.server.secret, user);

const mapPublish = (channel, key, data, extra = {}) => apiResult(box.server, 'map_publish', { channel, key, data, ...extra });

async function mapRemove(channel, key) {
  const r = await api(box.server, 'map_remove', { channel, key });
  assert.ok(r.body.result, r.text);
  return r.body.result;
}

/** A connected SDK client of user with a map subscription of kind (map, clients, users). */
async function mapMember(user, channel, { kind = 'map', encoding, subOpts = {} } = {}) {
  const client = newClient(box.server, { token: token(user), encoding });
  await connected(client);
  const make = { map: 'newMapSubscription', clients: 'newMapClientsSubscription', users: 'newMapUsersSubscription' }[kind];
  const sub = client[make](channel, subOpts);
  const syncs = events(sub, 'sync');
  const updates = events(sub, 'update');
  const subscribedQ = events(sub, 'subscribed');
  sub.subscribe();
  return { client, sub, syncs, updates, subscribedQ };
}

const entriesOf = (sync) =>
  Object.fromEntries(sync.entries.map((e) => [e.key, e.data === undefined ? null : valueOf(e.data)]));

for (const encoding of ['json', 'protobuf']) {
  t(`${encoding}: snapshot on subscribe, then live updates and removals with their keys`, async () => {
    const ch = `cursors:${encoding}`;
    await mapPublish(ch, 'u1', { x: 1, y: 2 });
    await mapPublish(ch, 'u2', { x: 3, y: 4 });
    const m = await mapMember('u9', ch, { encoding });
    const sync = await m.syncs.next();
    assert.deepEqual(entriesOf(sync), { u1: { x: 1, y: 2 }, u2: { x: 3, y: 4 } });

    await mapPublish(ch, 'u1', { x: 10, y: 20 });
    const up = await m.updates.next();
    assert.equal(up.key, 'u1');
    assert.deepEqual(valueOf(up.data), { x: 10, y: 20 });
    assert.ok(!up.removed);

    await mapRemove(ch, 'u2');
    const rm = await m.updates.next();
    assert.equal(rm.key, 'u2');
    assert.equal(rm.removed, true);

    // a subscriber writes its own key (the Lua hook allows ctx.key == ctx.user) and reads back
    await m.sub.publish('u9', payload({ x: 5, y: 6 }, encoding));
    const own = await m.updates.next();
    assert.equal(own.key, 'u9');
    assert.deepEqual(valueOf(own.data), { x: 5, y: 6 });
    assert.equal(own.info.user, 'u9');
    // another user's key: the hook refuses with 103
    await assert.rejects(m.sub.publish('u1', payload({ x: 0, y: 0 }, encoding)), (e) => e.code === 103);
    await m.sub.remove('u9');
    assert.equal((await m.updates.next()).removed, true);
  });
}

t('snapshot pages: cursor and limit on the wire, frozen offset, last page goes live', async () => {
  const ch = 'board:pages';
  for (const k of ['a', 'b', 'c', 'd', 'e']) await mapPublish(ch, k, { v: k });
  const raw = await rawSession(box.server, { token: token('p1') });
  const p1 = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2, limit: 2 } });
  assert.ok(p1.subscribe, JSON.stringify(p1));
  assert.equal(p1.subscribe.type, 1);
  assert.equal(p1.subscribe.phase, 2);
  assert.deepEqual(p1.subscribe.state.map((e) => e.key), ['a', 'b']);
  assert.deepEqual(p1.subscribe.state[0].data, { v: 'a' });
  assert.equal(p1.subscribe.offset, 5);
  const epoch = p1.subscribe.epoch;
  assert.ok(epoch);
  // a write between pages: later pages leave the changed key out, the catch-up brings it
  await mapPublish(ch, 'e', { v: 'E' });
  const p2 = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2, limit: 2, cursor: p1.subscribe.cursor, offset: 5, epoch } });
  assert.deepEqual(p2.subscribe.state.map((e) => e.key), ['c', 'd']);
  assert.ok(!p2.subscribe.cursor, 'e left out, so that was the last page');
  // not within one page of the top (5 + 2 >= 6): the last page went live with the catch-up
  assert.ok(!p2.subscribe.phase, 'phase 0 = live');
  assert.equal(p2.subscribe.recoverable, true);
  assert.deepEqual(p2.subscribe.publications.map((p) => [p.key, p.offset]), [['e', 6]]);
  assert.equal(p2.subscribe.offset, 6);

  // the SDK with page size 2 builds the same state
  const m = await mapMember('p2', ch, { subOpts: { pageSize: 2 } });
  assert.deepEqual(entriesOf(await m.syncs.next()), { a: { v: 'a' }, b: { v: 'b' }, c: { v: 'c' }, d: { v: 'd' }, e: { v: 'E' } });
});

t('reconnect: a durable map catches up from its position (updates, no new sync)', async () => {
  const ch = 'board:recover';
  await mapPublish(ch, 'k1', { n: 1 });
  const m = await mapMember('r1', ch);
  assert.deepEqual(entriesOf(await m.syncs.next()), { k1: { n: 1 } });
  const first = await m.subscribedQ.next();
  assert.equal(first.recoverable, true);

  const disconnected = events(m.client, 'disconnected');
  const connecting = events(m.client, 'connecting');
  dropTransport(m.client);
  await connecting.next();
  await mapPublish(ch, 'k2', { n: 2 });
  await mapRemove(ch, 'k1');
  const again = await m.subscribedQ.next(8000);
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, true);
  const u1 = await m.updates.next();
  const u2 = await m.updates.next();
  assert.deepEqual([u1.key, valueOf(u1.data)], ['k2', { n: 2 }]);
  assert.deepEqual([u2.key, u2.removed], ['k1', true]);
  assert.equal(m.syncs.pending().length, 0, 'a recovered subscription gets no new snapshot');
  assert.equal(disconnected.pending().length, 0, 'the SDK reconnected on its own');
});

t('key TTL: an entry not written again expires, subscribers see its removal', async () => {
  const ch = 'short:ttl';
  const m = await mapMember('t1', ch);
  await m.syncs.next();
  const started = Date.now();
  await mapPublish(ch, 'blink', { on: true });
  assert.equal((await m.updates.next()).key, 'blink');
  const gone = await m.updates.next(4000);
  assert.deepEqual([gone.key, gone.removed], ['blink', true]);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3000, `expired after ${took} ms (key_ttl 1s)`);
  const state = await api(box.server, 'map_read_state', { channel: ch });
  assert.deepEqual(state.body.result.entries, []);
});

t('map_clients and map_users: entries appear and leave with connections', async () => {
  const game = 'game:1';
  const watchC = await mapMember('w', `clients:${game}`, { kind: 'clients' });
  const watchU = await mapMember('w', `users:${game}`, { kind: 'users' });
  assert.deepEqual((await watchC.syncs.next()).entries, []);
  assert.deepEqual((await watchU.syncs.next()).entries, []);

  const player = await mapMember('42', game);
  await player.syncs.next();
  const clientId = player.client.lc.connectedCtx.client;
  const joined = await watchC.updates.next();
  assert.equal(joined.key, clientId);
  assert.equal(joined.info.user, '42');
  assert.equal((await watchU.updates.next()).key, '42');

  // a second connection of the same user: a client entry, no new user entry
  const second = await mapMember('42', game);
  await second.syncs.next();
  assert.equal((await watchC.updates.next()).key, second.client.lc.connectedCtx.client);

  const state = await api(box.server, 'map_read_state', { channel: `users:${game}` });
  assert.deepEqual(state.body.result.entries.map((e) => e.key), ['42']);

  player.client.disconnect();
  const left = await watchC.updates.next();
  assert.deepEqual([left.key, left.removed], [clientId, true]);
  second.client.disconnect();
  assert.equal((await watchC.updates.next()).removed, true);
  // the user entry outlives the last connection by map.key_ttl (1s), then goes
  const userGone = await watchU.updates.next(4000);
  assert.deepEqual([userGone.key, userGone.removed], ['42', true]);
  // the Lua subscribe hook sees ctx.type
  const spy = await rawSession(box.server, { token: token('spy') });
  assertErrorReply(await rawCall(spy, { subscribe: { channel: `users:${game}`, type: 3, phase: 2 } }), 103);
  assert.ok((await rawCall(spy, { subscribe: { channel: `clients:${game}`, type: 2, phase: 2 } })).subscribe);
});

t('server API: map_publish, map_read_state (pages, one key), map_read_stream, map_stats, map_clear', async () => {
  const ch = 'board:api';
  const r1 = await mapPublish(ch, 'x', { v: 1 }, { score: 7 });
  assert.equal(r1.offset, 1);
  assert.ok(r1.epoch);
  const dup = await mapPublish(ch, 'x', { v: 2 }, { key_mode: 'if_new' });
  assert.deepEqual([dup.suppressed, dup.suppress_reason], [true, 'key_exists']);
  await mapPublish(ch, 'y', { v: 3 });
  const one = await api(box.server, 'map_read_state', { channel: ch, key: 'x' });
  assert.deepEqual(one.body.result.entries.map((e) => [e.key, e.data, e.score]), [['x', { v: 1 }, 7]]);
  const page = await api(box.server, 'map_read_state', { channel: ch, limit: 1 });
  assert.equal(page.body.result.entries.length, 1);
  assert.ok(page.body.result.cursor);
  const stream = await api(box.server, 'map_read_stream', { channel: ch, since_offset: 0, since_epoch: r1.epoch });
  assert.deepEqual(stream.body.result.entries.map((e) => e.key), ['x', 'y']);
  const stats = await api(box.server, 'map_stats', { channel: ch });
  assert.deepEqual(stats.body.result, { num_keys: 2 });
  await api(box.server, 'map_clear', { channel: ch });
  assert.deepEqual((await api(box.server, 'map_stats', { channel: ch })).body.result, { num_keys: 0 });
});

t('bad inputs: wrong types, unknown phases, stray cursors, oversized keys, full maps', async () => {
  const raw = await rawSession(box.server, { token: token('bad') });
  // a map subscribe to a stream namespace, a stream subscribe to a map one, another map type
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'news:1', type: 1, phase: 2 } }), 107);
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:x' } }), 107);
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:x', type: 2, phase: 2 } }), 107);
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:x', type: 1, phase: 7 } }), 107);
  // a page of a walk never started; a stream page of an ephemeral map
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:x', type: 1, phase: 2, cursor: '0:a' } }), 103);
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'short:x', type: 1, phase: 1, recover: true, offset: 1, epoch: 'zz' } }), 107);
  // a position from another epoch: 112, the SDK starts over from a snapshot
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:y', type: 1, phase: 1, recover: true, offset: 3, epoch: 'nope' } }), 112);
  // a cursor that is no cursor
  const p = await rawCall(raw, { subscribe: { channel: 'tiny:x', type: 1, phase: 2 } });
  assert.ok(p.subscribe, JSON.stringify(p));
  // client writes: key shapes and the map's bounds
  assertErrorReply(await rawCall(raw, { publish: { channel: 'tiny:x', type: 1, key: '', data: { a: 1 } } }), 107);
  assertErrorReply(await rawCall(raw, { publish: { channel: 'tiny:x', type: 1, key: 'k'.repeat(17), data: { a: 1 } } }), 107);
  assertErrorReply(await rawCall(raw, { publish: { channel: 'tiny:x', type: 1, key: 'k' } }), 107);
  assertErrorReply(await rawCall(raw, { publish: { channel: 'clients:game:1', type: 1, key: 'k', data: { a: 1 } } }), 107);
  assertErrorReply(await rawCall(raw, { publish: { channel: 'news:1', type: 1, key: 'k', data: { a: 1 } } }), 107);
  for (const k of ['a', 'b', 'c']) {
    const r = await rawCall(raw, { publish: { channel: 'tiny:x', type: 1, key: k, data: { k } } });
    assert.deepEqual(r.publish, {}, JSON.stringify(r));
  }
  assertErrorReply(await rawCall(raw, { publish: { channel: 'tiny:x', type: 1, key: 'd', data: { k: 'd' } } }), 106);
  // an oversized page (limit beyond map.max_page_size, 3 here) is cut to it, with a cursor on
  for (const k of ['a', 'b', 'c', 'd', 'e']) await mapPublish('board:big', k, { k });
  const big = await rawCall(raw, { subscribe: { channel: 'board:big', type: 1, phase: 2, limit: 100000 } });
  assert.equal(big.subscribe.state.length, 3, JSON.stringify(big));
  assert.ok(big.subscribe.cursor, JSON.stringify(big));
  // server API
  const noKey = await api(box.server, 'map_publish', { channel: 'board:z', data: {} });
  assert.equal(noKey.body.error.code, 107, noKey.text);
  const notMap = await api(box.server, 'map_publish', { channel: 'news:1', key: 'k', data: {} });
  assert.equal(notMap.body.error.code, 107, notMap.text);
  const badCursor = await api(box.server, 'map_read_state', { channel: 'board:z', cursor: 'garbage' });
  assert.equal(badCursor.body.error.code, 107, badCursor.text);
  const longKey = await api(box.server, 'map_publish', { channel: 'tiny:y', key: 'x'.repeat(17), data: {} });
  assert.equal(longKey.body.error.code, 107, longKey.text);
  // a walk given up with an unsubscribe is over: its next page has no walk to continue
  for (const k of ['a', 'b', 'c']) await mapPublish('board:quit', k, { k });
  const q1 = await rawCall(raw, { subscribe: { channel: 'board:quit', type: 1, phase: 2, limit: 2 } });
  assert.ok(q1.subscribe.cursor, JSON.stringify(q1));
  assert.deepEqual((await rawCall(raw, { unsubscribe: { channel: 'board:quit' } })).unsubscribe, {});
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'board:quit', type: 1, phase: 2, cursor: q1.subscribe.cursor } }), 103);
  // the connection survived all of it
  const ok = await rawCall(raw, { subscribe: { channel: 'board:ok', type: 1, phase: 2 } });
  assert.ok(ok.subscribe, JSON.stringify(ok));
});

t('map publish / remove proxy: the request carries the key (and removed), its answer decides and may replace the data', async () => {
  const ch = 'pins:1';
  const m = await mapMember('pp', ch);
  await m.syncs.next();
  box.backend.reset();
  await m.sub.publish('pin-1', { x: 1 });
  const req = await box.backend.next('/map');
  assert.equal(req.json.key, 'pin-1');
  assert.equal(req.json.channel, ch);
  assert.deepEqual(req.json.data, { x: 1 });
  const up = await m.updates.next();
  assert.deepEqual([up.key, up.data], ['pin-1', { by: 'proxy', got: { x: 1 } }]);
  await assert.rejects(m.sub.publish('locked', { x: 2 }), (e) => e.code === 1403);
  await m.sub.remove('pin-1');
  const rm = await box.backend.next('/map', 5000, (r) => r.json.removed === true);
  assert.equal(rm.json.key, 'pin-1');
  assert.equal(rm.json.data, undefined);
  assert.deepEqual([(await m.updates.next()).removed], [true]);
});

t('map.client_key client_id: a write lands on the writer\'s own key; remove_client_on_unsubscribe takes it back', async () => {
  const ch = 'typing:1';
  const watcher = await mapMember('tw', ch);
  await watcher.syncs.next();
  const typist = await mapMember('tt', ch);
  await typist.syncs.next();
  const id = typist.client.lc.connectedCtx.client;
  await typist.sub.publish('whatever-it-sent', { typing: true });
  const up = await watcher.updates.next();
  assert.deepEqual([up.key, up.data], [id, { typing: true }]);
  typist.sub.unsubscribe();
  const gone = await watcher.updates.next();
  assert.deepEqual([gone.key, gone.removed], [id, true]);
  // the live reply tells the SDK the namespace's publish debounce
  const raw = await rawSession(box.server, { token: token('td') });
  const live = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2 } });
  assert.equal(live.subscribe.publish_debounce, 50, JSON.stringify(live));
});

t('a subscription token grants a private map channel across its pages: expiry, info and data reach the live reply', async () => {
  const ch = '$secret:1';
  for (const k of ['a', 'b', 'c']) await mapPublish(ch, k, { k });
  const raw = await rawSession(box.server, { token: token('s1') });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2 } }), 103);
  const st = jwt.subToken(box.server.secret, 's1', ch, { info: { role: 'viewer' }, data: { hello: 1 } }, { ttl: 600 });
  const p1 = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2, limit: 2, token: st } });
  assert.equal(p1.subscribe.phase, 2, JSON.stringify(p1));
  const p2 = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2, limit: 2, cursor: p1.subscribe.cursor, offset: p1.subscribe.offset, epoch: p1.subscribe.epoch } });
  assert.ok(!p2.subscribe.phase, JSON.stringify(p2));
  assert.equal(p2.subscribe.expires, true);
  assert.ok(p2.subscribe.ttl > 500 && p2.subscribe.ttl <= 600, JSON.stringify(p2));
  assert.deepEqual(p2.subscribe.data, { hello: 1 });
  // the channel info from the token is the writer's in map_clients-like entries and publications
  const r = await rawCall(raw, { sub_refresh: { channel: ch, token: jwt.subToken(box.server.secret, 's1', ch, {}, { ttl: 900 }) } });
  assert.equal(r.sub_refresh.expires, true, JSON.stringify(r));
});

t('map presence of a stream channel: a stream subscriber has its map_clients entry while subscribed', async () => {
  const client = newClient(box.server, { token: token('ls') });
  const cc = await connected(client);
  const sub = newSubscription(client, 'lobby:1');
  await subscribed(sub);
  const keys = async () => (await api(box.server, 'map_read_state', { channel: 'clients:lobby:1' })).body.result.entries.map((e) => e.key);
  assert.deepEqual(await keys(), [cc.client]);
  sub.unsubscribe();
  await waitUntil(async () => (await keys()).length === 0, { timeoutMs: 3000, what: 'the entry to leave with the subscription' });
});

t('a map subscription asking for fossil deltas gets whole values (no delta negotiated)', async () => {
  const ch = 'board:delta';
  await mapPublish(ch, 'd1', { v: 1 });
  const m = await mapMember('dl', ch, { subOpts: { delta: 'fossil' } });
  assert.deepEqual(entriesOf(await m.syncs.next()), { d1: { v: 1 } });
  await mapPublish(ch, 'd1', { v: 2 });
  assert.deepEqual(valueOf((await m.updates.next()).data), { v: 2 });
});
