'use strict';
// Lua hooks (DESIGN.md "Lua hooks", src/hooks/script.h): every hook kind through a real
// server running tests/integration/lua/hooks.lua, with centrifuge-js and raw frames. A hook
// runs before the standard rules and nil leaves the decision to them; true / false / a table of
// result fields / lucent.error / lucent.disconnect are the decisions; lucent.proxy,
// lucent.http.request and lucent.cache reach a Node backend; disconnect and unsubscribe are
// notifications, made visible through lucent.publish and lucent.http.request.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, freePort, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, disconnected, newSubscription, subscribed, nextPublication, rawConnect, rawSession, rawCall } = require('./lib/client');
const { sleep, waitUntil, withTimeout } = require('./lib/wait');
const { events, closedWithin, staysOpen, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const SCRIPT = fs.readFileSync(path.join(__dirname, 'lua', 'hooks.lua'), 'utf8');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let backend;
let deadUrl;
const ctx = { server: null };

before(async () => {
  backend = await startBackend({
    // room:deny is refused by the backend; any other room is allowed with its name as info
    '/subscribe': (r) =>
      r.json?.channel === 'room:deny'
        ? { json: { error: { code: 1403, message: 'not a member' } } }
        : { json: { result: { info: { room: r.json?.channel }, data: { via: 'backend' } } } },
    '/echo': (r) => ({ json: { got: r.json ?? null, lua: r.headers['x-lua'] ?? null } }),
    '/slow': { delayMs: 1500, json: { slow: true } },
    '/too-slow': { delayMs: 4000, json: { late: true } },
    '/gone': { json: {} },
  });
  deadUrl = `http://127.0.0.1:${await freePort()}/dead`;
  const config = merge(defaultConfig(), {
    workers: 2,
    channel: {
      proxy: { subscribe: { endpoint: backend.url('/subscribe'), timeout: '3s' } },
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        { name: 'ro', allow_subscribe_for_client: true },
        { name: 'news', allow_subscribe_for_client: true },
        { name: 'watch', allow_subscribe_for_client: true },
        // nobody may subscribe here by the namespace options: only a hook lets a client in
        { name: 'user' },
        { name: 'room' },
        { name: 'exp' },
        { name: 'locked' },
        { name: 'subx' },
        { name: 'subd' },
        { name: 'hist', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s' },
        { name: 'bc', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s' },
        { name: 'bcdeny', allow_subscribe_for_client: true },
        { name: 'bcerr', allow_subscribe_for_client: true },
      ],
    },
    lua: { script: 'hooks.lua' },
  });
  ctx.server = await startServer(config, { files: { 'hooks.lua': SCRIPT.replaceAll('__BACKEND__', backend.url('')) } });
});

after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
  await backend?.close();
});

const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(ctx.server, fn));

let seq = 0;
/** A name no other test uses (cache keys and channels stay apart). */
const uniq = (prefix) => `${prefix}${process.pid}x${++seq}`;

/** Raw connect without a token, the connect hook deciding from data; resolves {raw, reply}. */
async function luaConnect(data) {
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data } });
  const reply = await raw.reply(1);
  return { raw, reply };
}

/** Raw connect the hook answers by closing the connection; resolves {code, reason}. */
async function luaConnectClosed(data) {
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data } });
  return closedWithin(raw, 5000, 'the server to close the connection after connect');
}

/** A raw connection the connect hook granted to user. */
async function luaSession(user, extra = {}) {
  const { raw, reply } = await luaConnect({ user, ...extra });
  assert.ok(reply.connect, `connect failed: ${JSON.stringify(reply)}`);
  raw.client = reply.connect.client;
  raw.connectResult = reply.connect;
  return raw;
}

const subscribe = (raw, channel, extra = {}) => rawCall(raw, { subscribe: { channel, ...extra } });
const rpc = (raw, method, data = {}, ms) => rawCall(raw, { rpc: { method, data } }, ms);

/** Assert the reply is an rpc result and return its data. */
function rpcData(reply) {
  assert.ok(reply.rpc, `expected an rpc result, got ${JSON.stringify(reply)}`);
  return reply.rpc.data;
}

/** The next publication push on channel for a raw connection. */
const nextPub = (raw, channel, ms = 5000) =>
  raw.push((p) => p.channel === channel && p.pub, ms, `publication on ${channel}`).then((m) => m.push);

