'use strict';
// The Pusher protocol 7 endpoint /app/{key} (shared/spec/pusher-protocol.md, issue 14) with the
// clients a Laravel front end uses: pusher-js and laravel-echo (broadcasters `reverb` and
// `pusher`), authorized by a Node stand-in for Laravel's /broadcasting/auth that signs like
// PusherBroadcaster; raw frames where the wire itself is the point (codes, bad input). Pusher
// sessions share the hub with Centrifugo sessions: mixed clients on one channel, the server
// API's exclude_client with a socket_id, Lua hooks and /metrics.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const { api, request } = require('./lib/api');
const jwt = require('./lib/jwt');
const { newClient, connected: cfConnected, newSubscription, subscribed: cfSubscribed, nextPublication } = require('./lib/client');
const { sleep, waitUntil } = require('./lib/wait');
const P = require('./lib/pusher');

const LUA = `
return {
  subscribe = function(ctx)
    if ctx.transport == 'pusher' and ctx.channel:find('lua%-denied', 1) then
      return lucent.error(4403, 'lua says no')
    end
  end,
  publish = function(ctx, pub)
    if ctx.channel:find('lua%-upper', 1) then
      pub.data = { text = string.upper(pub.data.text), by = ctx.user, client = ctx.client }
      return pub
    end
  end,
}
`;

const ORIGIN_APP = { id: '2', key: 'origin-key', secret: 'origin-secret-0123456789' };
const OFF_APP = { id: '3', key: 'off-key', secret: 'off-secret-0123456789' };
const NOWHISPER_APP = { id: '4', key: 'nowhisper-key', secret: 'nowhisper-secret-012345' };
const ACT_APP = { id: '5', key: 'act-key', secret: 'act-secret-0123456789' };

let server;
let backend;
let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;

before(async () => {
  const cfg = merge(defaultConfig(), {
    lua: { script: 'hooks.lua' },
    prometheus: { enabled: true },
    // presence on: the server API's presence call lists the Pusher members too
    channel: { without_namespace: { allow_publish_for_subscriber: true, presence: true } },
    pusher: {
      enabled: true,
      apps: [
        { id: P.APP.id, key: P.APP.key, secret: P.APP.secret },
        { ...ORIGIN_APP, allowed_origins: ['https://good.example'], channel_prefix: 'origin-app.', max_connections: 1 },
        { ...OFF_APP, enabled: false, channel_prefix: 'off-app.' },
        { ...NOWHISPER_APP, client_events: 'off', channel_prefix: 'nowhisper-app.', max_presence_members: 2 },
        { ...ACT_APP, activity_timeout: '1s', channel_prefix: 'act-app.' },
      ],
    },
  });
  server = await startServer(cfg, { files: { 'hooks.lua': LUA } });
  backend = await P.startAuthBackend();
  await P.loadEcho();
});

after(async () => {
  P.closeAll();
  await backend.stop();
  await assertCleanExit(server);
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));

t('connection_established carries a socket_id N.N and activity_timeout; pusher:ping gets pusher:pong', async () => {
  const raw = P.rawPusher(server);
  const m = await raw.established();
  assert.match(m.payload.socket_id, /^\d+\.\d+$/);
  assert.equal(m.payload.activity_timeout, 30);
  assert.equal(typeof m.data, 'string', 'data is a JSON string (double encoded)');
  raw.send({ event: 'pusher:ping', data: {} });
  const pong = await raw.event('pusher:pong');
  assert.equal(pong.data, '{}');
  // two connections never share a socket_id
  const raw2 = P.rawPusher(server);
  await raw2.established();
  assert.notEqual(raw2.socketId, raw.socketId);
  raw.close();
  raw2.close();
});

t('liveness: a silent connection gets pusher:ping, then 4201; one that answers stays', async () => {
  const silent = P.rawPusher(server, { key: ACT_APP.key });
  const talker = P.rawPusher(server, { key: ACT_APP.key });
  const est = await silent.established();
  await talker.established();
  assert.equal(est.payload.activity_timeout, 1);
  const t0 = Date.now();
  // the talker answers every ping, as pusher-js does
  talker.ws.on('message', (buf) => {
    if (JSON.parse(buf.toString()).event === 'pusher:ping') talker.send({ event: 'pusher:pong', data: {} });
  });
  await silent.event('pusher:ping', 5000);
  const err = await silent.event('pusher:error', 5000);
  assert.equal(err.payload.code, 4201);
  assert.equal((await silent.closed).code, 4201);
  assert.ok(Date.now() - t0 >= 2500, 'closed after activity_timeout + two waits');
  await sleep(1500);
  assert.equal(talker.ws.readyState, 1, 'the connection that answers stays open');
  talker.close();
});

