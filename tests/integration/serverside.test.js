'use strict';
// Server-side subscriptions: channels and subs from the connection token, the user's personal
// channel, and subscribe/unsubscribe through the server API on live connections (spec §1.6
// connect subs, §1.7 subscribe/unsubscribe pushes, §2.2, §3.1, §6.1 personal channel, §7.3
// recovery of server-side subscriptions).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, disconnected, newSubscription, subscribed, rawConnect, rawSession, rawCall } = require('./lib/client');
const { waitUntil, sleep } = require('./lib/wait');
const { sharedServer, events, dropTransport, assertErrorReply, offsets } = require('./lib/chan');

const ctx = sharedServer(() =>
  merge(defaultConfig(), {
    channel: {
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        {
          name: 'live',
          allow_subscribe_for_client: true,
          presence: true,
          allow_presence_for_subscriber: true,
          allow_publish_for_subscriber: true,
        },
        { name: 'hs', allow_subscribe_for_client: true, history_size: 100, history_ttl: '300s', force_recovery: true },
      ],
    },
  }),
);
const { t } = ctx;
const token = (user = '42', extra = {}) => jwt.connToken(ctx.server.secret, user, extra);

/** Raw connect with a token; resolves {raw, reply} without requiring success. */
async function rawConnectReply(server, tok, extra = {}) {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: tok, ...extra } }));
  return { raw, reply: await raw.reply(1) };
}

/** API call that must answer {"result":{}}. */
async function apiOk(method, body) {
  const r = await api(ctx.server, method, body);
  assert.deepEqual(r.body, { result: {} }, `API ${method} ${JSON.stringify(body)} → HTTP ${r.status} ${r.text}`);
}

// ---------------------------------------------------------------------------------------------
// token channels / subs

t('token channels ["news"]: connect result subs has news, and API publications arrive without a subscribe', async () => {
  const raw = await rawSession(ctx.server, { token: token('42', { channels: ['news'] }) });
  assert.deepEqual(raw.connectResult.subs, { news: {} }, JSON.stringify(raw.connectResult));
  await publish(ctx.server, 'news', { text: 'server-side' });
  assert.deepEqual(await raw.next(), { push: { channel: 'news', pub: { data: { text: 'server-side' } } } });
});

t('centrifuge-js: server-side subscriptions from the token emit client-level subscribed and publication events', async () => {
  const c = newClient(ctx.server, { token: token('42', { channels: ['news', 'chat:srv'] }) });
  const subs = events(c, 'subscribed');
  const pubs = events(c, 'publication');
  await connected(c);
  const a = await subs.next();
  const b = await subs.next();
  assert.deepEqual([a.channel, b.channel].sort(), ['chat:srv', 'news']);
  await publish(ctx.server, 'chat:srv', { n: 1 });
  const p = await pubs.next();
  assert.equal(p.channel, 'chat:srv');
  assert.deepEqual(p.data, { n: 1 });
});

t('token subs map: channels is ignored; data comes back in the connect result, info is the chan_info', async () => {
  const tok = token('42', {
    channels: ['news'],
    subs: { 'live:1': { info: { role: 'admin' }, data: { welcome: true } } },
  });
  const raw = await rawSession(ctx.server, { token: tok });
  assert.deepEqual(Object.keys(raw.connectResult.subs || {}), ['live:1'], JSON.stringify(raw.connectResult));
  assert.deepEqual(raw.connectResult.subs['live:1'].data, { welcome: true });

  const p = await rawCall(raw, { presence: { channel: 'live:1' } });
  assert.deepEqual(p.presence?.presence?.[raw.client], { user: '42', client: raw.client, chan_info: { role: 'admin' } }, JSON.stringify(p));

  // a client publication into the channel carries the chan_info in its info
  const r = await rawCall(raw, { publish: { channel: 'live:1', data: { x: 1 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  const push = await raw.push((q) => q.channel === 'live:1');
  assert.deepEqual(push.push.pub.info, { user: '42', client: raw.client, chan_info: { role: 'admin' } });
});

t('token channels with an unknown namespace → connect error 102 (raw and centrifuge-js)', async () => {
  const { raw, reply } = await rawConnectReply(ctx.server, token('42', { channels: ['news', 'nope:x'] }));
  assert.deepEqual(reply, { id: 1, error: { code: 102, message: 'unknown channel' } });
  raw.close();
  const c = newClient(ctx.server, { token: token('42', { channels: ['nope:x'] }) });
  const d = await disconnected(c);
  assert.equal(d.code, 102);
});

t('client subscribe to a channel already subscribed server-side → 105', async () => {
  const raw = await rawSession(ctx.server, { token: token('42', { channels: ['news'] }) });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'news' } }), 105, 'already subscribed');
});