/** The data of a channel's history, oldest first. */
async function historyData(channel) {
  const h = await api(ctx.server, 'history', { channel, limit: 10 });
  assert.ok(h.body.result, h.text);
  return (h.body.result.publications ?? []).map((p) => p.data);
}

const ttlNear = (ttl, want, slack = 5) => typeof ttl === 'number' && ttl <= want && ttl >= want - slack;

// ---------------------------------------------------------------------------------------------
// connect

t('centrifuge-js without a token: the connect hook grants the user, connect data and a server-side channel', async () => {
  const user = uniq('sdk');
  const c = newClient(ctx.server, { data: { user } });
  const subs = events(c, 'subscribed');
  const pubs = events(c, 'publication');
  const cc = await connected(c);
  assert.match(cc.client, UUID);
  assert.deepEqual(cc.data, { welcome: user, transport: 'websocket' });
  const s = await subs.take((x) => x.channel === `srv-${user}`, 5000, `server-side subscription srv-${user}`);
  assert.equal(s.channel, `srv-${user}`);
  await publish(ctx.server, `srv-${user}`, { hello: 'from the API' });
  const p = await pubs.next();
  assert.equal(p.channel, `srv-${user}`);
  assert.deepEqual(p.data, { hello: 'from the API' });
});

t('raw connect: every result field of the hook reaches the client (user, info, meta, data, expire_at, channels)', async () => {
  const user = uniq('raw');
  const raw = await luaSession(user, { ttl: 120 });
  const r = raw.connectResult;
  assert.match(r.client, UUID);
  assert.deepEqual(r.data, { welcome: user, transport: 'websocket' });
  assert.equal(r.expires, true, JSON.stringify(r));
  assert.ok(ttlNear(r.ttl, 120), `ttl ${r.ttl}`);
  assert.ok(r.subs && r.subs[`srv-${user}`], `subs: ${JSON.stringify(r.subs)}`);
  // user, info and meta as the rpc hook's ctx sees them
  const who = rpcData(await rpc(raw, 'whoami'));
  assert.equal(who.user, user);
  assert.equal(who.client, raw.client);
  assert.equal(who.transport, 'websocket');
  assert.deepEqual(who.info, { name: `lua-${user}` });
  assert.deepEqual(who.meta, { tenant: `t-${user}` });
});

t('a client publication carries the info the connect hook gave (conn_info)', async () => {
  const a = await luaSession(uniq('pa'));
  const b = await luaSession(uniq('pb'));
  const ch = `chat:${uniq('info')}`;
  for (const x of [a, b]) assert.ok((await subscribe(x, ch)).subscribe);
  const r = await rawCall(a, { publish: { channel: ch, data: { text: ' x ' } } });
  assert.ok(r.publish, JSON.stringify(r));
  const p = await nextPub(b, ch);
  assert.equal(p.pub.info.client, a.client);
  assert.equal(p.pub.info.user, a.connectResult.data.welcome);
  assert.deepEqual(p.pub.info.conn_info, { name: `lua-${a.connectResult.data.welcome}` });
});

t('connect hook false: a disconnect the SDK does not retry (code >= 3500)', async () => {
  const closed = await luaConnectClosed({ deny: true });
  assert.ok(closed.code >= 3500 && closed.code < 5000, `close code ${closed.code}`);

  const c = newClient(ctx.server, { data: { deny: true } });
  const d = await disconnected(c);
  assert.ok(d.code >= 3500, `SDK disconnect code ${d.code}`);
  await sleep(700); // longer than the reconnect delays of newClient
  assert.equal(c.state, 'disconnected');
  assert.equal(c.lc.events.filter((e) => e.type === 'connecting').length, 1, 'the SDK tried to reconnect');
});

t('connect hook lucent.error(1400, msg): that error is the connect reply', async () => {
  const { reply } = await luaConnect({ error: true });
  assertErrorReply(reply, 1400, 'lua says no');
});

t('connect hook lucent.disconnect(4501, reason): the connection is closed with that code and reason', async () => {
  assert.deepEqual(await luaConnectClosed({ disconnect: true }), { code: 4501, reason: 'lua says bye' });
});

t('connect hook nil: the token decides (user from the token)', async () => {
  const raw = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, '77') });
  const who = rpcData(await rpc(raw, 'whoami'));
  assert.equal(who.user, '77');
});