test('pusher.handler_prefix moves the endpoint (Reverb\'s REVERB_SERVER_PATH); pusher-js follows with wsPath', async () => {
  const s2 = await startServer(merge(defaultConfig(), { pusher: { ...P.pusherSection(), handler_prefix: '/app/reverb' } }));
  await withLogsOnFailure(s2, async () => {
    const raw = P.rawPusher(s2, { prefix: '/app/reverb' });
    await raw.established();
    raw.close();
    const p = P.newPusher(s2, { wsPath: '/app/reverb' });
    assert.match(await P.connected(p), /^\d+\.\d+$/);
    p.disconnect();
    // not at the root
    const bare = P.rawPusher(s2);
    await assert.rejects(bare.opened);
  });
  await assertCleanExit(s2);
});

t('refusals come after the upgrade as pusher:error and the same close code', async () => {
  const cases = [
    [{ key: 'no-such-key' }, 4001],
    [{ key: OFF_APP.key }, 4003],
    [{ query: '?protocol=6' }, 4007],
    [{ key: ORIGIN_APP.key, headers: { Origin: 'https://evil.example' } }, 4009],
  ];
  for (const [opts, code] of cases) {
    const raw = P.rawPusher(server, opts);
    const err = await raw.event('pusher:error');
    assert.equal(err.payload.code, code, JSON.stringify(err));
    assert.equal((await raw.closed).code, code);
  }
  // the allowed origin connects; the app's max_connections (1) holds the next one off (4004)
  const ok = P.rawPusher(server, { key: ORIGIN_APP.key, headers: { Origin: 'https://good.example' } });
  await ok.established();
  const over = P.rawPusher(server, { key: ORIGIN_APP.key });
  assert.equal((await over.event('pusher:error')).payload.code, 4004);
  assert.equal((await over.closed).code, 4004);
  ok.close();
  await ok.closed;
  // the place is given back
  await waitUntil(async () => {
    const again = P.rawPusher(server, { key: ORIGIN_APP.key });
    const m = await again.next((x) => x.event === 'pusher:connection_established' || x.event === 'pusher:error');
    again.close();
    return m.event === 'pusher:connection_established';
  }, { what: 'a place of max_connections free again' });
  // pusher-js stops on a 4001 (refused) instead of retrying
  const p = P.newPusher(server, { app: { ...P.APP, key: 'no-such-key' } });
  await waitUntil(() => p.connection.state === 'failed' || p.connection.state === 'disconnected', { what: 'pusher-js gives up' });
});

t('bad input: malformed frames and unknown events get pusher:error 4200, the connection stays; oversized frames close 1009', async () => {
  const raw = P.rawPusher(server);
  await raw.established();
  for (const bad of ['not json', '[1]', '{"event":5}', '{"event":"pusher:subscribe","data":{"channel":7}}', '{"event":"pusher:subscribe","data":"{"}']) {
    raw.send(bad);
    const e = await raw.event('pusher:error');
    assert.equal(e.payload.code, 4200, bad);
  }
  raw.send({ event: 'pusher:signin', data: { auth: 'x', user_data: '{}' } });
  assert.equal((await raw.event('pusher:error')).payload.code, 4200);
  // empty names: an unsubscribe is ignored, a client event refused
  raw.send({ event: 'pusher:unsubscribe', data: { channel: '' } });
  raw.send({ event: 'client-x', channel: '', data: {} });
  assert.equal((await raw.event('pusher:error')).payload.code, 4200);
  // still usable
  const ok = await P.rawSubscribe(raw, uniq('news-'));
  assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
  assert.equal(ok.data, '{}');
  // bad channel names
  const bad = await P.rawSubscribe(raw, 'has space');
  assert.equal(bad.event, 'pusher:subscription_error');
  assert.equal(bad.payload.status, 4009);
  const long = await P.rawSubscribe(raw, 'x'.repeat(201));
  assert.equal(long.event, 'pusher:subscription_error');
  // a frame over 64 KiB
  raw.send({ event: 'client-big', channel: 'private-x', data: { s: 'a'.repeat(70000) } });
  assert.equal((await raw.closed).code, 1009);
});

