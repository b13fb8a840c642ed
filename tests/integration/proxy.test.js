'use strict';
// Proxy hooks (spec §5): connect, refresh, subscribe, publish, sub_refresh and rpc decisions
// asked of an HTTP backend (lib/backend.js), with the exact request bodies and forwarded
// headers, every result field that reaches the client, the error / disconnect pass-through,
// and backend failures (down, timeout, non-200, garbage) answered with error 100 while the
// server keeps serving everyone else (spec §1.6, §2, §3.5, §5.1-§5.4, §6.3).

const assert = require('node:assert/strict');
const { test, before, after, beforeEach } = require('node:test');
const { startServer, defaultConfig, merge, freePort, httpGet, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { WebSocket, newClient, connected, newSubscription, subscribed, rawConnect, rawSession, rawCall } = require('./lib/client');
const { sleep, withTimeout } = require('./lib/wait');
const { closedWithin, staysOpen, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const INTERNAL = { code: 100, message: 'internal server error', temporary: true };

let backend;
let deadUrl; // a port nobody listens on: connection refused
// Answers chosen per test: the connect proxy by the connect command's data.case, the others
// by channel (subscribe, publish, sub_refresh), method (rpc) or client id (refresh).
const connectCases = new Map();
const subscribeCases = new Map();
const publishCases = new Map();
const subRefreshCases = new Map();
const rpcCases = new Map();
const refreshCases = new Map();

const pick = (cases, key, fallback) => (r) => {
  const sc = cases.get(key(r));
  if (typeof sc === 'function') return sc(r);
  return sc ?? fallback(r);
};

beforeEach(() => {
  for (const m of [connectCases, subscribeCases, publishCases, subRefreshCases, rpcCases, refreshCases]) m.clear();
});

async function startProxyBackend() {
  backend = await startBackend({
    '/connect': pick(
      connectCases,
      (r) => r.json?.data?.case,
      (r) => ({ json: { result: { user: String(r.json?.data?.user ?? '56'), info: { name: 'Alex' } } } }),
    ),
    '/subscribe': pick(subscribeCases, (r) => r.json?.channel, () => ({ json: { result: {} } })),
    '/other': { json: { result: { data: { via: 'other' } } } },
    '/publish': pick(publishCases, (r) => r.json?.channel, () => ({ json: { result: {} } })),
    '/sub_refresh': pick(subRefreshCases, (r) => r.json?.channel, () => ({ json: { result: { expire_at: jwt.now() + 600 } } })),
    '/rpc': pick(rpcCases, (r) => r.json?.method, (r) => ({ json: { result: { data: { echo: r.json?.data ?? null } } } })),
    '/rpc2': (r) => ({ json: { result: { data: { via: 'rpc2', method: r.json?.method } } } }),
    '/b/connect': (r) => ({ json: { result: { user: '7', expire_at: jwt.now() + Number(r.json?.data?.ttl ?? 3600) } } }),
    '/b/refresh': pick(refreshCases, (r) => r.json?.client, () => ({ json: { result: { expire_at: jwt.now() + 600 } } })),
  });
  deadUrl = `http://127.0.0.1:${await freePort()}/dead`;
}

/** The main server: every proxy kind but refresh (its own server at the end of the file). */
const mainConfig = () =>
  merge(defaultConfig(), {
    workers: 2,
    client: {
      // subscription expiry is checked on the presence timer
      presence_update_interval: '1s',
      proxy: {
        connect: {
          enabled: true,
          endpoint: backend.url('/connect'),
          timeout: '300ms',
          http_headers: ['Cookie', 'authorization'],
          emulated_headers: ['X-Emulated', 'Cookie'],
          http: { static_headers: { 'X-Static': 'static-1' } },
        },
      },
    },
    channel: {
      proxy: {
        subscribe: { endpoint: backend.url('/subscribe'), http_headers: ['Cookie'] },
        publish: { endpoint: backend.url('/publish') },
        sub_refresh: { endpoint: backend.url('/sub_refresh') },
      },
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        { name: 'sp', subscribe_proxy_enabled: true, presence: true, allow_presence_for_subscriber: true },
        { name: 'sr', subscribe_proxy_enabled: true, sub_refresh_proxy_enabled: true },
        { name: 'ul', subscribe_proxy_enabled: true, allow_user_limited_channels: true },
        { name: 'pp', publish_proxy_enabled: true, allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s' },
        { name: 'named', subscribe_proxy_enabled: true, subscribe_proxy_name: 'other' },
        { name: 'dead', subscribe_proxy_enabled: true, subscribe_proxy_name: 'dead' },
      ],
    },
    proxies: [
      { name: 'other', endpoint: backend.url('/other') },
      { name: 'dead', endpoint: deadUrl, timeout: '500ms' },
      { name: 'rpc2', endpoint: backend.url('/rpc2') },
    ],
    rpc: {
      proxy: { endpoint: backend.url('/rpc'), include_connection_meta: true },
      without_namespace: { proxy_enabled: true },
      namespaces: [{ name: 'calc', proxy_enabled: true, proxy_name: 'rpc2' }, { name: 'off' }],
    },
  });

// One backend and one server for the file (the backend first: the config names its URLs).
const ctx = { server: null };
before(async () => {
  await startProxyBackend();
  ctx.server = await startServer(mainConfig());
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
  await backend?.close();
});
const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(ctx.server, fn));

/** Raw connect without a token; resolves {raw, reply} (the reply to connect, id 1). */
async function proxyConnect(connect = {}, opts = {}, server = ctx.server) {
  const raw = await rawConnect(server, opts);
  raw.cmd({ connect });
  const reply = await raw.reply(1, opts.replyMs ?? 5000);
  return { raw, reply };
}

/** A raw connection authenticated by the connect proxy as `user` (default case). */
async function proxySession(user = '56', opts = {}) {
  const { raw, reply } = await proxyConnect({ data: { user } }, opts);
  assert.ok(reply.connect, `connect failed: ${JSON.stringify(reply)}`);
  raw.client = reply.connect.client;
  raw.connectResult = reply.connect;
  return raw;
}

/** The next backend request on path made for this client id. */
const nextFor = (path, client, ms = 5000) => backend.next(path, ms, (r) => r.json?.client === client);

/** A ws WebSocket class that sends extra headers on the upgrade request (for centrifuge-js). */
function wsWithHeaders(headers) {
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers });
    }
  };
}