t('server-side subscription in a recovery namespace: position in connect subs, recovered through connect subs', async () => {
  const ch = 'hs:srv';
  const first = await rawSession(ctx.server, { token: token('42', { channels: [ch] }) });
  const s = first.connectResult.subs?.[ch];
  assert.ok(s, JSON.stringify(first.connectResult));
  assert.equal(s.recoverable, true, JSON.stringify(s));
  assert.equal(s.positioned, true);
  assert.ok(typeof s.epoch === 'string' && s.epoch.length > 0);
  const epoch = s.epoch;
  for (const n of [1, 2, 3]) await publish(ctx.server, ch, { n });
  first.close();

  const { reply } = await rawConnectReply(ctx.server, token('42', { channels: [ch] }), {
    subs: { [ch]: { recover: true, offset: 1, epoch } },
  });
  const r = reply.connect?.subs?.[ch];
  assert.ok(r, JSON.stringify(reply));
  assert.equal(r.recovered, true, JSON.stringify(r));
  assert.equal(r.was_recovering, true);
  assert.equal(r.epoch, epoch);
  assert.equal(Number(r.offset ?? 0), 1);
  assert.deepEqual(r.publications, [
    { data: { n: 2 }, offset: 2 },
    { data: { n: 3 }, offset: 3 },
  ]);
});