t('connect hook sees the verified token claims in ctx.claims', async () => {
  const raw = await rawSession(ctx.server, { token: jwt.connToken(ctx.server.secret, 'claims-check') });
  const who = rpcData(await rpc(raw, 'whoami'));
  assert.equal(who.user, 'claims:claims-check');
});

// ---------------------------------------------------------------------------------------------
// refresh

t('refresh hook prolongs the connection: the reply ttl is the one the hook set', async () => {
  const raw = await luaSession(uniq('ref'), { ttl: 30 });
  assert.ok(ttlNear(raw.connectResult.ttl, 30), JSON.stringify(raw.connectResult));
  const r = await rawCall(raw, { refresh: { token: 'any' } });
  assert.ok(r.refresh, JSON.stringify(r));
  assert.equal(r.refresh.expires, true);
  assert.ok(ttlNear(r.refresh.ttl, 600), `refresh ttl ${r.refresh.ttl}`);
  assert.ok(await staysOpen(raw, 300));
});

t('refresh hook false: the connection is closed with a code >= 3500', async () => {
  const raw = await luaSession('norefresh', { ttl: 30 });
  raw.cmd({ refresh: { token: 'any' } });
  const closed = await closedWithin(raw, 5000);
  assert.ok(closed.code >= 3500, `close code ${closed.code}`);
});

// ---------------------------------------------------------------------------------------------
// subscribe

t('Laravel-style route user:{id}: centrifuge-js gets its own channel, another user\'s is 103', async () => {
  const user = uniq('me');
  const c = newClient(ctx.server, { data: { user } });
  await connected(c);
  const own = newSubscription(c, `user:${user}`);
  await subscribed(own);
  await publish(ctx.server, `user:${user}`, { note: 'personal' });
  assert.deepEqual((await nextPublication(own)).data, { note: 'personal' });

  const other = newSubscription(c, `user:someone-else`);
  const err = await subscribed(other).then(
    () => null,
    (e) => e,
  );
  assert.ok(err, 'subscribing to another user\'s channel succeeded');
  assert.equal(err.code, 103, err.message);
});

t('subscribe hook true opens a namespace that allows nobody; no route (nil) leaves the namespace options to decide', async () => {
  const raw = await luaSession(uniq('lk'));
  assert.ok((await subscribe(raw, 'locked:open')).subscribe);
  assertErrorReply(await subscribe(raw, 'locked:other'), 103);
  assert.ok((await subscribe(raw, `news:${uniq('n')}`)).subscribe, 'news allows subscribers by itself');
});

t('subscribe hook lucent.error and lucent.disconnect', async () => {
  const raw = await luaSession(uniq('sx'));
  assertErrorReply(await subscribe(raw, 'subx:1'), 1401, 'lua refuses');
  raw.cmd({ subscribe: { channel: 'subd:1' } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4502, reason: 'lua closes' });
});

t('subscribe through lucent.proxy("subscribe", ctx) with lucent.cache: one backend call for two subscribes', async () => {
  const user = uniq('rm');
  const room = `room:${uniq('r')}`;
  const raw = await luaSession(user);
  const first = await subscribe(raw, room);
  assert.ok(first.subscribe, JSON.stringify(first));
  assert.deepEqual(first.subscribe.data, { via: 'backend' });
  const req = await backend.next('/subscribe', 5000, (r) => r.json?.channel === room);
  assert.equal(req.json.user, user);
  assert.equal(req.json.client, raw.client);
  assert.equal(req.json.transport, 'websocket');

  assert.ok((await rawCall(raw, { unsubscribe: { channel: room } })).unsubscribe);
  const second = await subscribe(raw, room);
  assert.ok(second.subscribe, JSON.stringify(second));
  assert.deepEqual(second.subscribe.data, { via: 'backend' });
  await sleep(200);
  const calls = backend.calls('/subscribe').filter((r) => r.json?.channel === room);
  assert.equal(calls.length, 1, 'the second subscribe within the TTL must come from the cache');
});