/** The server's log lines at level error. */
const errorLines = (logs) => logs.split('\n').filter((l) => /^\S+ (error|fatal) /.test(l));

// ---------------------------------------------------------------------------------------------
// connect proxy

t('centrifuge-js without a token: the connect proxy gets the exact request and the allowed headers only', async () => {
  connectCases.set('sdk', { json: { result: { user: '56', info: { name: 'Alex' }, data: { welcome: 'Alex' } } } });
  const c = newClient(ctx.server, {
    websocket: wsWithHeaders({ Cookie: 'laravel_session=abc', Authorization: 'Bearer t0k', 'X-Other': 'nope' }),
    data: { case: 'sdk', k: 1 },
    headers: { 'X-Emulated': 'e-1', 'X-Not-Listed': 'n', Cookie: 'emulated=1' },
    name: 'lucent-tests',
    version: '1.2.3',
  });
  const cc = await connected(c);
  assert.match(cc.client, UUID);
  assert.deepEqual(cc.data, { welcome: 'Alex' });

  const req = await nextFor('/connect', cc.client);
  assert.equal(req.method, 'POST');
  assert.deepEqual(req.json, {
    client: cc.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    name: 'lucent-tests',
    version: '1.2.3',
    data: { case: 'sdk', k: 1 },
  });
  assert.equal(req.json.user, undefined, 'a connect request carries no user');
  const h = req.headers;
  assert.match(h['content-type'], /^application\/json/);
  assert.equal(h.cookie, 'laravel_session=abc', 'the transport Cookie wins over the emulated one');
  assert.equal(h.authorization, 'Bearer t0k');
  assert.equal(h['x-emulated'], 'e-1');
  assert.equal(h['x-static'], 'static-1');
  assert.equal(h['x-other'], undefined, 'X-Other is not in http_headers');
  assert.equal(h['x-not-listed'], undefined, 'X-Not-Listed is not in emulated_headers');
});

