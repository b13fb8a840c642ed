'use strict';
// The Pusher HTTP API (spec/pusher-protocol.md §6) driven by the npm `pusher` server SDK (what
// Laravel's pusher/reverb driver does through pusher-http-php), with Centrifugo clients on the
// mapped Lucent channels receiving what it triggers; and the same endpoints attacked with
// hand-signed requests: bad signatures, keys, timestamps, body_md5, bodies and limits.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test, describe, before, after } = require('node:test');
const Pusher = require('pusher');
const fs = require('node:fs');
const path = require('node:path');
const { REPO_ROOT, startServer, stopServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { request, api } = require('./lib/api');
const { clientOn, nextPublication } = require('./lib/client');
const { startRedis } = require('./lib/redis');
const { waitUntil } = require('./lib/wait');

const APP = { id: '100001', key: 'lucent-app-key', secret: crypto.randomBytes(16).toString('hex') };
// an app whose channels live in the namespace "laravel" (channel_prefix)
const APP2 = { id: '100002', key: 'second-app-key', secret: crypto.randomBytes(16).toString('hex') };
// the signing example of Pusher's REST API docs (spec §6.1): an old timestamp, so no window
const DOCS = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };

// The Lua broadcast hook sees Pusher events as it sees server API publications.
const LUA = `
local rules = require "lucent.rules"
local r = rules.new()
r:broadcast("luadeny-*", function(ctx, pub) return false end)
r:broadcast("luatag-*", function(ctx, pub)
  pub.data.seen_by_lua = true
  return pub
end)
return r:hooks()
`;

let server;
let pusher;
let pusher2;
let seq = 0;
const uniq = (p) => `${p}${process.pid}-${++seq}`;

/** A Centrifugo client subscribed to a Lucent channel. */
async function centrifugoOn(channel, user = 'u1') {
  return clientOn(server, jwt.connToken(server.secret, user), channel);
}

// --- hand-signed requests ----------------------------------------------------------------------

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const hmac = (secret, s) => crypto.createHmac('sha256', secret).update(s).digest('hex');

/**
 * A signed request as pusher-http-node builds it (§6.1), each part overridable to break it:
 * opts {app, method, path (/apps/..), query (extra params), body (string), timestamp, key,
 * version, bodyMd5 (string | null to leave it out), signature, secret, prefix}.
 */
function signed(opts) {
  const app = opts.app ?? APP;
  const method = opts.method ?? (opts.body !== undefined ? 'POST' : 'GET');
  const params = {
    auth_key: opts.key ?? app.key,
    auth_timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: opts.version ?? '1.0',
    ...(opts.query || {}),
  };
  if (opts.body !== undefined && opts.bodyMd5 !== null) params.body_md5 = opts.bodyMd5 ?? md5(opts.body);
  const sorted = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const sig = opts.signature ?? hmac(opts.secret ?? app.secret, `${method}\n${opts.path}\n${sorted}`);
  const qs = Object.keys(params)
    .map((k) => `${k}=${encodeURIComponent(params[k])}`)
    .join('&');
  return request(server, `${opts.prefix ?? ''}${opts.path}?${qs}&auth_signature=${sig}`, {
    method,
    headers: opts.body !== undefined ? { 'Content-Type': 'application/json' } : {},
    body: opts.body,
  });
}

const event = (over = {}) => JSON.stringify({ name: 'e', data: '{}', channels: [uniq('c')], ...over });

function assertPusherError(res, status, pattern) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.body.code, status, res.text);
  assert.match(res.body.error, pattern);
}

before(async () => {
  server = await startServer(
    merge(defaultConfig(), {
      channel: { namespaces: [{ name: 'laravel', allow_subscribe_for_client: true }] },
      pusher: {
        enabled: true,
        apps: [
          { ...APP },
          { ...APP2, channel_prefix: 'laravel:', max_event_data_size: 64, max_batch_size: 2, max_channels_per_event: 3 },
          { ...DOCS, channel_prefix: 'docs.', timestamp_window: '0s' },
        ],
      },
      lua: { script: 'pusher_hooks.lua' },
    }),
    { files: { 'pusher_hooks.lua': LUA } },
  );
  const opts = { host: '127.0.0.1', port: String(server.port), useTLS: false };
  pusher = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, ...opts });
  pusher2 = new Pusher({ appId: APP2.id, key: APP2.key, secret: APP2.secret, ...opts });
});

after(async () => {
  await assertCleanExit(server);
});