t('a room the backend refuses: its error reaches the client and is not cached', async () => {
  const raw = await luaSession(uniq('rd'));
  const before = backend.calls('/subscribe').filter((r) => r.json?.channel === 'room:deny' && r.json?.client === raw.client).length;
  assertErrorReply(await subscribe(raw, 'room:deny'), 1403, 'not a member');
  assertErrorReply(await subscribe(raw, 'room:deny'), 1403, 'not a member');
  const calls = backend.calls('/subscribe').filter((r) => r.json?.channel === 'room:deny' && r.json?.client === raw.client);
  assert.equal(calls.length - before, 2, 'a refusal is asked again');
});

t('subscribe hook result fields (expire_at, data) and the sub_refresh hook prolonging the subscription', async () => {
  const raw = await luaSession(uniq('ex'));
  const ch = `exp:${uniq('e')}`;
  const r = await subscribe(raw, ch);
  assert.ok(r.subscribe, JSON.stringify(r));
  assert.deepEqual(r.subscribe.data, { granted: ch.slice(4) });
  assert.equal(r.subscribe.expires, true, JSON.stringify(r));
  assert.ok(ttlNear(r.subscribe.ttl, 30), `ttl ${r.subscribe.ttl}`);
  const s = await rawCall(raw, { sub_refresh: { channel: ch, token: 'any' } });
  assert.ok(s.sub_refresh, JSON.stringify(s));
  assert.equal(s.sub_refresh.expires, true);
  assert.ok(ttlNear(s.sub_refresh.ttl, 900), `sub_refresh ttl ${s.sub_refresh.ttl}`);
  await publish(ctx.server, ch, { still: 'subscribed' });
  assert.deepEqual((await nextPub(raw, ch)).pub.data, { still: 'subscribed' });
});

// ---------------------------------------------------------------------------------------------
// publish

t('publish hook transforms a centrifuge-js publication: text trimmed, annotated with the user', async () => {
  const ch = `chat:${uniq('lobby')}`;
  const sender = uniq('tx');
  const a = newClient(ctx.server, { data: { user: sender } });
  const b = newClient(ctx.server, { data: { user: uniq('rx') } });
  await Promise.all([connected(a), connected(b)]);
  const sa = newSubscription(a, ch);
  const sb = newSubscription(b, ch);
  await Promise.all([subscribed(sa), subscribed(sb)]);
  await sa.publish({ text: '   hello there  \n', user: 'spoofed' });
  const got = await nextPublication(sb);
  assert.deepEqual(got.data, { text: 'hello there', user: sender, room: ch.slice(5) });
  assert.deepEqual((await nextPublication(sa)).data, got.data);
});

t('publish hook false → 103; lucent.error(107) for data that is not a chat message', async () => {
  const raw = await luaSession(uniq('pl'));
  assertErrorReply(await rawCall(raw, { publish: { channel: 'locked:x', data: { a: 1 } } }), 103);
  const ch = `chat:${uniq('bad')}`;
  assert.ok((await subscribe(raw, ch)).subscribe);
  assertErrorReply(await rawCall(raw, { publish: { channel: ch, data: { notext: 1 } } }), 107);
  assert.ok(await staysOpen(raw, 200));
});

t('publish hook skip_history: the skipped publication is delivered but not in history', async () => {
  const raw = await luaSession(uniq('ph'));
  const ch = `hist:${uniq('h')}`;
  assert.ok((await subscribe(raw, ch)).subscribe);
  assert.ok((await rawCall(raw, { publish: { channel: ch, data: { n: 1, skip: true } } })).publish);
  assert.ok((await rawCall(raw, { publish: { channel: ch, data: { n: 2 } } })).publish);
  assert.deepEqual((await nextPub(raw, ch)).pub.data, { n: 1, skip: true });
  assert.deepEqual((await nextPub(raw, ch)).pub.data, { n: 2 });
  assert.deepEqual(await historyData(ch), [{ n: 2 }]);
});

// ---------------------------------------------------------------------------------------------
// broadcast (server API)

t('broadcast hook transforms an API publish before history and fan-out', async () => {
  const kind = uniq('k');
  const ch = `bc:${kind}`;
  const raw = await luaSession(uniq('bw'));
  assert.ok((await subscribe(raw, ch)).subscribe);
  await publish(ctx.server, ch, { msg: 'hi' });
  const want = { msg: 'hi', kind, from_api: true };
  assert.deepEqual((await nextPub(raw, ch)).pub.data, want);
  assert.deepEqual(await historyData(ch), [want]);
});