t('raw connect: name defaults absent, channels lists the keys of subs; the result becomes the connect reply', async () => {
  const expireAt = jwt.now() + 3600;
  connectCases.set('full', {
    json: {
      result: {
        user: '56',
        expire_at: expireAt,
        info: { name: 'Alex' },
        data: { welcome: true },
        channels: ['news'],
        subs: { 'chat:room': { info: { role: 'host' }, data: { sub: 'data' } } },
        meta: { tenant: 't1' },
      },
    },
  });
  const { raw, reply } = await proxyConnect({ data: { case: 'full' }, subs: { 'chat:old': { recover: true, offset: 1, epoch: 'e' } } });
  assert.ok(reply.connect, JSON.stringify(reply));
  const req = await nextFor('/connect', reply.connect.client);
  assert.deepEqual(req.json, {
    client: reply.connect.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    data: { case: 'full' },
    channels: ['chat:old'],
  });
  const r = reply.connect;
  assert.match(r.client, UUID);
  assert.deepEqual(r.data, { welcome: true });
  // no refresh proxy: the expiry is client-side, so the reply says so (spec §1.6, §3.5)
  assert.equal(r.expires, true, JSON.stringify(r));
  assert.ok(r.ttl >= 3598 && r.ttl <= 3600, `ttl ${r.ttl}`);
  assert.deepEqual(Object.keys(r.subs || {}).sort(), ['chat:room', 'news'], JSON.stringify(r));
  assert.deepEqual(r.subs.news, {});
  assert.deepEqual(r.subs['chat:room'], { data: { sub: 'data' } });
  assert.equal(r.ping, 25);
  assert.equal(r.pong, true);

  // server-side subscriptions are live: API publications arrive without a subscribe
  await publish(ctx.server, 'news', { n: 1 });
  assert.deepEqual(await raw.next(), { push: { channel: 'news', pub: { data: { n: 1 } } } });
  // meta reaches the rpc proxy (include_connection_meta there)
  const rpc = await rawCall(raw, { rpc: { method: 'meta', data: {} } });
  assert.ok(rpc.rpc, JSON.stringify(rpc));
  const rreq = await nextFor('/rpc', r.client);
  assert.deepEqual(rreq.json.meta, { tenant: 't1' });
});

t('connect proxy info is the conn_info of the connection in presence', async () => {
  connectCases.set('info', { json: { result: { user: '77', info: { name: 'Bea' } } } });
  const { raw, reply } = await proxyConnect({ data: { case: 'info' } });
  assert.ok(reply.connect, JSON.stringify(reply));
  subscribeCases.set('sp:info', { json: { result: { info: { role: 'mod' } } } });
  const s = await rawCall(raw, { subscribe: { channel: 'sp:info' } });
  assert.deepEqual(s, { id: s.id, subscribe: {} });
  const p = await rawCall(raw, { presence: { channel: 'sp:info' } });
  assert.deepEqual(p.presence, {
    presence: { [reply.connect.client]: { user: '77', client: reply.connect.client, conn_info: { name: 'Bea' }, chan_info: { role: 'mod' } } },
  });
});

t('connect proxy user "" is an anonymous connection; result null → close 3501 (no credentials)', async () => {
  connectCases.set('anon', { json: { result: { user: '' } } });
  const a = await proxyConnect({ data: { case: 'anon' } });
  assert.ok(a.reply.connect, JSON.stringify(a.reply));
  const p = await rawCall(a.raw, { rpc: { method: 'who', data: {} } });
  assert.ok(p.rpc, JSON.stringify(p));
  assert.equal((await nextFor('/rpc', a.reply.connect.client)).json.user, '');

  connectCases.set('null', { json: { result: null } });
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data: { case: 'null' } } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 3501, reason: 'bad request' });
});

t('connect proxy answer {} (no result) → no credentials → close 3501 (spec §5.2)', async () => {
  connectCases.set('empty', { json: {} });
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data: { case: 'empty' } } });
  const c = await closedWithin(raw, 5000);
  assert.equal(c.code, 3501);
  assert.equal(c.reason, 'bad request');
});

t('connect proxy error {code 1403} → connect error reply with that code and message; temporary passed through', async () => {
  connectCases.set('err', { json: { error: { code: 1403, message: 'banned' } } });
  const a = await proxyConnect({ data: { case: 'err' } });
  assert.deepEqual(a.reply, { id: 1, error: { code: 1403, message: 'banned' } });

  connectCases.set('tmp', { json: { error: { code: 1500, message: 'later', temporary: true } } });
  const b = await proxyConnect({ data: { case: 'tmp' } });
  assert.deepEqual(b.reply, { id: 1, error: { code: 1500, message: 'later', temporary: true } });
});

t('centrifuge-js: connect proxy error 1403 → disconnected state with code 1403', async () => {
  connectCases.set('err', { json: { error: { code: 1403, message: 'banned' } } });
  const c = newClient(ctx.server, { data: { case: 'err' } });
  await assert.rejects(connected(c), /code 1403 reason "banned"/);
});

