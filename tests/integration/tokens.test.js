'use strict';
// Subscription tokens (private `$` channels, the Laravel getToken flow), connection and
// subscription expiry, and the refresh / sub_refresh flows (spec §1.6 refresh/sub_refresh,
// §2, §3.1, §3.2, §3.5; laravel.md §1.4-§1.5).

const assert = require('node:assert/strict');
const { defaultConfig, merge } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall } = require('./lib/client');
const { sleep } = require('./lib/wait');
const { sharedServer, events, closedWithin, staysOpen, assertErrorReply } = require('./lib/chan');

const ctx = sharedServer(() =>
  merge(defaultConfig(), {
    client: {
      // expired connections and subscriptions are closed 1 s after expiry (default 25 s)
      expired_close_delay: '1s',
      expired_sub_close_delay: '1s',
      presence_update_interval: '1s',
    },
    channel: {
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        // no subscribe permission at all: only a subscription token lets a client in
        { name: 'closed' },
      ],
    },
  }),
);
const { t } = ctx;
const secret = () => ctx.server.secret;
const connToken = (user = '1', extra = {}, opts) => jwt.connToken(secret(), user, extra, opts);
/** Subscription token like laravel-centrifugo's generatePrivateChannelToken: no exp by default. */
const subToken = (user, channel, extra = {}, opts = { ttl: 0 }) => jwt.subToken(secret(), user, channel, extra, opts);

// ---------------------------------------------------------------------------------------------
// private channels and subscription tokens

t('Laravel flow: $orders.1 with getToken → subscribed, and an API publication arrives', async () => {
  const c = newClient(ctx.server, { token: connToken('1', {}, { ttl: 300 }) });
  await connected(c);
  const asked = [];
  const sub = newSubscription(c, '$orders.1', {
    getToken: async (tctx) => {
      asked.push(tctx.channel);
      return subToken('1', '$orders.1');
    },
  });
  await subscribed(sub);
  assert.deepEqual(asked, ['$orders.1']);
  await publish(ctx.server, '$orders.1', { event: 'private.e2e', message: 'hello' });
  const pub = await nextPublication(sub);
  assert.equal(pub.data.event, 'private.e2e');
  assert.equal(pub.data.message, 'hello');
});

t('$orders.1 without a token → 103 (SDK subscription ends unsubscribed with 103; raw error reply)', async () => {
  const c = newClient(ctx.server, { token: connToken('1') });
  await connected(c);
  const sub = newSubscription(c, '$orders.1');
  await assert.rejects(subscribed(sub), (err) => err.code === 103);

  const raw = await rawSession(ctx.server, { token: connToken('1') });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.1' } }), 103, 'permission denied');
  assert.ok(raw.isOpen());
});

t('raw: a valid subscription token → subscribed; its data claim comes back in the result', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const r = await rawCall(raw, { subscribe: { channel: '$orders.7', token: subToken('1', '$orders.7', { data: { order: 7 } }) } });
  assert.deepEqual(r, { id: r.id, subscribe: { data: { order: 7 } } });
  await publish(ctx.server, '$orders.7', { n: 1 });
  assert.deepEqual(await raw.next(), { push: { channel: '$orders.7', pub: { data: { n: 1 } } } });
});

t('a subscription token opens a channel without any subscribe permission', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'closed:x' } }), 103, 'permission denied');
  const r = await rawCall(raw, { subscribe: { channel: 'closed:x', token: subToken('1', 'closed:x') } });
  assert.deepEqual(r, { id: r.id, subscribe: {} });
});

t('raw: a token for another channel → close 3500 invalid token', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  raw.cmd({ subscribe: { channel: '$orders.1', token: subToken('1', '$orders.2') } });
  const c = await closedWithin(raw, 5000);
  assert.equal(c.code, 3500);
  assert.equal(c.reason, 'invalid token');
});

t("raw: a token with another user's sub → close 3500", async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  raw.cmd({ subscribe: { channel: '$orders.1', token: subToken('2', '$orders.1') } });
  assert.equal((await closedWithin(raw, 5000)).code, 3500);
});

t('raw: a client claim must be this connection: own id → subscribed, another id → 3500', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const ok = await rawCall(raw, { subscribe: { channel: '$orders.3', token: subToken('1', '$orders.3', { client: raw.client }) } });
  assert.deepEqual(ok, { id: ok.id, subscribe: {} });
  raw.cmd({ subscribe: { channel: '$orders.4', token: subToken('1', '$orders.4', { client: 'another-client-id' }) } });
  assert.equal((await closedWithin(raw, 5000)).code, 3500);
});

t('raw: expired subscription token → error 109, the connection stays', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const expired = jwt.makeToken(secret(), { sub: '1', channel: '$orders.1', exp: jwt.now() - 60 });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.1', token: expired } }), 109, 'token expired');
  assert.ok(raw.isOpen());
});