t('public channel: a server API publish reaches pusher-js; tags.event names the event, data arrives as sent', async () => {
  const p = P.newPusher(server);
  const name = uniq('news-');
  const { ch } = await P.subscribed(p, name);
  const plain = P.nextEvent(ch, 'message');
  await api(server, 'publish', { channel: name, data: { text: 'héllo ☃', n: 1.5 } });
  assert.deepEqual((await plain).data, { text: 'héllo ☃', n: 1.5 });
  const named = P.nextEvent(ch, 'App\\Events\\OrderShipped');
  await api(server, 'publish', { channel: name, data: { id: 7 }, tags: { event: 'App\\Events\\OrderShipped' } });
  assert.deepEqual((await named).data, { id: 7 });
  // the wire: data is a string holding the exact JSON text published
  const raw = P.rawPusher(server);
  await raw.established();
  await P.rawSubscribe(raw, name);
  const text = '{"a": 1.50, "big": 12345678901234567890}';
  await request(server, '/api/publish', {
    method: 'POST',
    headers: { 'X-API-Key': server.apiKey, 'Content-Type': 'application/json' },
    body: `{"channel":"${name}","data":${text}}`,
  });
  const m = await raw.next((x) => x.channel === name && x.event === 'message');
  assert.equal(m.data, text);
  raw.close();
});

t('private channels: /broadcasting/auth signatures accepted, bad signatures refused with status 401, a 403 never subscribes', async () => {
  const p = P.newPusher(server, { user: '1', backend });
  const name = uniq('private-orders.');
  const { ch } = await P.subscribed(p, name);
  const got = P.nextEvent(ch, 'OrderShipped');
  await api(server, 'publish', { channel: name, data: { order: 1 }, tags: { event: 'OrderShipped' } });
  assert.deepEqual((await got).data, { order: 1 });
  // a backend signing with the wrong secret: the server refuses (Soketi's form, Echo's .error())
  const wrong = await P.startAuthBackend({ signWith: 'not-the-secret' });
  try {
    const q = P.newPusher(server, { user: '1', backend: wrong });
    await assert.rejects(P.subscribed(q, uniq('private-x.')), (e) => e.info?.status === 401 && e.info?.type === 'AuthError');
    // Echo's .error() gets the same refusal
    const echo = P.newEcho(server, { user: '1', backend: wrong });
    const refused = await new Promise((resolve) => echo.private(uniq('orders.')).error(resolve));
    assert.equal(refused.status, 401);
  } finally {
    await wrong.stop();
  }
  // raw: no auth, a wrong key, a signature for another socket
  const raw = P.rawPusher(server);
  await raw.established();
  for (const auth of [undefined, `other-key:${'0'.repeat(64)}`, `${P.APP.key}:${P.sign(P.APP.secret, `1.1:private-y`)}`]) {
    const r = await P.rawSubscribe(raw, 'private-y', { auth: auth ?? '' });
    assert.equal(r.event, 'pusher:subscription_error');
    assert.equal(r.payload.status, 401);
  }
  // a denial by Laravel (403) is pusher-js's own subscription error; nothing was sent
  await assert.rejects(P.subscribed(p, 'private-forbidden.1'), (e) => e.info?.status === 403);
  raw.close();
});

t('presence with laravel-echo (reverb): here, joining and leaving per user, not per connection', async () => {
  const room = uniq('chat.');
  const a = P.newEcho(server, { user: '1', backend });
  const here = await new Promise((resolve) => a.join(room).here(resolve));
  assert.deepEqual(here, [{ name: 'User 1' }]);
  const joins = [];
  const leaves = [];
  a.join(room).joining((u) => joins.push(u)).leaving((u) => leaves.push(u));
  const b = P.newEcho(server, { user: '2', backend });
  const hereB = await new Promise((resolve) => b.join(room).here(resolve));
  assert.deepEqual(hereB.map((u) => u.name).sort(), ['User 1', 'User 2']);
  await waitUntil(() => joins.length === 1, { what: 'joining(User 2)' });
  assert.deepEqual(joins[0], { name: 'User 2' });
  // user 2 again, in a second tab: one member, no joining
  const b2 = P.newEcho(server, { user: '2', backend });
  const hereB2 = await new Promise((resolve) => b2.join(room).here(resolve));
  assert.equal(hereB2.length, 2);
  await sleep(300);
  assert.equal(joins.length, 1, 'a second connection of a member is no new member');
  // the Centrifugo side sees the same list: user = user_id, chan_info = user_info
  const pres = await api(server, 'presence', { channel: `presence-${room}` });
  const infos = Object.values(pres.body.result.presence);
  assert.equal(infos.length, 3);
  assert.deepEqual([...new Set(infos.map((i) => i.user))].sort(), ['1', '2']);
  assert.deepEqual(infos.find((i) => i.user === '1').chan_info, { name: 'User 1' });
  // one tab of user 2 leaves: still a member
  b.leave(room);
  await sleep(300);
  assert.equal(leaves.length, 0);
  b2.leave(room);
  await waitUntil(() => leaves.length === 1, { what: 'leaving(User 2)' });
  assert.deepEqual(leaves[0], { name: 'User 2' });
});

