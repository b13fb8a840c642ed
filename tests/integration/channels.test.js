'use strict';
// Channel names, namespaces and the options that decide who may subscribe and publish (spec
// §6.1-§6.3): unknown namespaces, the length limit, channel_regex, user-limited channels,
// anonymous users, the publish permissions, and declarative channel rules (top-level
// `channels` list of the config).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall } = require('./lib/client');
const { sharedServer, assertErrorReply } = require('./lib/chan');

const ctx = sharedServer(() =>
  merge(defaultConfig(), {
    channel: {
      without_namespace: { allow_subscribe_for_client: true, allow_user_limited_channels: true },
      namespaces: [
        { name: 'ids', allow_subscribe_for_client: true, allow_publish_for_client: true, channel_regex: '^[0-9]+$' },
        { name: 'dm', allow_user_limited_channels: true },
        { name: 'anon', allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true },
        { name: 'authonly', allow_subscribe_for_client: true },
        { name: 'pubclient', allow_subscribe_for_client: true, allow_publish_for_client: true },
        { name: 'pubsub', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        {
          name: 'pubanon',
          allow_subscribe_for_client: true,
          allow_subscribe_for_anonymous: true,
          allow_publish_for_client: true,
          allow_publish_for_anonymous: true,
        },
        { name: 'hist', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s', allow_history_for_client: true },
        { name: 'pres', allow_subscribe_for_client: true, presence: true, allow_presence_for_client: true },
      ],
    },
  }),
);
const { t } = ctx;
const token = (user = '42') => jwt.connToken(ctx.server.secret, user);

async function sub(raw, channel) {
  return rawCall(raw, { subscribe: { channel } });
}

// ---------------------------------------------------------------------------------------------
// names and namespaces

t('unknown namespace → 102 for subscribe, publish, presence, presence_stats and history', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  assertErrorReply(await sub(raw, 'nope:x'), 102, 'unknown channel');
  assertErrorReply(await rawCall(raw, { publish: { channel: 'nope:x', data: { a: 1 } } }), 102, 'unknown channel');
  assertErrorReply(await rawCall(raw, { presence: { channel: 'nope:x' } }), 102, 'unknown channel');
  assertErrorReply(await rawCall(raw, { presence_stats: { channel: 'nope:x' } }), 102, 'unknown channel');
  assertErrorReply(await rawCall(raw, { history: { channel: 'nope:x' } }), 102, 'unknown channel');
  assert.ok(raw.isOpen());
});

t('unknown namespace with centrifuge-js → subscription ends unsubscribed with 102', async () => {
  const c = newClient(ctx.server, { token: token() });
  await connected(c);
  await assert.rejects(subscribed(newSubscription(c, 'nope:sdk')), (err) => err.code === 102);
});

t('channel of 255 characters is fine, 256 → 107', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  const ok = await sub(raw, 'a'.repeat(255));
  assert.deepEqual(ok, { id: ok.id, subscribe: {} });
  assertErrorReply(await sub(raw, 'b'.repeat(256)), 107, 'bad request');
  assertErrorReply(await sub(raw, `ids:${'1'.repeat(300)}`), 107, 'bad request');
  assert.ok(raw.isOpen());
});

t('channel_regex ^[0-9]+$: ids:42 may be subscribed and published to, ids:abc → 107', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  const ok = await sub(raw, 'ids:42');
  assert.deepEqual(ok, { id: ok.id, subscribe: {} });
  assertErrorReply(await sub(raw, 'ids:abc'), 107, 'bad request');
  assertErrorReply(await sub(raw, 'ids:42a'), 107, 'bad request');
  const p = await rawCall(raw, { publish: { channel: 'ids:42', data: { ok: 1 } } });
  assert.deepEqual(p, { id: p.id, publish: {} });
  assertErrorReply(await rawCall(raw, { publish: { channel: 'ids:abc', data: { no: 1 } } }), 107, 'bad request');
});

// ---------------------------------------------------------------------------------------------
// user-limited channels

t('user-limited dialog#1,2: users 1 and 2 may subscribe, user 3 → 103', async () => {
  for (const user of ['1', '2']) {
    const raw = await rawSession(ctx.server, { token: token(user) });
    const r = await sub(raw, 'dialog#1,2');
    assert.deepEqual(r, { id: r.id, subscribe: {} }, `user ${user}`);
  }
  const raw3 = await rawSession(ctx.server, { token: token('3') });
  assertErrorReply(await sub(raw3, 'dialog#1,2'), 103, 'permission denied');

  // centrifuge-js: user 1 gets publications, user 3 ends unsubscribed with 103
  const c1 = newClient(ctx.server, { token: token('1') });
  await connected(c1);
  const s1 = newSubscription(c1, 'dialog#1,2');
  await subscribed(s1);
  await publish(ctx.server, 'dialog#1,2', { to: 'both' });
  assert.deepEqual((await nextPublication(s1)).data, { to: 'both' });
  const c3 = newClient(ctx.server, { token: token('3') });
  await connected(c3);
  await assert.rejects(subscribed(newSubscription(c3, 'dialog#1,2')), (err) => err.code === 103);
});