describe('pusher SDK → Centrifugo clients', () => {
  test('a triggered event reaches a Centrifugo client on the same channel, data byte for byte and the name as tag', async () => {
    await withLogsOnFailure(server, async () => {
      const ch = uniq('orders.');
      const { sub } = await centrifugoOn(ch);
      // Laravel's driver sends the payload as a JSON string; its bytes are the publication's
      const payload = '{"order_id":1,"total":12.50,"big":12345678901234567890,"name":"caf\\u00e9"}';
      const res = await pusher.trigger(ch, 'App\\Events\\OrderShipped', payload);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {});
      const pub = await nextPublication(sub);
      assert.deepEqual(pub.tags, { event: 'App\\Events\\OrderShipped' });
      assert.equal(pub.data.order_id, 1);
      assert.equal(pub.data.name, 'café');
      // history keeps the exact bytes (12.50 and the big integer survive)
      const h = await api(server, 'history', { channel: ch, limit: 1 });
      assert.equal(h.status, 200, h.text);
    });
  });

  test('an object is sent as JSON text by the SDK; a non-JSON string stays a string', async () => {
    const ch = uniq('news-');
    const { sub } = await centrifugoOn(ch);
    await pusher.trigger(ch, 'obj', { a: [1, 2] });
    assert.deepEqual((await nextPublication(sub)).data, { a: [1, 2] });
    await pusher.trigger(ch, 'text', 'hello "world"');
    assert.equal((await nextPublication(sub)).data, 'hello "world"');
    await pusher.trigger(ch, 'quoted', '"already a JSON string"');
    assert.equal((await nextPublication(sub)).data, '"already a JSON string"');
    // JSON with raw newlines stays a string: the JSON protocol's framing would drop them
    await pusher.trigger(ch, 'pretty', '{\n  "a": 1\n}');
    assert.equal((await nextPublication(sub)).data, '{\n  "a": 1\n}');
    // so do whitespace around the JSON and null: they would not come back as the same string
    await pusher.trigger(ch, 'spaced', ' {"a":1}');
    assert.equal((await nextPublication(sub)).data, ' {"a":1}');
    await pusher.trigger(ch, 'null', 'null');
    assert.equal((await nextPublication(sub)).data, 'null');
    await pusher.trigger(ch, 'number', '42');
    assert.equal((await nextPublication(sub)).data, 42);
  });

  test('socket_id (toOthers) is accepted and everyone else still gets the event', async () => {
    const ch = uniq('private-room.');
    const { sub } = await centrifugoOn(ch);
    const res = await pusher.trigger(ch, 'whisper', { x: 1 }, { socket_id: '123.456' });
    assert.equal(res.status, 200);
    assert.deepEqual((await nextPublication(sub)).data, { x: 1 });
    // the SDK checks the form itself; the server too
    assert.throws(() => pusher.trigger(ch, 'e', {}, { socket_id: 'abc' }), /socket id/i);
    const res2 = await signed({ path: `/apps/${APP.id}/events`, body: event({ socket_id: 'abc' }) });
    assertPusherError(res2, 400, /socket_id/);
  });

  test('several channels at once, and info counts per channel type', async () => {
    const a = uniq('multi-a');
    const b = uniq('presence-multi-b');
    const { sub } = await centrifugoOn(a);
    await centrifugoOn(a, 'u2');
    const res = await pusher.trigger([a, b], 'both', { n: 1 }, { info: 'subscription_count,user_count' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { channels: { [a]: { subscription_count: 2 }, [b]: { user_count: 0 } } });
    assert.deepEqual((await nextPublication(sub)).data, { n: 1 });
    // a channel named twice is counted once
    const twice = await signed({ path: `/apps/${APP.id}/events`, body: event({ channels: [a, a], info: 'subscription_count' }) });
    assert.equal(twice.text, `{"channels":{"${a}":{"subscription_count":2}}}`);
  });

  test('batch events: each delivered, info answered index by index', async () => {
    const a = uniq('batch-a');
    const b = uniq('batch-b');
    const { sub: sa } = await centrifugoOn(a);
    const { sub: sb } = await centrifugoOn(b);
    const res = await pusher.triggerBatch([
      { channel: a, name: 'one', data: '{"i":1}' },
      { channel: b, name: 'two', data: { i: 2 } },
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    assert.deepEqual((await nextPublication(sa)).data, { i: 1 });
    const pb = await nextPublication(sb);
    assert.deepEqual(pb.data, { i: 2 });
    assert.deepEqual(pb.tags, { event: 'two' });
    const withInfo = await pusher.triggerBatch([
      { channel: a, name: 'x', data: '1', info: 'subscription_count' },
      { channel: b, name: 'y', data: '2' },
    ]);
    assert.deepEqual(await withInfo.json(), { batch: [{ subscription_count: 1 }, {}] });
  });

  test("an app's channel_prefix maps its channels into a namespace", async () => {
    const name = uniq('orders.');
    const { sub } = await centrifugoOn(`laravel:${name}`);
    const res = await pusher2.trigger(name, 'mapped', '{"ok":true}');
    assert.equal(res.status, 200);
    const pub = await nextPublication(sub);
    assert.deepEqual(pub.data, { ok: true });
    assert.equal(pub.channel, `laravel:${name}`);
    const list = await pusher2.get({ path: '/channels', params: { filter_by_prefix: 'orders.' } });
    assert.ok(Object.keys((await list.json()).channels).includes(name));
  });
});

test('Pusher events go through the Lua broadcast hook: transformed, or refused with 403', async () => {
  const ch = uniq('luatag-');
  const { sub } = await centrifugoOn(ch);
  assert.equal((await pusher.trigger(ch, 'e', { a: 1 })).status, 200);
  assert.deepEqual((await nextPublication(sub)).data, { a: 1, seen_by_lua: true });
  await assert.rejects(pusher.trigger(uniq('luadeny-'), 'e', { a: 1 }), (e) => e.status === 403 && /permission denied/.test(e.body));
});

describe('channel queries', () => {
  test('GET /channels lists occupied channels, filtered by prefix', async () => {
    const ch = uniq('listed-');
    await centrifugoOn(ch);
    const all = await (await pusher.get({ path: '/channels' })).json();
    assert.deepEqual(all.channels[ch], {});
    const some = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: ch.slice(0, 7) } })).json();
    assert.deepEqual(some.channels[ch], {});
    const none = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'nothing-here' } })).json();
    assert.deepEqual(none, { channels: {} });
    // user_count needs a presence- prefix (Pusher answers 400 otherwise)
    await assert.rejects(pusher.get({ path: '/channels', params: { info: 'user_count' } }), (e) => e.status === 400);
    const pres = await (await pusher.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
    assert.deepEqual(pres, { channels: {} });
  });

  test('GET /channels/{name}: occupied and counts; wrong attributes are 400', async () => {
    const ch = uniq('one-');
    await centrifugoOn(ch);
    await centrifugoOn(ch, 'u2');
    const info = await (await pusher.get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })).json();
    assert.deepEqual(info, { occupied: true, subscription_count: 2 });
    const empty = await (await pusher.get({ path: `/channels/${uniq('empty-')}` })).json();
    assert.deepEqual(empty, { occupied: false });
    const pres = await (await pusher.get({ path: `/channels/${uniq('presence-x')}`, params: { info: 'user_count' } })).json();
    assert.deepEqual(pres, { occupied: false, user_count: 0 });
    await assert.rejects(pusher.get({ path: `/channels/${ch}`, params: { info: 'user_count' } }), (e) => e.status === 400);
    await assert.rejects(pusher.get({ path: `/channels/${ch}`, params: { info: 'members' } }), (e) => e.status === 400);
  });

  test('GET /channels/{name}/users: presence channels only', async () => {
    const users = await (await pusher.get({ path: `/channels/${uniq('presence-room')}/users` })).json();
    assert.deepEqual(users, { users: [] });
    await assert.rejects(pusher.get({ path: `/channels/${uniq('public')}/users` }), (e) => e.status === 400);
  });

  test('POST /users/{id}/terminate_connections disconnects that user', async () => {
    const { client } = await centrifugoOn(uniq('term-'), 'banned-user');
    const gone = new Promise((resolve) => client.once('disconnected', resolve));
    const res = await pusher.terminateUserConnections('banned-user');
    assert.equal(res.status, 200);
    await gone;
  });
});