t('presence channel_data: 1 and "1" are one user, malformed data and full channels refused', async () => {
  const room = `presence-${uniq('raw.')}`;
  const a = P.rawPusher(server);
  const b = P.rawPusher(server);
  await Promise.all([a.established(), b.established()]);
  const okA = await P.rawSubscribe(a, room, { channelData: '{"user_id":1,"user_info":{"n":"a"}}' });
  assert.deepEqual(okA.payload, { presence: { ids: ['1'], hash: { 1: { n: 'a' } }, count: 1 } });
  // user "1" (a string, as Laravel sends it), escaped as PHP does: the same user, no member_added
  const okB = await P.rawSubscribe(b, room, { channelData: '{"user_id":"\\u0031","user_info":{"n":"b"}}' });
  assert.equal(okB.payload.presence.count, 1);
  await sleep(300);
  assert.equal(a.msgs.filter((m) => m.event === 'pusher_internal:member_added').length, 0);
  // malformed channel_data (signed, so only its content is wrong)
  const c = P.rawPusher(server);
  await c.established();
  for (const [cd, status] of [['not json', 4302], ['{"user_info":{}}', 4302], ['{"user_id":[1]}', 4302], ['{"user_id":""}', 4301], [`{"user_id":"${'x'.repeat(200)}"}`, 4301], [`{"user_id":"9","user_info":"${'y'.repeat(2000)}"}`, 4301]]) {
    const r = await P.rawSubscribe(c, room, { channelData: cd });
    assert.equal(r.event, 'pusher:subscription_error', cd);
    assert.equal(r.payload.status, status, cd);
  }
  // a second user_id on one connection
  const r2 = await P.rawSubscribe(a, `presence-${uniq('other.')}`, { channelData: '{"user_id":"2"}' });
  assert.equal(r2.payload.status, 4009);
  // max_presence_members 2 (the nowhisper app): the third user is refused
  const full = `presence-${uniq('full.')}`;
  const app = NOWHISPER_APP;
  const conns = [];
  for (const u of ['1', '2', '3', '1']) {
    const r = P.rawPusher(server, { key: app.key });
    await r.established();
    conns.push(r);
    const ans = await P.rawSubscribe(r, full, { app, channelData: JSON.stringify({ user_id: u }) });
    if (u === '3') assert.equal(ans.payload.status, 4100);
    else assert.equal(ans.event, 'pusher_internal:subscription_succeeded', u);
  }
  for (const r of [a, b, c, ...conns]) r.close();
});

