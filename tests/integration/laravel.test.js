'use strict';
// The Laravel broadcasting-auth bridge: a subscribe proxy with Lucent's `"protocol":
// "laravel_auth"` asks the Laravel app's own POST /broadcasting/auth (form-encoded
// channel_name and socket_id, the request pusher-js makes) instead of a Centrifugo proxy
// endpoint. 2xx allows, 403 denies (103), anything else is a temporary failure (100); for a
// presence channel the returned channel_data.user_info becomes the chan_info. A Node backend
// plays the Laravel app (lib/backend.js). See examples/laravel/ and laravel.md §2.2-§2.3.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, freePort, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { WebSocket, newClient, connected, newSubscription, subscribed, nextPublication, rawConnect, rawSession, rawCall } = require('./lib/client');
const { sleep } = require('./lib/wait');
const { closedWithin, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const AUTH = '/broadcasting/auth';
const INTERNAL = { code: 100, message: 'internal server error', temporary: true };

let backend;
// answers of /broadcasting/auth by Laravel channel name (default: 200 {"auth": ...})
const authCases = new Map();
const ctx = { server: null };

function laravelConfig(authUrl, extra = {}) {
  return merge(
    merge(defaultConfig(), {
      client: {
        proxy: {
          // the example setup: Laravel authenticates the connection from its session cookie
          connect: { enabled: true, endpoint: backend.url('/centrifugo/connect'), http_headers: ['Cookie', 'Authorization'] },
        },
      },
      channel: {
        proxy: {
          subscribe: {
            endpoint: authUrl,
            protocol: 'laravel_auth',
            timeout: '500ms',
            http_headers: ['Cookie', 'X-CSRF-TOKEN', 'Authorization'],
            // a browser cannot set headers on a WebSocket: an SPA sends its bearer token with
            // centrifuge-js `headers` (the connect command's headers) instead
            emulated_headers: ['Authorization', 'X-CSRF-TOKEN'],
          },
        },
        without_namespace: {
          subscribe_proxy_enabled: true,
          presence: true,
          allow_presence_for_subscriber: true,
        },
        namespaces: [{ name: 'public', allow_subscribe_for_client: true }],
      },
    }),
    extra,
  );
}

before(async () => {
  backend = await startBackend({
    '/centrifugo/connect': (r) => {
      // a stand-in for Laravel's session: the cookie names the user
      const m = /laravel_session=user-(\w+)/.exec(r.headers.cookie || '');
      if (!m) return { json: { disconnect: { code: 4501, reason: 'unauthenticated' } } };
      return { json: { result: { user: m[1], info: { name: `user ${m[1]}` } } } };
    },
    [AUTH]: (r) => {
      const sc = authCases.get(r.form?.channel_name);
      if (typeof sc === 'function') return sc(r);
      return sc ?? { json: { auth: 'app-key:0123abcd' } };
    },
  });
  ctx.server = await startServer(laravelConfig(backend.url(AUTH)));
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
  await backend?.close();
});
const t = (name, fn, opts = {}) =>
  test(name, opts, () => {
    authCases.clear();
    return withLogsOnFailure(ctx.server, fn);
  });

/** The headers a browser on the Laravel site sends with the WebSocket upgrade. */
const browserHeaders = (user = '1') => ({
  Cookie: `laravel_session=user-${user}; XSRF-TOKEN=xsrf`,
  'X-CSRF-TOKEN': 'csrf-123',
  Authorization: 'Bearer sanctum-token',
  'X-Other': 'not forwarded',
});

/** A raw connection authenticated by the connect proxy from the session cookie. */
async function laravelSession(user = '1', server = ctx.server) {
  const raw = await rawConnect(server, { headers: browserHeaders(user) });
  const id = raw.cmd({ connect: {} });
  const reply = await raw.reply(id);
  assert.ok(reply.connect, `connect failed: ${JSON.stringify(reply)}`);
  raw.client = reply.connect.client;
  return raw;
}

/** The next /broadcasting/auth request of this client (socket_id is the client id). */
const nextAuth = (client, ms = 5000) => backend.next(AUTH, ms, (r) => r.form?.socket_id === client);

/** A ws class sending the browser headers on the upgrade (for centrifuge-js). */
function browserWebSocket(user) {
  const headers = browserHeaders(user);
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers });
    }
  };
}