t('connect proxy disconnect {4501, reason} → WebSocket close 4501 with that reason', async () => {
  connectCases.set('disc', { json: { disconnect: { code: 4501, reason: 'unauthorized' } } });
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data: { case: 'disc' } } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4501, reason: 'unauthorized' });
});

t('connect proxy expire_at in the past → error 110 expired; unknown namespace in channels → 102', async () => {
  connectCases.set('past', { json: { result: { user: '1', expire_at: jwt.now() - 10 } } });
  const a = await proxyConnect({ data: { case: 'past' } });
  assert.deepEqual(a.reply, { id: 1, error: { code: 110, message: 'expired' } });

  connectCases.set('ns', { json: { result: { user: '1', channels: ['nosuchns:x'] } } });
  const b = await proxyConnect({ data: { case: 'ns' } });
  assert.deepEqual(b.reply, { id: 1, error: { code: 102, message: 'unknown channel' } });
});

for (const [name, sc] of [
  ['backend answers 500', { status: 500, json: { result: { user: '1' } } }],
  ['backend answers 404', { status: 404, body: 'not found' }],
  ['backend answers 200 with invalid JSON', { body: '{"result":' }],
  ['backend answers a JSON array', { json: [{ result: { user: '1' } }] }],
  ['backend answers result with a numeric user', { json: { result: { user: 42 } } }],
  ['backend answers result with channels of the wrong type', { json: { result: { user: '1', channels: 'news' } } }],
  ['backend sends garbage instead of HTTP', { garbage: true }],
  ['backend closes the socket without answering', { destroy: true }],
  ['backend is slower than the 300 ms timeout', { delayMs: 1200, json: { result: { user: '1' } } }],
]) {
  t(`connect: ${name} → error 100 temporary`, async () => {
    connectCases.set('fault', sc);
    const started = Date.now();
    const { raw, reply } = await proxyConnect({ data: { case: 'fault' } });
    assert.deepEqual(reply, { id: 1, error: INTERNAL });
    if (sc.delayMs) assert.ok(Date.now() - started < 1100, `answered after ${Date.now() - started} ms (timeout 300 ms)`);
    raw.close();
  });
}

t('connect: backend down (connection refused) → error 100 temporary, quickly', async () => {
  const server = await startServer(
    merge(defaultConfig(), { client: { proxy: { connect: { enabled: true, endpoint: deadUrl, timeout: '1s' } } } }),
  );
  await withLogsOnFailure(server, async () => {
    const started = Date.now();
    const { reply } = await proxyConnect({ data: {} }, {}, server);
    assert.deepEqual(reply, { id: 1, error: INTERNAL });
    assert.ok(Date.now() - started < 1500, `answered after ${Date.now() - started} ms`);
  });
  await assertCleanExit(server);
});

t('a connect with a token does not call the connect proxy', async () => {
  const before = backend.calls('/connect').length;
  const raw = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, '9') });
  assert.match(raw.client, UUID);
  await sleep(300);
  assert.equal(backend.calls('/connect').length, before);
});

t('the proxy HTTP client reuses its backend connections (keep-alive)', async () => {
  // warm up: each worker may open its first connection
  for (let i = 0; i < 4; i++) (await proxySession('1')).close();
  const opened = backend.connections;
  for (let i = 0; i < 10; i++) (await proxySession('1')).close();
  const more = backend.connections - opened;
  assert.ok(more <= 2, `10 sequential connect proxy calls opened ${more} new TCP connections`);
});

// ---------------------------------------------------------------------------------------------
// subscribe proxy

t('subscribe proxy: exact request (with forwarded Cookie); result data → subscribe reply, info → chan_info', async () => {
  subscribeCases.set('sp:1', { json: { result: { info: { role: 'mod' }, data: { welcome: 'sub' } } } });
  const raw = await proxySession('56', { headers: { Cookie: 'laravel_session=abc', Authorization: 'Bearer x' } });
  const r = await rawCall(raw, { subscribe: { channel: 'sp:1', data: { want: 'in' } } });
  assert.deepEqual(r, { id: r.id, subscribe: { data: { welcome: 'sub' } } });
  const req = await nextFor('/subscribe', raw.client);
  assert.deepEqual(req.json, {
    client: raw.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    user: '56',
    channel: 'sp:1',
    data: { want: 'in' },
  });
  assert.equal(req.headers.cookie, 'laravel_session=abc');
  assert.equal(req.headers.authorization, undefined, 'not in this proxy\'s http_headers');
  assert.equal(req.headers['x-static'], undefined, 'static headers belong to the connect proxy only');
  const p = await rawCall(raw, { presence: { channel: 'sp:1' } });
  assert.deepEqual(p.presence.presence[raw.client].chan_info, { role: 'mod' });
  assert.deepEqual(p.presence.presence[raw.client].conn_info, { name: 'Alex' });
});