t('whisper (client events): others on the channel get it, the sender does not; the app policy decides', async () => {
  for (const kind of ['private', 'presence']) {
    const room = uniq('room.');
    const a = P.newEcho(server, { user: '1', backend });
    const b = P.newEcho(server, { user: '2', backend });
    const chA = kind === 'private' ? a.private(room) : a.join(room);
    const chB = kind === 'private' ? b.private(room) : b.join(room);
    const gotB = [];
    const gotA = [];
    chB.listenForWhisper('typing', (e) => gotB.push(e));
    chA.listenForWhisper('typing', (e) => gotA.push(e));
    await Promise.all([new Promise((r) => chA.subscribed(r)), new Promise((r) => chB.subscribed(r))]);
    chA.whisper('typing', { name: 'Ann', n: 12345678901234567890 });
    await waitUntil(() => gotB.length === 1, { what: `whisper on ${kind}` });
    assert.deepEqual(gotB[0], { name: 'Ann', n: 12345678901234567890 });
    await sleep(200);
    assert.equal(gotA.length, 0, 'the sender is left out');
  }
  // presence: the sender's user_id comes along (pusher-js metadata)
  const room = `presence-${uniq('meta.')}`;
  const p1 = P.newPusher(server, { user: '1', backend });
  const p2 = P.newPusher(server, { user: '2', backend });
  const { ch: c1 } = await P.subscribed(p1, room);
  const { ch: c2 } = await P.subscribed(p2, room);
  const ev = P.nextEvent(c2, 'client-ping');
  c1.trigger('client-ping', { x: 1 });
  assert.deepEqual(await ev, { data: { x: 1 }, meta: { user_id: '1' } });

  const raw = P.rawPusher(server);
  await raw.established();
  // public channels: refused (4301); a channel not subscribed: 4009
  const pub = uniq('pub-');
  await P.rawSubscribe(raw, pub);
  raw.send({ event: 'client-x', channel: pub, data: {} });
  assert.equal((await raw.event('pusher:error')).payload.code, 4301);
  raw.send({ event: 'client-x', channel: 'private-notmine', data: {} });
  assert.equal((await raw.event('pusher:error')).payload.code, 4009);
  // over 10 KB of data
  await P.rawSubscribe(raw, 'private-big');
  raw.send({ event: 'client-x', channel: 'private-big', data: { s: 'a'.repeat(11000) } });
  assert.equal((await raw.event('pusher:error')).payload.code, 4301);
  // more than 10 a second
  for (let i = 0; i < 12; i++) raw.send({ event: 'client-flood', channel: 'private-big', data: { i } });
  const limited = await raw.next((m) => m.event === 'pusher:error' && /rate limit/.test(m.payload.message), 5000, 'rate limit');
  assert.equal(limited.payload.code, 4301);
  raw.close();
  // an app with client events off
  const off = P.rawPusher(server, { key: NOWHISPER_APP.key });
  await off.established();
  await P.rawSubscribe(off, 'private-z', { app: NOWHISPER_APP });
  off.send({ event: 'client-x', channel: 'private-z', data: {} });
  assert.equal((await off.event('pusher:error')).payload.code, 4301);
  off.close();
});

t('laravel-echo with the pusher broadcaster listens to server events', async () => {
  const echo = P.newEcho(server, { user: '5', backend, broadcaster: 'pusher' });
  const name = uniq('orders.');
  const got = new Promise((resolve) => echo.private(name).listen('.order.shipped', resolve));
  await new Promise((r) => echo.private(name).subscribed(r));
  await api(server, 'publish', { channel: `private-${name}`, data: { id: 3 }, tags: { event: 'order.shipped' } });
  assert.deepEqual(await got, { id: 3 });
  // Echo's default namespace: .listen('OrderShipped') is App\Events\OrderShipped
  const got2 = new Promise((resolve) => echo.private(name).listen('OrderShipped', resolve));
  await api(server, 'publish', { channel: `private-${name}`, data: { id: 4 }, tags: { event: 'App\\Events\\OrderShipped' } });
  assert.deepEqual(await got2, { id: 4 });
});

t('mixed clients on one channel: Centrifugo and Pusher see each other’s publications', async () => {
  const name = uniq('private-mixed.');
  const cf = newClient(server, { token: jwt.connToken(server.secret, 'cf-user') });
  await cfConnected(cf);
  const sub = newSubscription(cf, name);
  sub.subscribe();
  await cfSubscribed(sub);
  const p = P.newPusher(server, { user: '9', backend });
  const { ch } = await P.subscribed(p, name);
  // Centrifugo → Pusher: event "message", the data
  const toPusher = P.nextEvent(ch, 'message');
  await sub.publish({ text: 'from centrifuge' });
  assert.deepEqual((await toPusher).data, { text: 'from centrifuge' });
  // Pusher → Centrifugo: a whisper is a publication tagged with its event, from the socket_id
  assert.deepEqual((await nextPublication(sub)).data, { text: 'from centrifuge' }, 'its own first');
  const toCf = nextPublication(sub);
  ch.trigger('client-note', { text: 'from pusher' });
  const pub = await toCf;
  assert.deepEqual(pub.data, { text: 'from pusher' });
  assert.deepEqual(pub.tags, { event: 'client-note' });
  assert.equal(pub.info.client, p.connection.socket_id);
  cf.disconnect();
});