t('$orders.1: POST /broadcasting/auth, form-encoded channel_name=private-orders.1&socket_id=<client id>, browser headers forwarded', async () => {
  const raw = await laravelSession('1');
  const r = await rawCall(raw, { subscribe: { channel: '$orders.1' } });
  assert.deepEqual(r, { id: r.id, subscribe: {} });
  const req = await nextAuth(raw.client);
  assert.equal(req.method, 'POST');
  assert.equal(req.path, AUTH);
  assert.match(req.headers['content-type'], /^application\/x-www-form-urlencoded/);
  assert.equal(req.body, `channel_name=private-orders.1&socket_id=${raw.client}`);
  assert.deepEqual(req.form, { channel_name: 'private-orders.1', socket_id: raw.client });
  assert.equal(req.headers.cookie, 'laravel_session=user-1; XSRF-TOKEN=xsrf');
  assert.equal(req.headers['x-csrf-token'], 'csrf-123');
  assert.equal(req.headers.authorization, 'Bearer sanctum-token');
  assert.equal(req.headers['x-other'], undefined);

  await publish(ctx.server, '$orders.1', { event: 'shipment.status.updated', order_id: 1 });
  const { push } = await raw.push((p) => p.channel === '$orders.1');
  assert.deepEqual(push.pub.data, { event: 'shipment.status.updated', order_id: 1 });
});

t('channel names: orders.2 → private-orders.2, presence-chat.1 stays, $presence-room.2 → presence-room.2', async () => {
  const raw = await laravelSession('1');
  for (const [lucent, laravel] of [
    ['orders.2', 'private-orders.2'],
    ['presence-chat.1', 'presence-chat.1'],
    ['$presence-room.2', 'presence-room.2'],
  ]) {
    if (laravel.startsWith('presence-')) {
      authCases.set(laravel, { json: { auth: 'k:s', channel_data: JSON.stringify({ user_id: '1', user_info: { n: 1 } }) } });
    }
    const r = await rawCall(raw, { subscribe: { channel: lucent } });
    assert.ok(r.subscribe, `${lucent}: ${JSON.stringify(r)}`);
    const req = await nextAuth(raw.client);
    assert.equal(req.form.channel_name, laravel, `${lucent} is asked as ${laravel}`);
  }
});

t('emulated headers: an Authorization sent with centrifuge-js `headers` reaches /broadcasting/auth', async () => {
  // only the cookie comes with the upgrade, as from a browser
  const c = newClient(ctx.server, {
    websocket: class extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols, { headers: { Cookie: 'laravel_session=user-3' } });
      }
    },
    headers: { Authorization: 'Bearer spa-token', 'X-Unlisted': 'no' },
  });
  const cc = await connected(c);
  await subscribed(newSubscription(c, '$orders.3'));
  const req = await nextAuth(cc.client);
  assert.equal(req.headers.authorization, 'Bearer spa-token');
  assert.equal(req.headers.cookie, 'laravel_session=user-3');
  assert.equal(req.headers['x-unlisted'], undefined);
});

t('403 from /broadcasting/auth → subscribe error 103; the connection stays', async () => {
  authCases.set('private-orders.9', { status: 403, body: '' });
  const raw = await laravelSession('1');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: '$orders.9' } }), 103, 'permission denied');
  assert.ok(raw.isOpen());
});

t('centrifuge-js: 403 → the subscription ends unsubscribed with code 103', async () => {
  authCases.set('private-orders.9', { status: 403, body: '' });
  const c = newClient(ctx.server, { websocket: browserWebSocket('1') });
  await connected(c);
  await assert.rejects(subscribed(newSubscription(c, '$orders.9')), (err) => err.code === 103);
});

t('500 (or an unreachable / garbage-speaking backend) → error 100 temporary', async () => {
  authCases.set('private-orders.5', { status: 500, body: 'Server Error' });
  authCases.set('private-orders.6', { garbage: true });
  authCases.set('private-orders.7', { destroy: true });
  authCases.set('private-orders.8', { delayMs: 1500, json: { auth: 'late' } }); // timeout 500ms
  const raw = await laravelSession('1');
  for (const ch of ['$orders.5', '$orders.6', '$orders.7', '$orders.8']) {
    const r = await rawCall(raw, { subscribe: { channel: ch } });
    assert.deepEqual(r.error, INTERNAL, `${ch}: ${JSON.stringify(r)}`);
  }
  assert.ok(raw.isOpen());
});

t('2xx with any body allows (Laravel answers {"auth": ...}; some apps answer true or nothing)', async () => {
  authCases.set('private-orders.20', { json: true });
  authCases.set('private-orders.21', { status: 204 });
  const raw = await laravelSession('1');
  for (const ch of ['$orders.20', '$orders.21']) {
    const r = await rawCall(raw, { subscribe: { channel: ch } });
    assert.deepEqual(r, { id: r.id, subscribe: {} }, ch);
  }
});