t('centrifuge-js: a server-side subscription recovers after a network drop', async () => {
  const ch = 'hs:sdk';
  const c = newClient(ctx.server, { token: token('42', { channels: [ch] }), minReconnectDelay: 1000, maxReconnectDelay: 1500 });
  const subs = events(c, 'subscribed');
  const got = [];
  c.on('publication', (p) => {
    if (p.channel === ch) got.push(p);
  });
  await connected(c);
  const s1 = await subs.next();
  assert.equal(s1.recoverable, true, JSON.stringify(s1));
  for (const n of [0, 1]) await publish(ctx.server, ch, { n });
  await waitUntil(() => got.length >= 2, { what: '2 live publications' });

  const connecting = events(c, 'connecting');
  dropTransport(c);
  await connecting.next(5000);
  for (const n of [2, 3, 4]) await publish(ctx.server, ch, { n });
  assert.equal(c.state, 'connecting', 'the client reconnected before the publications were made');

  const s2 = await subs.next(10000);
  assert.equal(s2.wasRecovering, true, JSON.stringify(s2));
  assert.equal(s2.recovered, true, JSON.stringify(s2));
  await waitUntil(() => got.length >= 5, { what: '5 publications in all' });
  await sleep(300);
  assert.deepEqual(
    got.map((p) => p.data.n),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(offsets(got), [1, 2, 3, 4, 5]);
});

// ---------------------------------------------------------------------------------------------
// server API subscribe / unsubscribe on live connections

t('API subscribe (user): every connection of the user gets a subscribe push, then publications', async () => {
  const a = await rawSession(ctx.server, { token: token('7') });
  const b = await rawSession(ctx.server, { token: token('7') });
  const other = await rawSession(ctx.server, { token: token('8') });
  await apiOk('subscribe', { user: '7', channel: 'news' });
  for (const raw of [a, b]) {
    assert.deepEqual(await raw.push((p) => p.subscribe !== undefined, 5000, 'subscribe push'), {
      push: { channel: 'news', subscribe: {} },
    });
  }
  await publish(ctx.server, 'news', { n: 1 });
  for (const raw of [a, b]) assert.deepEqual(await raw.next(), { push: { channel: 'news', pub: { data: { n: 1 } } } });
  // user 8 was not subscribed: its first push is the barrier publication
  const r = await rawCall(other, { subscribe: { channel: 'barrier' } });
  assert.ok(r.subscribe, JSON.stringify(r));
  await publish(ctx.server, 'barrier', { b: 1 });
  assert.deepEqual(await other.next(), { push: { channel: 'barrier', pub: { data: { b: 1 } } } });
});

t('a user whose first connection left is still found: API subscribe and disconnect reach every other connection', async () => {
  // A worker indexes a user's connections through one of them: whichever leaves, the others
  // stay reachable, and the last one leaving forgets the user.
  const a = await rawSession(ctx.server, { token: token('71') });
  const b = await rawSession(ctx.server, { token: token('71') });
  const c = await rawSession(ctx.server, { token: token('71') });
  a.close();
  await a.closed;
  await sleep(100);
  await apiOk('subscribe', { user: '71', channel: 'news' });
  for (const raw of [b, c]) {
    assert.deepEqual(await raw.push((p) => p.subscribe !== undefined, 5000, 'subscribe push'), {
      push: { channel: 'news', subscribe: {} },
    });
  }
  const d = await rawSession(ctx.server, { token: token('71') });
  b.close();
  await b.closed;
  await sleep(100);
  await apiOk('disconnect', { user: '71' });
  for (const raw of [c, d]) assert.ok((await raw.closed).code >= 3000);
  // all gone: a new connection of the user is a fresh start
  const e = await rawSession(ctx.server, { token: token('71') });
  await apiOk('subscribe', { user: '71', channel: 'news' });
  assert.deepEqual(await e.push((p) => p.subscribe !== undefined, 5000, 'subscribe push'), {
    push: { channel: 'news', subscribe: {} },
  });
});

t('API subscribe with client: only that connection; with data: the push carries it', async () => {
  const a = await rawSession(ctx.server, { token: token('9') });
  const b = await rawSession(ctx.server, { token: token('9'), channels: ['barrier2'] });
  await apiOk('subscribe', { user: '9', client: a.client, channel: 'news', data: { hello: 'there' } });
  assert.deepEqual(await a.push((p) => p.subscribe !== undefined, 5000, 'subscribe push'), {
    push: { channel: 'news', subscribe: { data: { hello: 'there' } } },
  });
  await publish(ctx.server, 'news', { n: 2 });
  await publish(ctx.server, 'barrier2', { b: 2 });
  assert.deepEqual(await a.next(), { push: { channel: 'news', pub: { data: { n: 2 } } } });
  assert.deepEqual(await b.next(), { push: { channel: 'barrier2', pub: { data: { b: 2 } } } });
});

t('centrifuge-js: API subscribe emits a client-level subscribed event, then publications', async () => {
  const c = newClient(ctx.server, { token: token('11') });
  const subs = events(c, 'subscribed');
  const pubs = events(c, 'publication');
  await connected(c);
  await apiOk('subscribe', { user: '11', channel: 'chat:api' });
  const s = await subs.next();
  assert.equal(s.channel, 'chat:api');
  await publish(ctx.server, 'chat:api', { n: 3 });
  const p = await pubs.next();
  assert.equal(p.channel, 'chat:api');
  assert.deepEqual(p.data, { n: 3 });
});

t('API subscribe into a channel with history: the push gives the position; recover_since recovers', async () => {
  const ch = `hs:api${Date.now()}`;
  const first = (await api(ctx.server, 'publish', { channel: ch, data: { n: 1 } })).body.result;
  await publish(ctx.server, ch, { n: 2 });
  const raw = await rawSession(ctx.server, { token: token('15') });
  await apiOk('subscribe', { user: '15', channel: ch });
  const r = (await raw.push((p) => p.subscribe !== undefined, 5000, 'subscribe push')).push.subscribe;
  assert.deepEqual(
    { positioned: r.positioned, recoverable: r.recoverable, epoch: r.epoch, offset: r.offset },
    { positioned: true, recoverable: true, epoch: first.epoch, offset: 2 },
  );
  await publish(ctx.server, ch, { n: 3 });
  assert.deepEqual(await raw.next(), { push: { channel: ch, pub: { data: { n: 3 }, offset: 3 } } });
  // another connection, subscribed with recover_since: what it missed comes in the push
  const back = await rawSession(ctx.server, { token: token('16') });
  await apiOk('subscribe', { user: '16', channel: ch, recover_since: { offset: 1, epoch: first.epoch } });
  const rec = (await back.push((p) => p.subscribe !== undefined, 5000, 'recovering subscribe push')).push.subscribe;
  assert.equal(rec.recovered, true, JSON.stringify(rec));
  assert.deepEqual(offsets(rec.publications), [2, 3]);
  await publish(ctx.server, ch, { n: 4 });
  assert.deepEqual(await back.next(), { push: { channel: ch, pub: { data: { n: 4 }, offset: 4 } } });
});

t('API unsubscribe → unsubscribe push 2000 "server unsubscribe", and no more publications', async () => {
  const raw = await rawSession(ctx.server, { token: token('12'), channels: ['news', 'barrier3'] });
  await apiOk('unsubscribe', { user: '12', channel: 'news' });
  assert.deepEqual(await raw.push((p) => p.unsubscribe !== undefined, 5000, 'unsubscribe push'), {
    push: { channel: 'news', unsubscribe: { code: 2000, reason: 'server unsubscribe' } },
  });
  await publish(ctx.server, 'news', { gone: true });
  await publish(ctx.server, 'barrier3', { b: 3 });
  assert.deepEqual(await raw.next(), { push: { channel: 'barrier3', pub: { data: { b: 3 } } } });
  // the client may subscribe again
  const r = await rawCall(raw, { subscribe: { channel: 'news' } });
  assert.deepEqual(r, { id: r.id, subscribe: {} });
});

t('centrifuge-js: API unsubscribe of a client-side subscription → unsubscribed with code 2000', async () => {
  const c = newClient(ctx.server, { token: token('13') });
  await connected(c);
  const sub = newSubscription(c, 'chat:gone');
  const unsubs = events(sub, 'unsubscribed');
  await subscribed(sub);
  await apiOk('unsubscribe', { user: '13', channel: 'chat:gone' });
  const u = await unsubs.next();
  assert.equal(u.code, 2000);
  assert.equal(u.reason, 'server unsubscribe');
  assert.equal(sub.state, 'unsubscribed');
});

t('centrifuge-js: API unsubscribe of a server-side subscription → client-level unsubscribed event', async () => {
  const c = newClient(ctx.server, { token: token('14', { channels: ['news'] }) });
  const unsubs = events(c, 'unsubscribed');
  await connected(c);
  await apiOk('unsubscribe', { user: '14', channel: 'news' });
  const u = await unsubs.next();
  assert.equal(u.channel, 'news');
});

// ---------------------------------------------------------------------------------------------
// personal channel

/** A server of its own for one test, checked for a clean exit afterwards. */
function withServer(config, fn) {
  return async () => {
    const srv = await startServer(config);
    try {
      await withLogsOnFailure(srv, () => fn(srv));
    } finally {
      await assertCleanExit(srv);
    }
  };
}

test(
  'subscribe_to_user_personal_channel: user 42 is subscribed to #42; anonymous users get no personal channel',
  withServer(
    merge(defaultConfig(), {
      client: { subscribe_to_user_personal_channel: { enabled: true } },
    }),
    async (srv) => {
      const raw = await rawSession(srv, { token: jwt.connToken(srv.secret, '42') });
      assert.deepEqual(raw.connectResult.subs, { '#42': {} }, JSON.stringify(raw.connectResult));
      await publish(srv, '#42', { personal: true });
      assert.deepEqual(await raw.next(), { push: { channel: '#42', pub: { data: { personal: true } } } });

      // centrifuge-js sees it as a server-side subscription
      const c = newClient(srv, { token: jwt.connToken(srv.secret, '43') });
      const subs = events(c, 'subscribed');
      const pubs = events(c, 'publication');
      await connected(c);
      assert.equal((await subs.next()).channel, '#43');
      await publish(srv, '#43', { to: 43 });
      const p = await pubs.next();
      assert.equal(p.channel, '#43');
      assert.deepEqual(p.data, { to: 43 });

      const anon = await rawSession(srv, { token: jwt.connToken(srv.secret, '') });
      assert.equal(anon.connectResult.subs, undefined, JSON.stringify(anon.connectResult));
    },
  ),
);

test(
  'personal_channel_namespace: user 42 is subscribed to personal:#42',
  withServer(
    merge(defaultConfig(), {
      client: { subscribe_to_user_personal_channel: { enabled: true, personal_channel_namespace: 'personal' } },
      channel: { namespaces: [{ name: 'personal' }] },
    }),
    async (srv) => {
      const raw = await rawSession(srv, { token: jwt.connToken(srv.secret, '42') });
      assert.deepEqual(raw.connectResult.subs, { 'personal:#42': {} }, JSON.stringify(raw.connectResult));
      await publish(srv, 'personal:#42', { personal: true });
      assert.deepEqual(await raw.next(), { push: { channel: 'personal:#42', pub: { data: { personal: true } } } });
    },
  ),
);