t('the server API exclude_client takes a socket_id: that Pusher connection is left out (toOthers)', async () => {
  const name = uniq('ex-');
  const a = P.rawPusher(server);
  const b = P.rawPusher(server);
  await Promise.all([a.established(), b.established()]);
  await P.rawSubscribe(a, name);
  await P.rawSubscribe(b, name);
  await api(server, 'publish', { channel: name, data: { n: 1 }, exclude_client: a.socketId });
  await api(server, 'publish', { channel: name, data: { n: 2 } });
  const firstA = await a.next((m) => m.channel === name && m.event === 'message');
  assert.deepEqual(firstA.payload, { n: 2 }, 'the excluded connection got the first publication');
  assert.deepEqual((await b.next((m) => m.channel === name && m.event === 'message')).payload, { n: 1 });
  // the server API's disconnect by client id closes a Pusher connection with 4009
  await api(server, 'disconnect', { user: '', client: b.socketId });
  assert.equal((await b.closed).code, 4009);
  a.close();
});

t('Lua hooks see Pusher sessions: a subscribe hook refuses, a publish hook rewrites a whisper', async () => {
  const p = P.newPusher(server, { user: '3', backend });
  await assert.rejects(P.subscribed(p, 'private-lua-denied.1'), (e) => e.info?.status === 403 && /lua says no/.test(e.info.error));
  const name = `private-${uniq('lua-upper.')}`;
  const q = P.newPusher(server, { user: '4', backend });
  const { ch: cp } = await P.subscribed(p, name);
  const { ch: cq } = await P.subscribed(q, name);
  const got = P.nextEvent(cq, 'client-say');
  cp.trigger('client-say', { text: 'quiet' });
  const ev = await got;
  assert.deepEqual(ev.data, { text: 'QUIET', by: '', client: p.connection.socket_id });
});

t('/metrics counts Pusher connections, subscriptions and deliveries', async () => {
  const raw = P.rawPusher(server);
  await raw.established();
  const name = uniq('m-');
  await P.rawSubscribe(raw, name);
  await api(server, 'publish', { channel: name, data: {} });
  await raw.next((m) => m.channel === name && m.event === 'message');
  const m = await request(server, '/metrics');
  assert.match(m.text, /lucent_connections\{transport="pusher"\} [1-9]/);
  assert.match(m.text, /lucent_subscriptions\{transport="pusher"\} [1-9]/);
  assert.match(m.text, /lucent_publications_out_total\{transport="pusher"\} [1-9]/);
  raw.close();
});

t('private-encrypted channels: authorized like private ones, the ciphertext relayed byte for byte', async () => {
  const name = `private-encrypted-${uniq('vault.')}`;
  const raw = P.rawPusher(server);
  await raw.established();
  const ok = await P.rawSubscribe(raw, name);
  assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
  const bad = await P.rawSubscribe(raw, `private-encrypted-${uniq('v.')}`, { auth: `${P.APP.key}:${'f'.repeat(64)}` });
  assert.equal(bad.payload.status, 401);
  // what the HTTP SDKs publish for an encrypted channel: a JSON string holding nonce and ciphertext
  const sealed = JSON.stringify({ nonce: 'bm9uY2Vub25jZW5vbmNlbm9uY2Vub25j', ciphertext: 'c2VjcmV0/+==' });
  await api(server, 'publish', { channel: name, data: JSON.parse(sealed), tags: { event: 'secret' } });
  const m = await raw.next((x) => x.channel === name && x.event === 'secret');
  assert.equal(m.data, sealed);
  raw.close();
});

t('two apps reaching one Lucent channel under different prefixes each get their own channel name', async () => {
  const name = uniq('shared');
  const main = P.rawPusher(server);
  const other = P.rawPusher(server, { key: ORIGIN_APP.key });
  await Promise.all([main.established(), other.established()]);
  // the main app's "origin-app.<name>" is the origin app's "<name>"
  await P.rawSubscribe(main, `origin-app.${name}`);
  await P.rawSubscribe(other, name, { app: ORIGIN_APP });
  await api(server, 'publish', { channel: `origin-app.${name}`, data: { n: 1 } });
  const a = await main.next((m) => m.event === 'message');
  const b = await other.next((m) => m.event === 'message');
  assert.equal(a.channel, `origin-app.${name}`);
  assert.equal(b.channel, name);
  assert.deepEqual(a.payload, { n: 1 });
  assert.deepEqual(b.payload, { n: 1 });
  main.close();
  other.close();
});