t('presence-chat.1: channel_data.user_info becomes chan_info in presence()', async () => {
  authCases.set('presence-chat.1', (r) => ({
    json: {
      auth: 'app-key:abcd',
      channel_data: JSON.stringify({ user_id: r.headers.cookie.includes('user-1') ? '1' : '2', user_info: { name: r.headers.cookie.includes('user-1') ? 'Ann' : 'Bob' } }),
    },
  }));
  const c = newClient(ctx.server, { websocket: browserWebSocket('1') });
  const cc = await connected(c);
  const sub = newSubscription(c, 'presence-chat.1');
  await subscribed(sub);
  const req = await nextAuth(cc.client);
  assert.deepEqual(req.form, { channel_name: 'presence-chat.1', socket_id: cc.client });

  const other = await laravelSession('2');
  assert.ok((await rawCall(other, { subscribe: { channel: 'presence-chat.1' } })).subscribe);

  const p = await sub.presence();
  assert.deepEqual(p.clients[cc.client].chan_info, { name: 'Ann' });
  assert.equal(p.clients[cc.client].user, '1');
  assert.deepEqual(p.clients[other.client].chan_info, { name: 'Bob' });
});

t('the bridge is not asked for a subscription token nor for channels of another namespace', async () => {
  const raw = await laravelSession('1');
  const before = backend.calls(AUTH).length;
  const tok = jwt.subToken(ctx.server.secret, '1', '$orders.30', {}, { ttl: 0 });
  const a = await rawCall(raw, { subscribe: { channel: '$orders.30', token: tok } });
  assert.deepEqual(a, { id: a.id, subscribe: {} });
  const b = await rawCall(raw, { subscribe: { channel: 'public:news' } });
  assert.deepEqual(b, { id: b.id, subscribe: {} });
  await sleep(200);
  assert.equal(backend.calls(AUTH).length, before);
});

t('toOthers: the sender passes its client id as X-Socket-ID; the app publishes with exclude_client', async () => {
  // two tabs of user 1 on $orders.1; tab A triggers the change, tab B must see it, A must not
  const a = newClient(ctx.server, { websocket: browserWebSocket('1') });
  const socketId = (await connected(a)).client;
  const subA = newSubscription(a, '$orders.1');
  await subscribed(subA);
  const b = newClient(ctx.server, { websocket: browserWebSocket('1') });
  await connected(b);
  const subB = newSubscription(b, '$orders.1');
  await subscribed(subB);

  // what the Laravel controller does with $request->header('X-Socket-ID')
  const r = await api(ctx.server, 'publish', {
    channel: '$orders.1',
    data: { event: 'order.updated', socket: socketId },
    exclude_client: socketId,
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual((await nextPublication(subB)).data, { event: 'order.updated', socket: socketId });
  await assert.rejects(nextPublication(subA, 400), /timed out/);
});

t('no session cookie → the connect proxy answers disconnect 4501', async () => {
  const raw = await rawConnect(ctx.server, { headers: { 'X-CSRF-TOKEN': 'x' } });
  raw.cmd({ connect: {} });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4501, reason: 'unauthenticated' });
});

test('Laravel app down: subscribe → error 100 temporary, quickly', async () => {
  const deadUrl = `http://127.0.0.1:${await freePort()}${AUTH}`;
  const server = await startServer(laravelConfig(deadUrl));
  await withLogsOnFailure(server, async () => {
    const raw = await laravelSession('1', server);
    const started = Date.now();
    const r = await rawCall(raw, { subscribe: { channel: '$orders.1' } });
    assert.deepEqual(r.error, INTERNAL);
    assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms`);
  });
  await assertCleanExit(server);
});

test('a token-connected client works with the bridge too (no connect proxy)', async () => {
  const server = await startServer(
    merge(laravelConfig(backend.url(AUTH)), { client: { proxy: { connect: { enabled: false } } } }),
  );
  await withLogsOnFailure(server, async () => {
    const raw = await rawSession(server, { token: jwt.connToken(server.secret, '1'), headers: browserHeaders('1') });
    const r = await rawCall(raw, { subscribe: { channel: '$orders.1' } });
    assert.deepEqual(r, { id: r.id, subscribe: {} });
    const req = await nextAuth(raw.client);
    assert.equal(req.headers['x-csrf-token'], 'csrf-123');
  });
  await assertCleanExit(server);
});