t('broadcast hook runs for each channel of an API broadcast', async () => {
  const [k1, k2] = [uniq('a'), uniq('b')];
  const raw = await luaSession(uniq('bb'));
  for (const k of [k1, k2]) assert.ok((await subscribe(raw, `bc:${k}`)).subscribe);
  const r = await api(ctx.server, 'broadcast', { channels: [`bc:${k1}`, `bc:${k2}`], data: { all: true } });
  assert.equal(r.body.result?.responses?.length, 2, r.text);
  const got = new Map();
  for (let i = 0; i < 2; i++) {
    const p = await nextPub(raw, i === 0 ? `bc:${k1}` : `bc:${k2}`);
    got.set(p.channel, p.pub.data);
  }
  assert.deepEqual(got.get(`bc:${k1}`), { all: true, kind: k1, from_api: true });
  assert.deepEqual(got.get(`bc:${k2}`), { all: true, kind: k2, from_api: true });
});

t('broadcast hook false → API error 103, lucent.error → that code; nothing is delivered', async () => {
  const raw = await luaSession(uniq('bd'));
  for (const ch of ['bcdeny:1', 'bcerr:1']) assert.ok((await subscribe(raw, ch)).subscribe);
  const d = await api(ctx.server, 'publish', { channel: 'bcdeny:1', data: { no: 1 } });
  assert.equal(d.body.error?.code, 103, d.text);
  const e = await api(ctx.server, 'publish', { channel: 'bcerr:1', data: { no: 2 } });
  assert.equal(e.body.error?.code, 1402, e.text);
  // nothing arrived before this marker (one connection's pushes keep their order)
  assert.ok((await subscribe(raw, 'news:marker-bd')).subscribe);
  await publish(ctx.server, 'news:marker-bd', { marker: true });
  const first = (await raw.push(() => true, 5000, 'the marker')).push;
  assert.equal(first.channel, 'news:marker-bd', `unexpected push ${JSON.stringify(first)}`);
});

// ---------------------------------------------------------------------------------------------
// rpc

t('rpc answered in Lua: a result, lucent.error, false → 103, nil → the standard path (108)', async () => {
  const raw = await luaSession(uniq('rp'));
  assert.deepEqual(rpcData(await rpc(raw, 'sum', { numbers: [1, 2, 39] })), { sum: 42 });
  assertErrorReply(await rpc(raw, 'sum', { numbers: 'x' }), 107);
  assertErrorReply(await rpc(raw, 'fail'), 1400, 'rpc refused');
  assertErrorReply(await rpc(raw, 'deny'), 103);
  assertErrorReply(await rpc(raw, 'nil'), 108);
  assertErrorReply(await rpc(raw, 'no.such.method'), 108);
});

t('rpc with centrifuge-js', async () => {
  const c = newClient(ctx.server, { data: { user: uniq('sdkrpc') } });
  await connected(c);
  const r = await c.rpc('sum', { numbers: [2, 3] });
  assert.deepEqual(r.data, { sum: 5 });
  const err = await c.rpc('fail', {}).then(
    () => null,
    (e) => e,
  );
  assert.equal(err?.code, 1400, JSON.stringify(err));
});

t('rpc hook lucent.disconnect closes the connection with its code', async () => {
  const raw = await luaSession(uniq('by'));
  raw.cmd({ rpc: { method: 'bye', data: {} } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4503, reason: 'rpc says bye' });
});

t('lucent.http.request reaches the backend with method, headers and body; the answer comes back', async () => {
  const user = uniq('ht');
  const raw = await luaSession(user);
  const data = rpcData(await rpc(raw, 'http', { n: 7 }));
  assert.equal(data.status, 200);
  assert.deepEqual(data.body, { got: { user, n: 7 }, lua: 'yes' });
  const req = await backend.next('/echo', 5000, (r) => r.json?.user === user);
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/json/);
});

t('a hook waiting for the backend does not block other connections', async () => {
  const slow = await luaSession(uniq('sl'));
  const fast = await luaSession(uniq('fa'));
  const started = Date.now();
  const pending = rpc(slow, 'http', { path: '/slow' }, 8000);
  await sleep(100);
  assert.deepEqual(rpcData(await rpc(fast, 'sum', { numbers: [1] })), { sum: 1 });
  const fastMs = Date.now() - started;
  assert.ok(fastMs < 1200, `a fast rpc took ${fastMs} ms while another hook waited`);
  const data = rpcData(await pending);
  assert.deepEqual(data.body, { slow: true });
  assert.ok(Date.now() - started >= 1400);
});