t('centrifuge-js: subscription data option reaches the subscribe proxy; its data is in the subscribed ctx', async () => {
  subscribeCases.set('sp:sdk', { json: { result: { data: { hello: 'sdk' } } } });
  const c = newClient(ctx.server, { data: { user: '56' } });
  const cc = await connected(c);
  const sub = newSubscription(c, 'sp:sdk', { data: { from: 'sdk' } });
  const sctx = await subscribed(sub);
  assert.deepEqual(sctx.data, { hello: 'sdk' });
  const req = await nextFor('/subscribe', cc.client);
  assert.deepEqual(req.json.data, { from: 'sdk' });
  assert.equal(req.json.user, '56');
});

t('subscribe proxy expire_at without a sub_refresh proxy → client-side expiry: expires true, ttl', async () => {
  subscribeCases.set('sp:exp', { json: { result: { expire_at: jwt.now() + 100 } } });
  const raw = await proxySession();
  const r = await rawCall(raw, { subscribe: { channel: 'sp:exp' } });
  assert.equal(r.subscribe?.expires, true, JSON.stringify(r));
  assert.ok(r.subscribe.ttl >= 98 && r.subscribe.ttl <= 100, `ttl ${r.subscribe.ttl}`);
});

t('subscribe proxy error 103 and custom 1403 pass through; the connection stays', async () => {
  subscribeCases.set('sp:deny', { json: { error: { code: 103, message: 'permission denied' } } });
  subscribeCases.set('sp:custom', { json: { error: { code: 1403, message: 'not your order', temporary: true } } });
  const raw = await proxySession();
  assert.deepEqual((await rawCall(raw, { subscribe: { channel: 'sp:deny' } })).error, { code: 103, message: 'permission denied' });
  assert.deepEqual((await rawCall(raw, { subscribe: { channel: 'sp:custom' } })).error, {
    code: 1403,
    message: 'not your order',
    temporary: true,
  });
  assert.ok(raw.isOpen());
});

t('centrifuge-js: subscribe proxy 103 → the subscription ends unsubscribed with code 103', async () => {
  subscribeCases.set('sp:deny', { json: { error: { code: 103, message: 'permission denied' } } });
  const c = newClient(ctx.server, { data: { user: '56' } });
  await connected(c);
  await assert.rejects(subscribed(newSubscription(c, 'sp:deny')), (err) => err.code === 103);
});

t('subscribe proxy disconnect {4503} → close 4503 with the reason', async () => {
  subscribeCases.set('sp:kick', { json: { disconnect: { code: 4503, reason: 'kicked' } } });
  const raw = await proxySession();
  raw.cmd({ subscribe: { channel: 'sp:kick' } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4503, reason: 'kicked' });
});

t('subscribe proxy down, 500, garbage, JSON array, wrong types → error 100 temporary', async () => {
  const raw = await proxySession();
  assertErrorReply(await rawCall(raw, { subscribe: { channel: 'dead:1' } }), 100, 'internal server error');
  const cases = [
    ['sp:f500', { status: 500 }],
    ['sp:fgarbage', { garbage: true }],
    ['sp:fdestroy', { destroy: true }],
    ['sp:fjson', { body: 'nope' }],
    ['sp:farray', { json: [] }],
    ['sp:ftypes', { json: { result: { expire_at: 'soon' } } }],
    ['sp:fresult', { json: { result: 'yes' } }],
  ];
  for (const [ch, sc] of cases) {
    subscribeCases.set(ch, sc);
    const r = await rawCall(raw, { subscribe: { channel: ch } });
    assert.deepEqual(r.error, INTERNAL, `${ch}: ${JSON.stringify(r)}`);
  }
  assert.ok(raw.isOpen());
});