t('user-limited channels: #42 only for user 42; in a namespace without any subscribe permission too', async () => {
  const a = await rawSession(ctx.server, { token: token('42') });
  const r = await sub(a, '#42');
  assert.deepEqual(r, { id: r.id, subscribe: {} });
  const b = await rawSession(ctx.server, { token: token('43') });
  assertErrorReply(await sub(b, '#42'), 103, 'permission denied');

  // dm has allow_user_limited_channels only: the listed users get in, others and plain
  // channels do not
  const d = await sub(a, 'dm:chat#42,43');
  assert.deepEqual(d, { id: d.id, subscribe: {} });
  assertErrorReply(await sub(a, 'dm:chat#1,2'), 103, 'permission denied');
  assertErrorReply(await sub(a, 'dm:plain'), 103, 'permission denied');
  const e = await sub(b, 'dm:chat#42,43');
  assert.deepEqual(e, { id: e.id, subscribe: {} });
});

// ---------------------------------------------------------------------------------------------
// anonymous users

t('anonymous token (sub ""): allow_subscribe_for_anonymous → subscribed; without it → 103', async () => {
  const raw = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, '') });
  const ok = await sub(raw, 'anon:x');
  assert.deepEqual(ok, { id: ok.id, subscribe: {} });
  assertErrorReply(await sub(raw, 'authonly:x'), 103, 'permission denied');
  assertErrorReply(await sub(raw, 'plain-channel'), 103, 'permission denied');
  // an authenticated user may subscribe to both
  const user = await rawSession(ctx.server, { token: token('5') });
  for (const ch of ['anon:x', 'authonly:x']) {
    const r = await sub(user, ch);
    assert.deepEqual(r, { id: r.id, subscribe: {} });
  }
});

// ---------------------------------------------------------------------------------------------
// publish permissions