t('lucent.http.request failures (connection refused, timeout) are reported to the hook', async () => {
  const raw = await luaSession(uniq('hf'));
  assert.deepEqual(rpcData(await rpc(raw, 'http.fail', { url: deadUrl })), { failed: true });
  const started = Date.now();
  assert.deepEqual(rpcData(await rpc(raw, 'http.fail', { url: backend.url('/too-slow') }, 6000)), { failed: true });
  assert.ok(Date.now() - started < 3500, `the 0.5 s timeout took ${Date.now() - started} ms`);
  assert.deepEqual(rpcData(await rpc(raw, 'sum', { numbers: [4] })), { sum: 4 });
});

t('lucent.publish from a hook reaches subscribers on every worker; skip_history keeps it out of history', async () => {
  const ch = `news:${uniq('lp')}`;
  const subs = await Promise.all([1, 2, 3, 4].map(() => luaSession(uniq('ls'))));
  for (const s of subs) assert.ok((await subscribe(s, ch)).subscribe);
  const caller = await luaSession('publisher');
  assert.deepEqual(rpcData(await rpc(caller, 'publish', { channel: ch, n: 1 })), {});
  for (const s of subs) assert.deepEqual((await nextPub(s, ch)).pub.data, { from: 'publisher', n: 1 });
  // hist:* keeps history: the rpc asks for skip_history
  const hch = `hist:${uniq('lph')}`;
  assert.ok((await subscribe(subs[0], hch)).subscribe);
  assert.deepEqual(rpcData(await rpc(caller, 'publish', { channel: hch, n: 2 })), {});
  assert.deepEqual((await nextPub(subs[0], hch)).pub.data, { from: 'publisher', n: 2 });
  assert.deepEqual(await historyData(hch), []);
});

// lucent.publish is "publish as the server API would" (script.h); lua_internal.h plans for a
// hook's lucent.publish running the broadcast hook (vm->depth). This test holds the server to
// that reading.
t('lucent.publish into a channel with a broadcast route goes through the broadcast hook', async () => {
  const raw = await luaSession(uniq('nb'));
  const kind = uniq('nested');
  assert.ok((await subscribe(raw, `bc:${kind}`)).subscribe);
  assert.deepEqual(rpcData(await rpc(raw, 'publish', { channel: `bc:${kind}`, n: 2 })), {});
  assert.deepEqual((await nextPub(raw, `bc:${kind}`)).pub.data, { from: raw.connectResult.data.welcome, n: 2, kind, from_api: true });
});

t('lucent.cache: set / get on the connection\'s worker, gone after its TTL', async () => {
  const raw = await luaSession(uniq('ca'));
  const key = uniq('key');
  assert.deepEqual(rpcData(await rpc(raw, 'cache.get', { key })), { found: false });
  await rpc(raw, 'cache.set', { key, value: { a: [1, 2], s: 'x' }, ttl: 1 });
  assert.deepEqual(rpcData(await rpc(raw, 'cache.get', { key })), { value: { a: [1, 2], s: 'x' }, found: true });
  await waitUntil(async () => rpcData(await rpc(raw, 'cache.get', { key })).found === false, {
    timeoutMs: 4000,
    intervalMs: 250,
    what: 'the cached value to expire after 1 s',
  });
});

t('lucent.jwt.decode, lucent.now, lucent.json, lucent.log', async () => {
  const raw = await luaSession(uniq('ut'));
  const token = jwt.connToken(ctx.server.secret, 'jwt-user', { info: { role: 'r1' } });
  assert.deepEqual(rpcData(await rpc(raw, 'jwt', { token })), { sub: 'jwt-user', info: { role: 'r1' } });
  const bad = rpcData(await rpc(raw, 'jwt', { token: jwt.wrongKeyToken({ sub: 'x' }) }));
  assert.equal(typeof bad.err, 'string', JSON.stringify(bad));
  const now = rpcData(await rpc(raw, 'now')).now;
  assert.equal(typeof now, 'number');
  assert.ok(Math.abs(now - Date.now() / 1000) < 5, `lucent.now() = ${now}: Unix seconds expected`);
  const text = '{"a":[1,2,{"b":"c"}],"d":true}';
  const back = rpcData(await rpc(raw, 'json', { text }));
  assert.equal(back.kind, 'table');
  assert.deepEqual(JSON.parse(back.back), JSON.parse(text));
  const marker = uniq('log-marker-');
  assert.deepEqual(rpcData(await rpc(raw, 'log', { marker })), {});
  await waitUntil(() => ctx.server.logs().includes(marker), { timeoutMs: 3000, what: 'the lucent.log line' });
});