t('named proxy: namespace subscribe_proxy_name "other" calls that proxy\'s endpoint', async () => {
  const raw = await proxySession();
  const r = await rawCall(raw, { subscribe: { channel: 'named:1' } });
  assert.deepEqual(r, { id: r.id, subscribe: { data: { via: 'other' } } });
  const req = await nextFor('/other', raw.client);
  assert.equal(req.json.channel, 'named:1');
});

t('subscribe proxy is not called for a token subscription nor for a user-limited channel', async () => {
  const raw = await proxySession('56');
  const before = backend.calls('/subscribe').length;
  const tok = jwt.subToken(ctx.server.secret, '56', 'sp:tok', {}, { ttl: 0 });
  const a = await rawCall(raw, { subscribe: { channel: 'sp:tok', token: tok } });
  assert.deepEqual(a, { id: a.id, subscribe: {} });
  const b = await rawCall(raw, { subscribe: { channel: 'ul:room#56' } });
  assert.deepEqual(b, { id: b.id, subscribe: {} });
  await sleep(200);
  assert.equal(backend.calls('/subscribe').length, before);
});

// ---------------------------------------------------------------------------------------------
// publish proxy

t('publish proxy: exact request; the backend data replaces the published data; reply {}', async () => {
  publishCases.set('pp:1', { json: { result: { data: { text: 'clean' } } } });
  const reader = await proxySession('1');
  assert.ok((await rawCall(reader, { subscribe: { channel: 'pp:1' } })).subscribe);
  const writer = await proxySession('2');
  const r = await rawCall(writer, { publish: { channel: 'pp:1', data: { text: 'raw' } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  const req = await nextFor('/publish', writer.client);
  assert.deepEqual(req.json, {
    client: writer.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    user: '2',
    channel: 'pp:1',
    data: { text: 'raw' },
  });
  const { push } = await reader.push((p) => p.channel === 'pp:1');
  assert.deepEqual(push.pub.data, { text: 'clean' });
  assert.equal(push.pub.info?.client, writer.client);
  assert.equal(push.pub.info?.user, '2');
});

t('publish proxy skip_history: delivered but not kept in history', async () => {
  publishCases.set('pp:skip', { json: { result: { skip_history: true } } });
  const reader = await proxySession('1');
  assert.ok((await rawCall(reader, { subscribe: { channel: 'pp:skip' } })).subscribe);
  const r = await rawCall(reader, { publish: { channel: 'pp:skip', data: { n: 1 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  const { push } = await reader.push((p) => p.channel === 'pp:skip');
  assert.deepEqual(push.pub.data, { n: 1 });
  const h = await api(ctx.server, 'history', { channel: 'pp:skip', limit: -1 });
  assert.deepEqual(h.body.result.publications, [], JSON.stringify(h.body));

  publishCases.set('pp:skip', { json: { result: {} } });
  await rawCall(reader, { publish: { channel: 'pp:skip', data: { n: 2 } } });
  const h2 = await api(ctx.server, 'history', { channel: 'pp:skip', limit: -1 });
  assert.deepEqual(
    h2.body.result.publications.map((p) => p.data),
    [{ n: 2 }],
  );
});

t('publish proxy error passes through to the publisher and nothing is published; disconnect closes', async () => {
  publishCases.set('pp:no', { json: { error: { code: 1409, message: 'read only' } } });
  const reader = await proxySession('1');
  assert.ok((await rawCall(reader, { subscribe: { channel: 'pp:no' } })).subscribe);
  const r = await rawCall(reader, { publish: { channel: 'pp:no', data: { x: 1 } } });
  assert.deepEqual(r.error, { code: 1409, message: 'read only' });
  await assert.rejects(reader.push((p) => p.channel === 'pp:no', 300), /timed out/);

  publishCases.set('pp:bye', { json: { disconnect: { code: 4400, reason: 'spam' } } });
  reader.cmd({ publish: { channel: 'pp:bye', data: { x: 1 } } });
  assert.deepEqual(await closedWithin(reader, 5000), { code: 4400, reason: 'spam' });
});

t('publish proxy failure (500) → error 100 temporary to the publisher', async () => {
  publishCases.set('pp:fail', { status: 500 });
  const raw = await proxySession('1');
  const r = await rawCall(raw, { publish: { channel: 'pp:fail', data: { x: 1 } } });
  assert.deepEqual(r.error, INTERNAL);
});

// ---------------------------------------------------------------------------------------------
// rpc proxy

t('rpc proxy: exact request (meta included by include_connection_meta); result data → rpc reply', async () => {
  rpcCases.set('sum', { json: { result: { data: { sum: 3 } } } });
  const raw = await proxySession('56');
  const r = await rawCall(raw, { rpc: { method: 'sum', data: { a: 1, b: 2 } } });
  assert.deepEqual(r, { id: r.id, rpc: { data: { sum: 3 } } });
  const req = await nextFor('/rpc', raw.client);
  // the default connect case returns no meta: none is sent
  assert.deepEqual(req.json, {
    client: raw.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    user: '56',
    method: 'sum',
    data: { a: 1, b: 2 },
  });
});

t('centrifuge-js rpc() through the proxy resolves the backend data', async () => {
  rpcCases.set('hello', { json: { result: { data: { hi: 'there' } } } });
  const c = newClient(ctx.server, { data: { user: '56' } });
  await connected(c);
  const res = await c.rpc('hello', { q: 1 });
  assert.deepEqual(res.data, { hi: 'there' });
});

t('rpc proxy error passes through; failures → 100; rpc namespaces: proxy_name, off → 108, undefined → 104', async () => {
  rpcCases.set('bad', { json: { error: { code: 1404, message: 'no such thing' } } });
  rpcCases.set('broken', { status: 502 });
  const raw = await proxySession('56');
  assert.deepEqual((await rawCall(raw, { rpc: { method: 'bad', data: {} } })).error, { code: 1404, message: 'no such thing' });
  assert.deepEqual((await rawCall(raw, { rpc: { method: 'broken', data: {} } })).error, INTERNAL);
  const n = await rawCall(raw, { rpc: { method: 'calc:add', data: { a: 1 } } });
  assert.deepEqual(n, { id: n.id, rpc: { data: { via: 'rpc2', method: 'calc:add' } } });
  assertErrorReply(await rawCall(raw, { rpc: { method: 'off:x', data: {} } }), 108, 'not available');
  assertErrorReply(await rawCall(raw, { rpc: { method: 'nosuch:x', data: {} } }), 104, 'method not found');
  assert.ok(raw.isOpen());
});

// ---------------------------------------------------------------------------------------------
// sub_refresh proxy

t('sub_refresh proxy: subscription expire_at → no client-side ttl; near expiry the proxy is asked; a new expire_at keeps it', async () => {
  subscribeCases.set('sr:1', { json: { result: { expire_at: jwt.now() + 2 } } });
  subRefreshCases.set('sr:1', { json: { result: { expire_at: jwt.now() + 600 } } });
  const raw = await proxySession('56');
  const r = await rawCall(raw, { subscribe: { channel: 'sr:1' } });
  assert.deepEqual(r, { id: r.id, subscribe: {} }, 'server-side refresh: no expires/ttl in the reply');
  const req = await nextFor('/sub_refresh', raw.client, 7000);
  assert.deepEqual(req.json, {
    client: raw.client,
    transport: 'websocket',
    protocol: 'json',
    encoding: 'json',
    user: '56',
    channel: 'sr:1',
  });
  await sleep(1500);
  await publish(ctx.server, 'sr:1', { still: 'here' });
  const { push } = await raw.push((p) => p.channel === 'sr:1');
  assert.deepEqual(push, { channel: 'sr:1', pub: { data: { still: 'here' } } });
});

t('sub_refresh proxy answering expired → unsubscribe push 2501', async () => {
  subscribeCases.set('sr:2', { json: { result: { expire_at: jwt.now() + 2 } } });
  subRefreshCases.set('sr:2', { json: { result: { expired: true } } });
  const raw = await proxySession('56');
  assert.ok((await rawCall(raw, { subscribe: { channel: 'sr:2' } })).subscribe);
  const { push } = await raw.push((p) => p.channel === 'sr:2' && p.unsubscribe, 8000, 'unsubscribe push');
  assert.equal(push.unsubscribe.code, 2501);
  assert.ok(raw.isOpen());
});

// ---------------------------------------------------------------------------------------------
// faults: the server keeps serving everyone

t('garbage from the backend does not disturb a second client publishing and receiving meanwhile', async () => {
  const token = jwt.connToken(ctx.server.secret, 'watcher');
  const watcher = await rawSession(ctx.server, { token, channels: ['chat:calm'] });
  const faults = [{ garbage: true }, { body: 'x' }, { json: [1] }, { destroy: true }, { status: 503 }];
  for (let i = 0; i < faults.length; i++) {
    connectCases.set('fault', faults[i]);
    const { reply } = await proxyConnect({ data: { case: 'fault' } });
    assert.deepEqual(reply.error, INTERNAL);
    const pr = await rawCall(watcher, { publish: { channel: 'chat:calm', data: { i } } });
    assert.deepEqual(pr, { id: pr.id, publish: {} });
    const { push } = await watcher.push((p) => p.channel === 'chat:calm');
    assert.deepEqual(push.pub.data, { i });
  }
  assert.ok(watcher.isOpen());
});

t('a peer that leaves while its connect proxy call is pending: no crash, the late answer is ignored', async () => {
  connectCases.set('slow', { delayMs: 250, json: { result: { user: '1' } } });
  const mark = ctx.server.logs().length;
  for (let i = 0; i < 5; i++) {
    const raw = await rawConnect(ctx.server);
    raw.cmd({ connect: { data: { case: 'slow', i } } });
    await backend.next('/connect', 3000, (r) => r.json?.data?.case === 'slow' && r.json?.data?.i === i);
    raw.terminate();
  }
  await sleep(600); // every late answer has been sent by now
  const health = await httpGet(`${ctx.server.url}/health`);
  assert.equal(health.status, 200);
  const ok = await proxySession('1');
  assert.match(ok.client, UUID);
  const info = await api(ctx.server, 'info', {});
  assert.equal(info.status, 200);
  assert.deepEqual(errorLines(ctx.server.logs().slice(mark)), []);
});

// ---------------------------------------------------------------------------------------------
// refresh proxy (its own server: refresh is server-side there)

test('refresh proxy', { timeout: 60000 }, async (tt) => {
  const server = await startServer(
    merge(defaultConfig(), {
      client: {
        proxy: {
          connect: { enabled: true, endpoint: backend.url('/b/connect') },
          refresh: { enabled: true, endpoint: backend.url('/b/refresh'), timeout: '300ms' },
        },
      },
    }),
  );
  const st = (name, fn) => tt.test(name, () => withLogsOnFailure(server, fn));
  const session = async (ttl) => {
    const { raw, reply } = await proxyConnect({ data: { ttl } }, {}, server);
    assert.ok(reply.connect, JSON.stringify(reply));
    raw.client = reply.connect.client;
    raw.connectResult = reply.connect;
    return raw;
  };

  await st('connect result has no expires/ttl when the refresh proxy is on', async () => {
    const raw = await session(2);
    assert.equal(raw.connectResult.expires, undefined, JSON.stringify(raw.connectResult));
    assert.equal(raw.connectResult.ttl, undefined, JSON.stringify(raw.connectResult));
    raw.close();
  });

  await st('around expiry the refresh proxy is asked {client, transport, protocol, encoding, user}; a new expire_at keeps the connection', async () => {
    const started = Date.now();
    const raw = await session(2);
    refreshCases.set(raw.client, { json: { result: { expire_at: jwt.now() + 60 } } });
    const req = await nextFor('/b/refresh', raw.client, 6000);
    const at = Date.now() - started;
    assert.ok(at >= 900, `refresh asked after ${at} ms, long before the expiry`);
    assert.deepEqual(req.json, { client: raw.client, transport: 'websocket', protocol: 'json', encoding: 'json', user: '7' });
    assert.match(req.headers['content-type'], /^application\/json/);
    assert.ok(await staysOpen(raw, 3000), 'the refreshed connection was closed');
    assert.equal(backend.calls('/b/refresh').filter((r) => r.json?.client === raw.client).length, 1);
  });

  await st('refresh proxy answering expired → close 3005', async () => {
    const raw = await session(2);
    refreshCases.set(raw.client, { json: { result: { expired: true } } });
    const c = await closedWithin(raw, 7000, 'close 3005');
    assert.deepEqual(c, { code: 3005, reason: 'connection expired' });
  });

  await st('refresh proxy failing → the connection is kept (extended by 60 s)', async () => {
    const raw = await session(2);
    refreshCases.set(raw.client, { status: 500 });
    await nextFor('/b/refresh', raw.client, 6000);
    assert.ok(await staysOpen(raw, 3000), 'the connection was closed after a refresh proxy failure');
  });

  await st('no rpc proxy configured at all → rpc error 108', async () => {
    const raw = await session(3600);
    assertErrorReply(await rawCall(raw, { rpc: { method: 'x', data: {} } }), 108, 'not available');
  });

  await withTimeout(assertCleanExit(server), 10000, 'refresh server exit');
});