t('allow_publish_for_client: publish without being subscribed; subscribers get it with the publisher info', async () => {
  const listener = await rawSession(ctx.server, { token: token('1'), channels: ['pubclient:x'] });
  const pub = await rawSession(ctx.server, { token: token('2') });
  const r = await rawCall(pub, { publish: { channel: 'pubclient:x', data: { from: 2 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  assert.deepEqual(await listener.next(), {
    push: { channel: 'pubclient:x', pub: { data: { from: 2 }, info: { user: '2', client: pub.client } } },
  });
});

t('allow_publish_for_subscriber: 103 until subscribed, then accepted', async () => {
  const raw = await rawSession(ctx.server, { token: token('2') });
  assertErrorReply(await rawCall(raw, { publish: { channel: 'pubsub:x', data: { a: 1 } } }), 103, 'permission denied');
  await sub(raw, 'pubsub:x');
  const r = await rawCall(raw, { publish: { channel: 'pubsub:x', data: { a: 2 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
});

t('anonymous publish: allow_publish_for_client alone → 103; with allow_publish_for_anonymous → accepted', async () => {
  const raw = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, '') });
  assertErrorReply(await rawCall(raw, { publish: { channel: 'pubclient:a', data: { a: 1 } } }), 103, 'permission denied');
  const r = await rawCall(raw, { publish: { channel: 'pubanon:a', data: { a: 1 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
});

t('no publish permission in the namespace → 103 even when subscribed (centrifuge-js)', async () => {
  const c = newClient(ctx.server, { token: token('2') });
  await connected(c);
  const s = newSubscription(c, 'authonly:pub');
  await subscribed(s);
  await assert.rejects(s.publish({ a: 1 }), (err) => err.code === 103);
});

t('history and presence of a namespace that has them: API results carry offset/epoch and presence', async () => {
  const r = await publish(ctx.server, 'hist:1', { a: 1 });
  assert.equal(r.offset, 1, JSON.stringify(r));
  assert.ok(typeof r.epoch === 'string' && r.epoch.length > 0);
  const raw = await rawSession(ctx.server, { token: token('2'), channels: ['pres:1'] });
  const p = await api(ctx.server, 'presence', { channel: 'pres:1' });
  assert.deepEqual(p.body, { result: { presence: { [raw.client]: { user: '2', client: raw.client } } } });
});

// ---------------------------------------------------------------------------------------------
// declarative channel rules

// Top-level `channels` list: a rule names a channel (or a pattern: `$user` stands for the
// connection's user, `#rooms` for one name segment) and overlays permissions and options on
// the channels it matches; the first matching rule wins. A channel no rule matches falls back
// to its namespace (102 when that namespace is not defined) — except another user's channel of
// a `$user` rule's family, which is known and allowed nothing (103, as a Laravel channel route
// reads). A rule's `join_leave` reaches every subscriber, server-side ones included. No
// namespaces are defined in the first server: the rules alone make the channels usable.
const RULES = [
  { name: 'news', publish: true, subscribe: true, history_size: 100, history_ttl: '5m' },
  { name: 'user:$user', subscribe: true, publish: false },
  { name: 'chat:room-#rooms', presence: true, join_leave: true },
];

test('declarative channel rules: news, user:$user and chat:room-#rooms', async () => {
  const base = defaultConfig();
  const srv = await startServer({
    ...base,
    channel: { without_namespace: {}, namespaces: [] },
    channels: RULES,
  });
  try {
    await withLogsOnFailure(srv, async () => {
      const tok = (user) => jwt.connToken(srv.secret, user);

      // news: subscribe and client publish allowed, history on
      const a = await rawSession(srv, { token: tok('42') });
      const s = await rawCall(a, { subscribe: { channel: 'news' } });
      assert.ok(s.subscribe, `subscribe news: ${JSON.stringify(s)}`);
      const p = await rawCall(a, { publish: { channel: 'news', data: { from: 'client' } } });
      assert.deepEqual(p, { id: p.id, publish: {} });
      const pushed = await a.push((x) => x.channel === 'news');
      assert.deepEqual(pushed.push.pub.data, { from: 'client' });
      assert.equal(pushed.push.pub.offset, 1);
      const r = await publish(srv, 'news', { from: 'api' });
      assert.equal(r.offset, 2, JSON.stringify(r));
      assert.ok(typeof r.epoch === 'string' && r.epoch.length > 0, JSON.stringify(r));

      // user:$user: only the user's own channel, and no publishing
      const own = await rawCall(a, { subscribe: { channel: 'user:42' } });
      assert.deepEqual(own, { id: own.id, subscribe: {} });
      // user:43 is another user's channel of the rule's family: permission denied, not unknown
      assertErrorReply(await rawCall(a, { subscribe: { channel: 'user:43' } }), 103, 'permission denied');
      assertErrorReply(await rawCall(a, { subscribe: { channel: 'other:43' } }), 102, 'unknown channel');
      assertErrorReply(await rawCall(a, { publish: { channel: 'user:42', data: { x: 1 } } }), 103, 'permission denied');

      // chat:room-#rooms: presence on; news has none
      const b = await rawSession(srv, { token: jwt.connToken(srv.secret, '7', { channels: ['chat:room-7'] }) });
      assert.ok(b.connectResult.subs && b.connectResult.subs['chat:room-7'], JSON.stringify(b.connectResult));
      const pr = await api(srv, 'presence', { channel: 'chat:room-7' });
      assert.deepEqual(pr.body, { result: { presence: { [b.client]: { user: '7', client: b.client } } } });
      const none = await api(srv, 'presence', { channel: 'news' });
      assert.equal(none.body?.error?.code, 108, JSON.stringify(none.body));

      // join_leave in a rule: the server-side subscriber b (it could not ask) sees c join and
      // leave
      const c = await rawSession(srv, { token: jwt.connToken(srv.secret, '8', { channels: ['chat:room-7'] }) });
      const join = await b.push((x) => x.channel === 'chat:room-7' && x.join && x.join.info.user === '8');
      assert.equal(join.push.join.info.user, '8');
      c.close();
      const leave = await b.push((x) => x.channel === 'chat:room-7' && x.leave && x.leave.info.user === '8');
      assert.equal(leave.push.leave.info.user, '8');
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('declarative rule user:$user over a defined namespace "user": other users\' channels → 103', async () => {
  const srv = await startServer({
    ...defaultConfig(),
    channel: { without_namespace: {}, namespaces: [{ name: 'user' }] },
    channels: [{ name: 'user:$user', subscribe: true }],
  });
  try {
    await withLogsOnFailure(srv, async () => {
      const a = await rawSession(srv, { token: jwt.connToken(srv.secret, '42') });
      const own = await rawCall(a, { subscribe: { channel: 'user:42' } });
      assert.deepEqual(own, { id: own.id, subscribe: {} });
      assertErrorReply(await rawCall(a, { subscribe: { channel: 'user:43' } }), 103, 'permission denied');
      // an anonymous user matches no $user rule
      const anon = await rawSession(srv, { token: jwt.connToken(srv.secret, '') });
      assertErrorReply(await rawCall(anon, { subscribe: { channel: 'user:' } }), 103, 'permission denied');
    });
  } finally {
    await assertCleanExit(srv);
  }
});