// ---------------------------------------------------------------------------------------------
// notifications

/** A connection subscribed to watch:events, where the notification hooks publish. */
async function watcher() {
  const w = await luaSession(uniq('watcher'));
  assert.ok((await subscribe(w, 'watch:events')).subscribe);
  return w;
}
const watchEvent = (w, pred, what) =>
  w.push((p) => p.channel === 'watch:events' && p.pub && pred(p.pub.data), 5000, what).then((m) => m.push);

t('unsubscribe notification: the hook sees client and channel (published to a watch channel)', async () => {
  const w = await watcher();
  const raw = await luaSession(uniq('un'));
  const ch = `news:${uniq('u')}`;
  assert.ok((await subscribe(raw, ch)).subscribe);
  assert.ok((await rawCall(raw, { unsubscribe: { channel: ch } })).unsubscribe);
  const ev = await watchEvent(w, (d) => d.event === 'unsubscribe' && d.channel === ch, 'the unsubscribe event');
  assert.equal(ev.pub.data.client, raw.client);
  assert.equal(ev.pub.data.user, raw.connectResult.data.welcome);
});

t('disconnect notification: the hook publishes and calls the backend (lucent.http.request from a notification)', async () => {
  const w = await watcher();
  const user = uniq('gone-');
  const c = newClient(ctx.server, { data: { user } });
  const cc = await connected(c);
  c.disconnect();
  const ev = await watchEvent(w, (d) => d.event === 'disconnect' && d.client === cc.client, 'the disconnect event');
  assert.equal(ev.pub.data.user, user);
  assert.equal(typeof ev.pub.data.code, 'number');
  const req = await backend.next('/gone', 5000, (r) => r.json?.client === cc.client);
  assert.deepEqual(req.json, { client: cc.client, user });
});

t('a server-side unsubscribe (API) is notified too', async () => {
  const w = await watcher();
  const raw = await luaSession(uniq('su'));
  const ch = `news:${uniq('s')}`;
  assert.ok((await subscribe(raw, ch)).subscribe);
  const r = await api(ctx.server, 'unsubscribe', { channel: ch, user: raw.connectResult.data.welcome });
  assert.ok(r.body.result, r.text);
  await watchEvent(w, (d) => d.event === 'unsubscribe' && d.channel === ch && d.client === raw.client, 'the unsubscribe event');
});

t('the server is still healthy after every hook kind ran', async () => {
  const r = await withTimeout(api(ctx.server, 'info', {}), 5000, 'API info');
  assert.ok(r.body.result, r.text);
  assert.ok(!/AddressSanitizer|runtime error:/.test(ctx.server.logs()));
});

// ---------------------------------------------------------------------------------------------
// lua.path and lua.jit

test('lua.path adds module folders (relative to the config file); lua.jit on still runs the hooks', async () => {
  const server = await startServer(merge(defaultConfig(), { lua: { script: 'main.lua', path: ['mods'], jit: true } }), {
    files: {
      'mods/greet.lua': 'local M = {}\nfunction M.hello(n) return "hi " .. n end\nreturn M\n',
      'main.lua':
        'local greet = require "greet"\nlocal rules = require "lucent.rules"\nlocal r = rules.new()\n' +
        'r:rpc("hello", function(ctx, data) return {data = {text = greet.hello(data.name)}} end)\n' +
        'return r:hooks()\n',
    },
  });
  try {
    await withLogsOnFailure(server, async () => {
      const raw = await rawSession(server, { token: jwt.connToken(server.secret, '5') });
      assert.deepEqual(rpcData(await rawCall(raw, { rpc: { method: 'hello', data: { name: 'Ann' } } })), { text: 'hi Ann' });
    });
  } finally {
    await assertCleanExit(server);
  }
});