describe('signatures and bad requests', () => {
  test("Pusher's documented signing example is accepted (§6.1 test vector)", async () => {
    const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
    assert.equal(md5(body), 'ec365a775a4cd0599faeb73354201b6f');
    const res = await signed({
      app: DOCS,
      path: '/apps/3/events',
      body,
      timestamp: 1353088179,
      signature: 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c',
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {});
  });

  test('a valid hand-signed request passes; a replay inside the window passes too (as Pusher)', async () => {
    const body = event();
    const ts = Math.floor(Date.now() / 1000) - 30;
    assert.equal((await signed({ path: `/apps/${APP.id}/events`, body, timestamp: ts })).status, 200);
    assert.equal((await signed({ path: `/apps/${APP.id}/events`, body, timestamp: ts })).status, 200);
  });

  test('bad signature, secret, key, version, timestamp or body_md5 → 401', async () => {
    const path = `/apps/${APP.id}/events`;
    const body = event();
    assertPusherError(await signed({ path, body, signature: 'ab'.repeat(32) }), 401, /Invalid signature/);
    assertPusherError(await signed({ path, body, secret: 'not-the-secret' }), 401, /Invalid signature/);
    assertPusherError(await signed({ path, body, key: APP2.key }), 401, /auth_key/);
    assertPusherError(await signed({ path, body, version: '2.0' }), 401, /auth_version/);
    const old = Math.floor(Date.now() / 1000) - 601;
    assertPusherError(await signed({ path, body, timestamp: old }), 401, /Timestamp expired.*within 600s/);
    assertPusherError(await signed({ path, body, timestamp: old + 1300 }), 401, /Timestamp expired/);
    assertPusherError(await signed({ path, body, timestamp: 'soon' }), 401, /auth_timestamp/);
    assertPusherError(await signed({ path, body, bodyMd5: md5('{}') }), 401, /body_md5/);
    assertPusherError(await signed({ path, body, bodyMd5: null }), 401, /body_md5/);
    // the body changed after signing
    const res = await request(server, `${path}?auth_key=${APP.key}&auth_timestamp=1&auth_version=1.0`, { method: 'POST', body });
    assertPusherError(res, 401, /auth_signature/);
    // the SDK with a wrong secret sees the 401 too
    const bad = new Pusher({ appId: APP.id, key: APP.key, secret: 'wrong', host: '127.0.0.1', port: String(server.port), useTLS: false });
    await assert.rejects(bad.trigger('x', 'e', {}), (e) => e.status === 401);
  });

  test('unknown app 404, unknown endpoint 404, wrong method 405', async () => {
    assertPusherError(await signed({ path: '/apps/999999/events', body: event() }), 404, /999999 could not be found/);
    assertPusherError(await signed({ path: `/apps/${APP.id}/nothing` }), 404, /Not found/);
    const res = await signed({ path: `/apps/${APP.id}/events`, method: 'GET' });
    assert.equal(res.status, 405);
  });

  test('bodies that are not strict JSON, bad fields and limits → 400 / 413', async () => {
    const path = `/apps/${APP.id}/events`;
    const p2 = `/apps/${APP2.id}/events`;
    const badUtf8 = Buffer.concat([Buffer.from('{"name":"e","data":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","channels":["a"]}')]);
    for (const body of ['', 'not json', '{"name":"e",', '[1,2]', badUtf8]) {
      assertPusherError(await signed({ path, body }), 400, /JSON object/);
    }
    assertPusherError(await signed({ path, body: '{"name":"e","data":"a\\u0000b","channel":"a"}' }), 400, /u0000/);
    assertPusherError(await signed({ path, body: event({ name: undefined }) }), 400, /name: required/);
    assertPusherError(await signed({ path, body: event({ name: 'n'.repeat(201) }) }), 400, /name: longer than 200/);
    assertPusherError(await signed({ path, body: event({ data: { not: 'a string' } }) }), 400, /must be strings/);
    assertPusherError(await signed({ path, body: event({ data: undefined }) }), 400, /data: required/);
    assertPusherError(await signed({ path, body: event({ channels: [] }) }), 400, /channels: required/);
    assertPusherError(await signed({ path, body: event({ channels: ['bad name'] }) }), 400, /invalid channel name/);
    assertPusherError(await signed({ path, body: event({ channels: ['#server-to-user-1'] }) }), 400, /invalid channel name/);
    assertPusherError(await signed({ path, body: event({ channels: ['c'.repeat(201)] }) }), 400, /invalid channel name/);
    assertPusherError(await signed({ path, body: event({ socket_id: '1.2.3' }) }), 400, /socket_id/);
    assertPusherError(await signed({ path, body: event({ info: 'user_count,bogus' }) }), 400, /unknown attribute "bogus"/);
    assertPusherError(await signed({ path, body: event({ data: 'x'.repeat(10241) }) }), 413, /over the limit of 10240/);
    // the second app's own limits
    assertPusherError(await signed({ app: APP2, path: p2, body: event({ data: 'x'.repeat(65) }) }), 413, /limit of 64/);
    assertPusherError(await signed({ app: APP2, path: p2, body: event({ channels: ['a', 'b', 'c', 'd'] }) }), 400, /limit of 3/);
    const batch = (n) => JSON.stringify({ batch: Array.from({ length: n }, (_, i) => ({ name: 'e', data: '1', channel: `c${i}` })) });
    assertPusherError(await signed({ app: APP2, path: `/apps/${APP2.id}/batch_events`, body: batch(3) }), 400, /3 events, over the limit of 2/);
    assertPusherError(await signed({ path: `/apps/${APP.id}/batch_events`, body: '{"batch":[]}' }), 400, /batch: required/);
    assertPusherError(await signed({ path: `/apps/${APP.id}/batch_events`, body: '{"batch":[{"name":"e","data":"1","channel":"ok"},{"name":"e"}]}' }), 400, /batch\[1\]: data: required/);
    // a body larger than http_server.max_body_size is refused by the HTTP server itself
    const huge = await signed({ path, body: event({ data: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(huge.status, 413);
    // and the server is still fine
    assert.equal((await pusher.trigger(uniq('after-'), 'e', {})).status, 200);
  });

  test('malformed query strings are refused', async () => {
    const res = await request(server, `/apps/${APP.id}/channels?auth_key=%zz`, {});
    assertPusherError(res, 400, /Malformed query/);
    // what the request sent is quoted as printable ASCII only
    const odd = await signed({ path: `/apps/${APP.id}/channels`, query: { info: 'ÿ\u0001' } });
    assertPusherError(odd, 400, /unknown attribute "\?\?\?"/);
  });
});

test('examples/laravel/lucent-reverb.json as shipped: the pusher SDK publishes with its credentials', async () => {
  const file = path.join(REPO_ROOT, 'examples/laravel/lucent-reverb.json');
  const text = fs.readFileSync(file, 'utf8');
  const s = await startServer({}, { configText: (port) => text.replace('"port": 8080', `"port": ${port}`) });
  try {
    const p = new Pusher({
      appId: '123456',
      key: 'change-me-app-key',
      secret: 'change-me-to-a-long-random-secret',
      host: '127.0.0.1',
      port: String(s.port),
      useTLS: false,
    });
    const res = await p.trigger('news', 'hello', { text: 'x'.repeat(20000) }); // over 10 KB: raised
    assert.equal(res.status, 200);
    assert.deepEqual(await (await p.get({ path: '/channels' })).json(), { channels: {} });
  } finally {
    await stopServer(s);
  }
});

test('two nodes on Redis: an event triggered on node A reaches node B; counts and users span both nodes', async () => {
  const r = await startRedis();
  const cfg = merge(defaultConfig(), {
    engine: { type: 'redis', redis: { address: r.address, prefix: `pa${process.pid}`, presence_ttl: '5s' } },
    channel: { without_namespace: { allow_subscribe_for_client: true, presence: true } },
    pusher: { enabled: true, apps: [{ ...APP }] },
  });
  const a = await startServer(cfg);
  const b = await startServer(cfg);
  try {
    const ch = uniq('presence-nodes');
    const { sub } = await clientOn(b, jwt.connToken(b.secret, 'u7'), ch);
    await clientOn(b, jwt.connToken(b.secret, 'u7'), ch); // the same user twice: one member
    const pa = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(a.port), useTLS: false });
    const res = await pa.trigger(ch, 'across', '{"from":"a"}');
    assert.equal(res.status, 200);
    const pub = await nextPublication(sub);
    assert.deepEqual(pub.data, { from: 'a' });
    assert.deepEqual(pub.tags, { event: 'across' });
    // node A counts node B's connections once it knows B (nodes announce themselves)
    await waitUntil(async () => (await api(a, 'info', {})).body.result?.nodes?.length === 2, { timeoutMs: 8000, what: 'two nodes' });
    let info;
    await waitUntil(
      async () => {
        info = await (await pa.get({ path: `/channels/${ch}`, params: { info: 'user_count,subscription_count' } })).json();
        return info.user_count === 1;
      },
      { what: 'the presence of node B seen from node A' },
    );
    assert.deepEqual(info, { occupied: true, user_count: 1, subscription_count: 2 });
    assert.deepEqual(await (await pa.get({ path: `/channels/${ch}/users` })).json(), { users: [{ id: 'u7' }] });
    const list = await (await pa.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
    assert.deepEqual(list.channels[ch], { user_count: 1 });
  } finally {
    await assertCleanExit(a);
    await assertCleanExit(b);
    await r.stop();
  }
});
