'use strict';
// Server-side subscriptions naming map channels. Upstream makes map subscriptions only from
// the client (the SDK walks the state, stream and live phases; Centrifugo's server-side
// subscriptions carry no subscription type), so Lucent never turns such a channel into an
// ordinary stream subscription: a connection token's channels / subs and the connect proxy's
// channels / subs skip it with a log line (the other channels are made), and the server API's
// subscribe answers an error. The client's own map subscription of the channel still works.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { defaultConfig, merge, startServer, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, apiResult, publish } = require('./lib/api');
const { newClient, connected, rawConnect, rawSession, valueOf } = require('./lib/client');
const { waitUntil } = require('./lib/wait');
const { events } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const box = { server: null, backend: null };
before(async () => {
  // the connect proxy grants the user of the request's data, with map and stream channels
  box.backend = await startBackend({
    '/connect': (r) => ({
      json: {
        result: {
          user: r.json.data.user,
          channels: ['board:proxy', 'news'],
          subs: { 'users:game': {}, 'chat:proxy': {} },
        },
      },
    }),
  });
  const config = merge(defaultConfig(), {
    client: { proxy: { connect: { enabled: true, endpoint: box.backend.url('/connect'), timeout: '3s' } } },
    channel: {
      namespaces: [
        { name: 'board', subscription_type: 'map', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '60s' } },
        { name: 'users', subscription_type: 'map_users', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '60s' } },
        { name: 'clients', subscription_type: 'map_clients', allow_subscribe_for_client: true, map: { mode: 'durable', key_ttl: '60s' } },
        { name: 'news', allow_subscribe_for_client: true },
        { name: 'chat', allow_subscribe_for_client: true },
      ],
    },
  });
  box.server = await startServer(config);
});
after(async () => {
  if (box.server) await assertCleanExit(box.server);
  await box.backend?.close();
});
const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));
const token = (user, extra = {}) => jwt.connToken(box.server.secret, user, extra);

const mapPublish = (channel, key, data) => apiResult(box.server, 'map_publish', { channel, key, data });

const skipped = (ch) => `server-side subscription to ${ch} skipped: a map channel is subscribed by its client`;

t('token channels and subs: map channels are skipped with a log line, stream channels are made', async () => {
  // channels (subs, when given, stands for it)
  const raw = await rawSession(box.server, { token: token('42', { channels: ['board:tok', 'news'] }) });
  assert.deepEqual(Object.keys(raw.connectResult.subs), ['news'], JSON.stringify(raw.connectResult));
  await waitUntil(() => box.server.logs().includes(skipped('board:tok')), { what: 'the log line about board:tok' });
  // nothing of the map reaches the connection: the news publication is the first push
  await mapPublish('board:tok', 'k', { v: 1 });
  await publish(box.server, 'news', { n: 1 });
  assert.deepEqual(await raw.next(), { push: { channel: 'news', pub: { data: { n: 1 } } } });
  // subs
  const raw2 = await rawSession(box.server, { token: token('42', { subs: { 'clients:game': {}, 'chat:tok': {} } }) });
  assert.deepEqual(Object.keys(raw2.connectResult.subs), ['chat:tok'], JSON.stringify(raw2.connectResult));
  await waitUntil(() => box.server.logs().includes(skipped('clients:game')), { what: 'the log line about clients:game' });
});

t('centrifuge-js: a token channel naming a map is not subscribed; the client subscribes the map itself', async () => {
  await mapPublish('board:sdk', 'a', { v: 'A' });
  const client = newClient(box.server, { token: token('43', { channels: ['board:sdk', 'news'] }) });
  const serverSubscribed = events(client, 'subscribed');
  await connected(client);
  assert.equal((await serverSubscribed.next()).channel, 'news');
  // the map subscription of its own: state then live, no "already subscribed"
  const sub = client.newMapSubscription('board:sdk');
  const syncs = events(sub, 'sync');
  const updates = events(sub, 'update');
  sub.subscribe();
  const sync = await syncs.next();
  assert.deepEqual(
    sync.entries.map((e) => [e.key, valueOf(e.data)]),
    [['a', { v: 'A' }]],
  );
  await mapPublish('board:sdk', 'b', { v: 'B' });
  const u = await updates.next();
  assert.equal(u.key, 'b');
  assert.deepEqual(valueOf(u.data), { v: 'B' });
  // the server-side news subscription is there alongside
  const pubs = events(client, 'publication');
  await publish(box.server, 'news', { n: 2 });
  const p = await pubs.next();
  assert.equal(p.channel, 'news');
  assert.deepEqual(valueOf(p.data), { n: 2 });
});

t('connect proxy channels and subs: map channels are skipped with a log line, stream channels are made', async () => {
  const raw = await rawConnect(box.server);
  raw.send(JSON.stringify({ id: 1, connect: { data: { user: '44' } } }));
  const reply = await raw.reply(1);
  assert.ok(reply.connect, JSON.stringify(reply));
  assert.deepEqual(Object.keys(reply.connect.subs).sort(), ['chat:proxy', 'news'], JSON.stringify(reply));
  await waitUntil(() => box.server.logs().includes(skipped('board:proxy')), { what: 'the log line about board:proxy' });
  assert.ok(box.server.logs().includes(skipped('users:game')), 'the log line about users:game');
});

t('server API subscribe naming a map channel answers an error; a stream channel is still subscribed', async () => {
  const raw = await rawSession(box.server, { token: token('45') });
  for (const channel of ['board:api', 'clients:api', 'users:api']) {
    const r = await api(box.server, 'subscribe', { user: '45', channel });
    assert.equal(r.body.error?.code, 107, `${channel}: ${r.text}`);
    assert.match(r.body.error.message, /map and shared poll channels take no server-side subscription/);
  }
  const ok = await api(box.server, 'subscribe', { user: '45', channel: 'news' });
  assert.deepEqual(ok.body, { result: {} }, ok.text);
  // the first push is the news subscription: none was made for the map channels
  const push = await raw.next();
  assert.equal(push.push?.channel, 'news', JSON.stringify(push));
  assert.ok(push.push.subscribe, JSON.stringify(push));
});