t('centrifuge-js: an expired subscription token makes the SDK call getToken again (109 flow)', async () => {
  const c = newClient(ctx.server, { token: connToken('1') });
  await connected(c);
  let calls = 0;
  const sub = newSubscription(c, '$orders.1', {
    getToken: async () => {
      calls++;
      if (calls === 1) return jwt.makeToken(secret(), { sub: '1', channel: '$orders.1', exp: jwt.now() - 60 });
      return subToken('1', '$orders.1');
    },
  });
  await subscribed(sub, 8000);
  assert.equal(calls, 2);
  await publish(ctx.server, '$orders.1', { after: 'refresh' });
  assert.deepEqual((await nextPublication(sub)).data, { after: 'refresh' });
});

t('malformed or wrongly signed subscription token → 103, not a disconnect (spec §3.2)', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const wrongKey = jwt.wrongKeyToken({ sub: '1', channel: '$orders.1' });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.1', token: wrongKey } }), 103, 'permission denied');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.1', token: 'not.a.jwt' } }), 103, 'permission denied');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.1', token: 'garbage' } }), 103, 'permission denied');
  assert.ok(raw.isOpen());
  // still usable
  const ok = await rawCall(raw, { subscribe: { channel: '$orders.1', token: subToken('1', '$orders.1') } });
  assert.deepEqual(ok, { id: ok.id, subscribe: {} });
});

// ---------------------------------------------------------------------------------------------
// connection expiry and refresh

t('connect result: expires true and ttl near 3 for a token expiring in 3 s', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 3 }) });
  assert.equal(raw.connectResult.expires, true);
  assert.ok(raw.connectResult.ttl >= 2 && raw.connectResult.ttl <= 3, `ttl ${raw.connectResult.ttl}`);
});

t('centrifuge-js refreshes a 3 s connection token with getToken and stays connected for 8 s', async () => {
  let calls = 0;
  const c = newClient(ctx.server, {
    token: connToken('1', {}, { ttl: 3 }),
    getToken: async () => {
      calls++;
      return connToken('1', {}, { ttl: 3 });
    },
  });
  await connected(c);
  const sub = newSubscription(c, 'news');
  await subscribed(sub);
  const mark = c.lc.events.length;
  for (let i = 0; i < 8; i++) {
    await sleep(1000);
    await publish(ctx.server, 'news', { i });
    assert.deepEqual((await nextPublication(sub, 3000)).data, { i });
  }
  assert.deepEqual(
    c.lc.events.slice(mark).map((e) => `${e.type} ${e.ctx.code} ${e.ctx.reason}`),
    [],
    'the client was disconnected',
  );
  assert.equal(c.state, 'connected');
  assert.ok(calls >= 2, `getToken called ${calls} times in 8 s`);
});

t('raw client that never refreshes (exp 2 s, expired_close_delay 1 s) → closed with 3005', async () => {
  const started = Date.now();
  const raw = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 2 }) });
  const c = await closedWithin(raw, 7000, 'close 3005 of the expired connection');
  assert.equal(c.code, 3005);
  assert.equal(c.reason, 'connection expired');
  assert.ok(Date.now() - started >= 1500, `closed after ${Date.now() - started} ms, before the token expired`);
});

t('raw refresh with a valid token → {expires, ttl} and the connection outlives the first token', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 2 }) });
  const r = await rawCall(raw, { refresh: { token: connToken('1', {}, { ttl: 600 }) } });
  assert.equal(r.refresh?.expires, true, JSON.stringify(r));
  assert.ok(r.refresh.ttl >= 598 && r.refresh.ttl <= 600, `ttl ${r.refresh.ttl}`);
  assert.ok(await staysOpen(raw, 4500), 'the refreshed connection was closed');
});

t('raw refresh with an expired token → close 3005', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 60 }) });
  raw.cmd({ refresh: { token: jwt.makeToken(secret(), { sub: '1', exp: jwt.now() - 60 }) } });
  const c = await closedWithin(raw, 5000);
  assert.equal(c.code, 3005);
  assert.equal(c.reason, 'connection expired');
});

t("raw refresh with another user's token → close 3500", async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 60 }) });
  raw.cmd({ refresh: { token: connToken('2', {}, { ttl: 600 }) } });
  const c = await closedWithin(raw, 5000);
  assert.equal(c.code, 3500);
  assert.equal(c.reason, 'invalid token');
});

t('raw refresh with a badly signed token → 3500; with an empty token → 3501', async () => {
  const a = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 60 }) });
  a.cmd({ refresh: { token: jwt.wrongKeyToken({ sub: '1' }) } });
  assert.equal((await closedWithin(a, 5000)).code, 3500);
  const b = await rawSession(ctx.server, { token: connToken('1', {}, { ttl: 60 }) });
  b.cmd({ refresh: { token: '' } });
  assert.equal((await closedWithin(b, 5000)).code, 3501);
});

t('expire_at claim overrides exp: expires in 2 s although exp is an hour away → 3005', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', { expire_at: jwt.now() + 2 }, { ttl: 3600 }) });
  assert.equal(raw.connectResult.expires, true);
  assert.ok(raw.connectResult.ttl >= 1 && raw.connectResult.ttl <= 2, `ttl ${raw.connectResult.ttl}`);
  const c = await closedWithin(raw, 7000, 'close 3005 at expire_at');
  assert.equal(c.code, 3005);
});

t('expire_at 0: the connection never expires although exp passes', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1', { expire_at: 0 }, { ttl: 2 }) });
  assert.equal(raw.connectResult.expires, undefined, JSON.stringify(raw.connectResult));
  assert.equal(raw.connectResult.ttl, undefined);
  assert.ok(await staysOpen(raw, 4500), 'the connection was closed although expire_at is 0');
});

// ---------------------------------------------------------------------------------------------
// subscription expiry and sub_refresh

t('raw sub_refresh: expires/ttl in subscribe and sub_refresh results', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const s = await rawCall(raw, { subscribe: { channel: '$orders.5', token: subToken('1', '$orders.5', {}, { ttl: 60 }) } });
  assert.equal(s.subscribe?.expires, true, JSON.stringify(s));
  assert.ok(s.subscribe.ttl >= 58 && s.subscribe.ttl <= 60, `ttl ${s.subscribe.ttl}`);
  const r = await rawCall(raw, { sub_refresh: { channel: '$orders.5', token: subToken('1', '$orders.5', {}, { ttl: 600 }) } });
  assert.equal(r.sub_refresh?.expires, true, JSON.stringify(r));
  assert.ok(r.sub_refresh.ttl >= 598 && r.sub_refresh.ttl <= 600, `ttl ${r.sub_refresh.ttl}`);
});

t('raw sub_refresh errors: not subscribed → 103, empty token → 107', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const notSub = await rawCall(raw, { sub_refresh: { channel: '$orders.9', token: subToken('1', '$orders.9') } });
  assertErrorReply(notSub, 103, 'permission denied');
  const s = await rawCall(raw, { subscribe: { channel: '$orders.9', token: subToken('1', '$orders.9', {}, { ttl: 60 }) } });
  assert.ok(s.subscribe, JSON.stringify(s));
  assertErrorReply(await rawCall(raw, { sub_refresh: { channel: '$orders.9', token: '' } }), 107, 'bad request');
  assert.ok(raw.isOpen());
});

t('raw sub_refresh with a token for another channel → close 3500', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const s = await rawCall(raw, { subscribe: { channel: '$orders.6', token: subToken('1', '$orders.6', {}, { ttl: 60 }) } });
  assert.ok(s.subscribe, JSON.stringify(s));
  raw.cmd({ sub_refresh: { channel: '$orders.6', token: subToken('1', '$orders.8', {}, { ttl: 60 }) } });
  assert.equal((await closedWithin(raw, 5000)).code, 3500);
});

t('centrifuge-js refreshes a 3 s subscription token (sub_refresh) and stays subscribed for 8 s', async () => {
  const c = newClient(ctx.server, { token: connToken('1') });
  await connected(c);
  let calls = 0;
  const sub = newSubscription(c, '$orders.10', {
    getToken: async () => {
      calls++;
      return subToken('1', '$orders.10', {}, { ttl: 3 });
    },
  });
  await subscribed(sub);
  // from now on the subscription must not change state
  const changes = [];
  for (const ev of ['subscribing', 'unsubscribed', 'error']) sub.on(ev, (e) => changes.push(`${ev} ${e.code ?? ''} ${e.reason ?? ''}`));
  const subs = events(sub, 'subscribed');
  for (let i = 0; i < 8; i++) {
    await sleep(1000);
    await publish(ctx.server, '$orders.10', { i });
    assert.deepEqual((await nextPublication(sub, 3000)).data, { i });
  }
  assert.deepEqual(changes, [], 'the subscription was interrupted');
  assert.deepEqual(subs.pending(), [], 'the subscription was subscribed again');
  assert.equal(sub.state, 'subscribed');
  assert.ok(calls >= 3, `getToken called ${calls} times in 8 s (1 subscribe + at least 2 refreshes)`);
});

t('raw client that never refreshes its 2 s subscription token → unsubscribe push 2501', async () => {
  const raw = await rawSession(ctx.server, { token: connToken('1') });
  const s = await rawCall(raw, { subscribe: { channel: '$orders.11', token: subToken('1', '$orders.11', {}, { ttl: 2 }) } });
  assert.equal(s.subscribe?.expires, true, JSON.stringify(s));
  const u = await raw.push((p) => p.unsubscribe !== undefined, 10000, 'unsubscribe push 2501');
  assert.deepEqual(u, { push: { channel: '$orders.11', unsubscribe: { code: 2501, reason: 'subscription expired' } } });
  assert.ok(raw.isOpen(), 'an expired subscription must not close the connection');
});
