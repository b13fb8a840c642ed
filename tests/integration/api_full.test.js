'use strict';
// The whole server HTTP API (spec §4): every method with the exact bodies the Laravel SDK
// sends and the response shapes its test-suite asserts (laravel.md §1.3-§1.4), history
// semantics (§7.2), session operations on live connections, batch, the legacy single endpoint
// (§4.3), the transport error mode and request validation.

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, randomSecret, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish, request } = require('./lib/api');
const { rawSession } = require('./lib/client');
const { withTimeout } = require('./lib/wait');

// The channel options of the Laravel SDK's CI job, for channels without namespace; "plain"
// has neither presence nor history.
const laravelOpts = {
  presence: true,
  join_leave: true,
  force_push_join_leave: true,
  history_size: 100,
  history_ttl: '300s',
  force_recovery: true,
  allow_publish_for_subscriber: true,
  allow_presence_for_subscriber: true,
  allow_history_for_subscriber: true,
  allow_subscribe_for_client: true,
};

let server;
before(async () => {
  server = await startServer({
    client: { token: { hmac_secret_key: randomSecret() }, allowed_origins: [] },
    http_api: { key: randomSecret() },
    channel: {
      without_namespace: laravelOpts,
      namespaces: [
        { name: 'plain', allow_subscribe_for_client: true },
        { name: 'hist', ...laravelOpts },
      ],
    },
  });
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user) => jwt.connToken(server.secret, user);
let seq = 0;
const uniq = (prefix = 'ch') => `${prefix}${++seq}x${Date.now() % 100000}`;

const errorOf = (r) => r.body && r.body.error && r.body.error.code;
const legacy = (body, headers = { Authorization: `apikey ${server.apiKey}` }) =>
  request(server, '/api', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** The body of a raw client's next push on channel that pred accepts. */
const pushOn = async (raw, channel, pred, what = `push on ${channel}`) =>
  (await raw.push((p) => p.channel === channel && pred(p), 5000, what)).push;

// ---------------------------------------------------------------------------------------------
// laravel.md §1.4, with the SDK's exact request bodies (§1.3)

t('publish (SDK body, skip_history false): result is an object with offset and epoch', async () => {
  const ch = uniq();
  const r = await api(server, 'publish', { channel: ch, data: { event: 'x' }, skip_history: false });
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.result, 'object', r.text);
  assert.equal(r.body.result.offset, 1, r.text);
  assert.equal(typeof r.body.result.epoch, 'string');
  assert.ok(r.body.result.epoch.length > 0);
  const r2 = await api(server, 'publish', { channel: ch, data: { event: 'y' }, skip_history: false });
  assert.deepEqual(r2.body.result, { offset: 2, epoch: r.body.result.epoch });
});

t('publish with skip_history true: {"result":{}} and nothing stored', async () => {
  const ch = uniq();
  const r = await api(server, 'publish', { channel: ch, data: { a: 1 }, skip_history: true });
  assert.deepEqual(r.body, { result: {} });
  const h = await api(server, 'history', { channel: ch, limit: -1, reverse: false });
  assert.deepEqual(h.body.result.publications, [], h.text);
});

t('publish to a channel without history: {"result":{}}', async () => {
  const r = await api(server, 'publish', { channel: 'plain:x', data: { a: 1 }, skip_history: false });
  assert.deepEqual(r.body, { result: {} });
});

t('broadcast to 2 channels (SDK body): 2 responses, each with result', async () => {
  const r = await api(server, 'broadcast', { channels: [uniq(), uniq()], data: { event: 'b' }, skip_history: false });
  assert.equal(r.status, 200);
  assert.equal(r.body.result.responses.length, 2, r.text);
  for (const resp of r.body.result.responses) {
    assert.ok(resp.result, JSON.stringify(resp));
    assert.equal(resp.result.offset, 1);
  }
});

t('presence on an empty channel: result.presence is {}', async () => {
  const r = await api(server, 'presence', { channel: uniq() });
  assert.deepEqual(r.body, { result: { presence: {} } });
});

t('presence_stats on an empty channel: the body equals {"result":{"num_clients":0,"num_users":0}}', async () => {
  const r = await api(server, 'presence_stats', { channel: uniq() });
  assert.equal(r.text, '{"result":{"num_clients":0,"num_users":0}}');
});

t('history (SDK body, limit 0): publications [], then offset and epoch after a publish', async () => {
  const ch = uniq();
  const r = await api(server, 'history', { channel: ch, limit: 0, reverse: false });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.result.publications, [], r.text);
  assert.ok('offset' in r.body.result && 'epoch' in r.body.result, r.text);
  const pub = await publish(server, ch, { n: 1 });
  const r2 = await api(server, 'history', { channel: ch, limit: 0, reverse: false });
  assert.deepEqual(r2.body, { result: { publications: [], epoch: pub.epoch, offset: 1 } });
});

t('history with since + reverse: publications present', async () => {
  const ch = uniq();
  const { epoch } = await publish(server, ch, { n: 1 });
  const r = await api(server, 'history', { channel: ch, limit: 10, since: { offset: 1, epoch }, reverse: true });
  assert.ok(Array.isArray(r.body.result && r.body.result.publications), r.text);
});

t('smoke: publish {"event":"smoke"}, then history(channel, 1) → publications[0].data.event', async () => {
  const ch = uniq('smoke');
  await publish(server, ch, { event: 'smoke' }, { skip_history: false });
  const r = await api(server, 'history', { channel: ch, limit: 1, reverse: false });
  assert.equal(r.body.result.publications[0].data.event, 'smoke', r.text);
  assert.equal(r.body.result.publications[0].offset, 1);
});

t('history_remove, disconnect, unsubscribe, subscribe (SDK bodies): exactly {"result":{}}', async () => {
  const ch = uniq();
  await publish(server, ch, { n: 1 });
  assert.deepEqual((await api(server, 'history_remove', { channel: ch })).body, { result: {} });
  assert.deepEqual((await api(server, 'disconnect', { user: 'nobody', client: '' })).body, { result: {} });
  assert.deepEqual((await api(server, 'unsubscribe', { channel: ch, user: 'nobody', client: '' })).body, { result: {} });
  assert.deepEqual((await api(server, 'subscribe', { channel: ch, user: 'nobody', client: '' })).body, { result: {} });
});

t('channels (SDK body {"pattern":""}): result.channels present', async () => {
  const r = await api(server, 'channels', { pattern: '' });
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.result.channels, 'object', r.text);
});

t('info (SDK body {}): no error, result.nodes', async () => {
  const r = await api(server, 'info', {});
  assert.equal(r.body.error, undefined);
  assert.ok(Array.isArray(r.body.result.nodes), r.text);
});

t('bad API key → 401 on every method', async () => {
  for (const m of ['publish', 'presence', 'history', 'channels', 'info', 'batch', 'subscribe']) {
    const r = await api(server, m, { channel: 'x' }, { key: 'wrong' });
    assert.equal(r.status, 401, m);
  }
});

// ---------------------------------------------------------------------------------------------
// history semantics (§7.2)

t('history: limit -1 all oldest first, limit N, reverse, since forward and reverse', async () => {
  const ch = uniq();
  let epoch;
  for (let i = 1; i <= 5; i++) ({ epoch } = await publish(server, ch, { i }));
  const get = async (body) => {
    const r = await api(server, 'history', { channel: ch, ...body });
    assert.ok(r.body.result, r.text);
    assert.equal(r.body.result.epoch, epoch);
    assert.equal(r.body.result.offset, 5);
    return r.body.result.publications.map((p) => p.offset);
  };
  assert.deepEqual(await get({ limit: -1 }), [1, 2, 3, 4, 5]);
  assert.deepEqual(await get({ limit: 2 }), [1, 2]);
  assert.deepEqual(await get({ limit: 2, reverse: true }), [5, 4]);
  assert.deepEqual(await get({ limit: 10, since: { offset: 2, epoch } }), [3, 4, 5]);
  assert.deepEqual(await get({ limit: 10, since: { offset: 5, epoch } }), []);
  assert.deepEqual(await get({ limit: 10, since: { offset: 4, epoch }, reverse: true }), [3, 2, 1]);
  // the server API passes reverse with since.offset 0 to the engine (107 is the client's rule)
  const r = await api(server, 'history', { channel: ch, limit: 10, since: { offset: 0, epoch }, reverse: true });
  assert.notEqual(errorOf(r), 107, r.text);
});

t('history publications carry data, offset and tags', async () => {
  const ch = uniq();
  const raw = `{"channel":"${ch}","data":{"big":12345678901234567890},"tags":{"k":"v"}}`;
  assert.ok((await api(server, 'publish', null, { raw })).body.result);
  const r = await api(server, 'history', { channel: ch, limit: -1 });
  assert.match(r.text, /"data":\{"big":12345678901234567890\}/, 'data is carried byte for byte');
  assert.deepEqual(r.body.result.publications[0].tags, { k: 'v' });
  assert.equal(r.body.result.publications[0].offset, 1);
});

t('history with a wrong since epoch → 112 unrecoverable position', async () => {
  const ch = uniq();
  await publish(server, ch, { n: 1 });
  const r = await api(server, 'history', { channel: ch, limit: 10, since: { offset: 0, epoch: 'nope' } });
  assert.deepEqual(r.body, { error: { code: 112, message: 'unrecoverable position' } });
});

t('history_remove drops the publications and keeps the position', async () => {
  const ch = uniq();
  await publish(server, ch, { n: 1 });
  const { epoch } = await publish(server, ch, { n: 2 });
  assert.deepEqual((await api(server, 'history_remove', { channel: ch })).body, { result: {} });
  const r = await api(server, 'history', { channel: ch, limit: -1 });
  assert.deepEqual(r.body, { result: { publications: [], epoch, offset: 2 } });
  assert.deepEqual(await publish(server, ch, { n: 3 }), { offset: 3, epoch });
});

// ---------------------------------------------------------------------------------------------
// presence with live subscribers

t('presence and presence_stats list a live subscriber', async () => {
  const ch = uniq();
  const raw = await rawSession(server, { token: token('pres-user'), channels: [ch] });
  const r = await api(server, 'presence', { channel: ch });
  assert.deepEqual(Object.keys(r.body.result.presence), [raw.client], r.text);
  const info = r.body.result.presence[raw.client];
  assert.equal(info.user, 'pres-user');
  assert.equal(info.client, raw.client);
  const s = await api(server, 'presence_stats', { channel: ch });
  assert.deepEqual(s.body, { result: { num_clients: 1, num_users: 1 } });
});

// ---------------------------------------------------------------------------------------------
// session operations on live connections

t('API subscribe of a live client: subscribe push, then publications', async () => {
  const user = uniq('u');
  const ch = uniq('srv');
  const raw = await rawSession(server, { token: token(user) });
  const r = await api(server, 'subscribe', { channel: ch, user, client: '' });
  assert.deepEqual(r.body, { result: {} });
  const sp = await pushOn(raw, ch, (p) => p.subscribe !== undefined, 'subscribe push');
  assert.equal(typeof sp.subscribe, 'object');
  await publish(server, ch, { hello: 1 });
  const pp = await pushOn(raw, ch, (p) => p.pub !== undefined, 'publication');
  assert.deepEqual(pp.pub.data, { hello: 1 });
});

t('API subscribe by client id with data: the push carries the data', async () => {
  const ch = uniq('srv');
  const raw = await rawSession(server, { token: token(uniq('u')) });
  const r = await api(server, 'subscribe', { channel: ch, client: raw.client, data: { welcome: true } });
  assert.deepEqual(r.body, { result: {} });
  const sp = await pushOn(raw, ch, (p) => p.subscribe !== undefined, 'subscribe push');
  assert.deepEqual(sp.subscribe.data, { welcome: true });
});

t('API unsubscribe: unsubscribe push with 2000 "server unsubscribe", no more publications', async () => {
  const user = uniq('u');
  const ch = uniq();
  const other = uniq();
  const raw = await rawSession(server, { token: token(user), channels: [ch, other] });
  const r = await api(server, 'unsubscribe', { channel: ch, user, client: '' });
  assert.deepEqual(r.body, { result: {} });
  const up = await pushOn(raw, ch, (p) => p.unsubscribe !== undefined, 'unsubscribe push');
  assert.deepEqual(up, { channel: ch, unsubscribe: { code: 2000, reason: 'server unsubscribe' } });
  // publications reach one client in order: the next one it gets must be the later one
  await publish(server, ch, { late: true });
  await publish(server, other, { marker: true });
  const next = await raw.push((p) => p.pub !== undefined, 5000, 'publication');
  assert.equal(next.push.channel, other, JSON.stringify(next));
});

t('API disconnect of one client: 3503 "force disconnect"; the user\'s other client stays', async () => {
  const user = uniq('u');
  const a = await rawSession(server, { token: token(user) });
  const b = await rawSession(server, { token: token(user) });
  const r = await api(server, 'disconnect', { user, client: a.client });
  assert.deepEqual(r.body, { result: {} });
  const closed = await withTimeout(a.closed, 5000, 'close of a');
  assert.deepEqual(closed, { code: 3503, reason: 'force disconnect' });
  assert.ok(b.isOpen());
});

t('API disconnect of a user with a whitelist: every other client closes', async () => {
  const user = uniq('u');
  const a = await rawSession(server, { token: token(user) });
  const b = await rawSession(server, { token: token(user) });
  const c = await rawSession(server, { token: token(user) });
  const r = await api(server, 'disconnect', { user, whitelist: [b.client] });
  assert.deepEqual(r.body, { result: {} });
  assert.equal((await withTimeout(a.closed, 5000, 'close of a')).code, 3503);
  assert.equal((await withTimeout(c.closed, 5000, 'close of c')).code, 3503);
  assert.ok(b.isOpen());
});

t('API disconnect with a custom code and reason', async () => {
  const user = uniq('u');
  const a = await rawSession(server, { token: token(user) });
  const r = await api(server, 'disconnect', { user, disconnect: { code: 4501, reason: 'go away' } });
  assert.deepEqual(r.body, { result: {} });
  assert.deepEqual(await withTimeout(a.closed, 5000, 'close'), { code: 4501, reason: 'go away' });
});

t('API refresh expired → close 3005; refresh expire_at → refresh push', async () => {
  const user = uniq('u');
  const a = await rawSession(server, { token: token(user) });
  const at = Math.floor(Date.now() / 1000) + 600;
  assert.deepEqual((await api(server, 'refresh', { user, expire_at: at })).body, { result: {} });
  const rp = (await a.push((p) => p.refresh !== undefined, 5000, 'refresh push')).push;
  assert.equal(rp.refresh.expires, true);
  assert.ok(rp.refresh.ttl > 500 && rp.refresh.ttl <= 600, JSON.stringify(rp));
  assert.deepEqual((await api(server, 'refresh', { user, expired: true })).body, { result: {} });
  assert.equal((await withTimeout(a.closed, 5000, 'close')).code, 3005);
});

t('channels: pattern filters, num_clients counts subscribers over all workers', async () => {
  const base = uniq('room');
  const a = await rawSession(server, { token: token(uniq('u')), channels: [`${base}.1`, `${base}.2`] });
  await rawSession(server, { token: token(uniq('u')), channels: [`${base}.1`] });
  await rawSession(server, { token: token(uniq('u')), channels: [`other${base}`] });
  const r = await api(server, 'channels', { pattern: `${base}.*` });
  assert.deepEqual(r.body, { result: { channels: { [`${base}.1`]: { num_clients: 2 }, [`${base}.2`]: { num_clients: 1 } } } });
  const all = await api(server, 'channels', {});
  assert.ok(all.body.result.channels[`other${base}`], all.text);
  assert.ok(a.isOpen());
});

// ---------------------------------------------------------------------------------------------
// batch

t('batch: replies in order, keyed by method, errors in place', async () => {
  const ch = uniq();
  const r = await api(server, 'batch', {
    commands: [
      { publish: { channel: ch, data: { n: 1 } } },
      { presence: { channel: 'plain:x' } },
      { nope: { channel: ch } },
      { broadcast: { channels: [ch], data: { n: 2 } } },
      { history: { channel: ch, limit: -1 } },
      { presence_stats: { channel: ch } },
      { publish: { data: { n: 3 } } },
    ],
  });
  assert.equal(r.status, 200);
  const [pub, pres, nope, bc, hist, stats, bad] = r.body.result.replies;
  assert.equal(r.body.result.replies.length, 7, r.text);
  assert.equal(pub.publish.offset, 1, r.text);
  assert.deepEqual(pres, { error: { code: 108, message: 'not available' } });
  assert.deepEqual(nope, { error: { code: 104, message: 'not found' } });
  assert.equal(bc.broadcast.responses[0].result.offset, 2);
  assert.deepEqual(hist.history.publications.map((p) => p.data), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(stats, { presence_stats: { num_clients: 0, num_users: 0 } });
  assert.equal(bad.error.code, 107);
  assert.match(bad.error.message, /^bad request/);
});

t('batch parallel, session ops and empty commands', async () => {
  const user = uniq('u');
  const ch = uniq();
  const raw = await rawSession(server, { token: token(user) });
  const r = await api(server, 'batch', {
    parallel: true,
    commands: [{ subscribe: { user, channel: ch } }, { info: {} }, { channels: { pattern: ch } }],
  });
  const [sub, info] = r.body.result.replies;
  assert.deepEqual(sub, { subscribe: {} }, r.text);
  assert.ok(info.info.nodes.length >= 1);
  await pushOn(raw, ch, (p) => p.subscribe !== undefined, 'subscribe push');
  assert.deepEqual((await api(server, 'batch', { commands: [] })).body, { result: { replies: [] } });
  assert.equal(errorOf(await api(server, 'batch', { commands: {} })), 107);
});

t('batch sequential: a subscribe is done before the next publish starts', async () => {
  const user = uniq('u');
  const ch = uniq();
  const raw = await rawSession(server, { token: token(user) });
  const r = await api(server, 'batch', {
    commands: [{ subscribe: { user, channel: ch } }, { publish: { channel: ch, data: { after: 'subscribe' } } }],
  });
  assert.deepEqual(r.body.result.replies[0], { subscribe: {} });
  const pp = await pushOn(raw, ch, (p) => p.pub !== undefined, 'publication');
  assert.deepEqual(pp.pub.data, { after: 'subscribe' });
});

// ---------------------------------------------------------------------------------------------
// legacy single endpoint (§4.3)

t('legacy POST /api with Authorization: apikey, method + params', async () => {
  const ch = uniq();
  const r = await legacy({ method: 'publish', params: { channel: ch, data: { v: 1 } } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] || '', /application\/json/);
  assert.deepEqual(r.body, { result: { offset: 1, epoch: r.body.result.epoch } });
  const h = await legacy({ method: 'history', params: { channel: ch, limit: -1 } });
  assert.deepEqual(h.body.result.publications.map((p) => p.data), [{ v: 1 }]);
});

t('legacy: several commands, ids, numeric methods, case, unknown method → 104', async () => {
  const ch = uniq();
  const body = [
    { id: 1, method: 'PUBLISH', params: { channel: ch, data: { a: 1 } } },
    { id: 2, method: 9, params: {} },
    { method: 5, params: { channel: ch } },
    { id: 4, method: 'nope', params: {} },
    { id: 5, method: 99 },
    { id: 6, method: 'presence', params: { channel: 'plain:x' } },
  ]
    .map((c) => JSON.stringify(c))
    .join('\n');
  const r = await legacy(body);
  assert.equal(r.status, 200);
  const lines = r.text.split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 6, r.text);
  assert.equal(lines[0].id, 1);
  assert.equal(lines[0].result.offset, 1);
  assert.equal(lines[1].id, 2);
  assert.ok(lines[1].result.nodes, r.text);
  assert.deepEqual(lines[2], { result: { num_clients: 0, num_users: 0 } });
  assert.deepEqual(lines[3], { id: 4, error: { code: 104, message: 'not found' } });
  assert.deepEqual(lines[4], { id: 5, error: { code: 104, message: 'not found' } });
  assert.deepEqual(lines[5], { id: 6, error: { code: 108, message: 'not available' } });
});

t('legacy: X-API-Key works, bad key 401, GET 405, empty body 400, malformed 400', async () => {
  const ok = await legacy({ method: 'info', params: {} }, { 'X-API-Key': server.apiKey });
  assert.ok(ok.body.result.nodes, ok.text);
  assert.equal((await legacy({ method: 'info' }, { Authorization: 'apikey wrong' })).status, 401);
  assert.equal((await request(server, '/api', { method: 'GET', headers: { 'X-API-Key': server.apiKey } })).status, 405);
  assert.equal((await legacy('')).status, 400);
  assert.equal((await legacy('{"method":"info"} {"method":')).status, 400);
  assert.equal((await legacy('{"id":"x","method":"info"}')).status, 400);
  const noParams = await legacy({ id: 3, method: 'publish' });
  assert.deepEqual(noParams.body, { id: 3, error: { code: 107, message: 'bad request: params: expected an object' } });
});

// ---------------------------------------------------------------------------------------------
// validation

t('missing or empty channel → 107 on every channel method', async () => {
  for (const m of ['publish', 'presence', 'presence_stats', 'history', 'history_remove', 'subscribe', 'unsubscribe']) {
    for (const body of [{ data: { x: 1 }, user: 'u' }, { channel: '', data: { x: 1 }, user: 'u' }]) {
      const r = await api(server, m, body);
      assert.deepEqual(r.body, { error: { code: 107, message: 'bad request: channel: required' } }, `${m} ${JSON.stringify(body)}`);
    }
  }
});

t('undefined namespace → 102 on every channel method', async () => {
  for (const m of ['publish', 'presence', 'presence_stats', 'history', 'history_remove', 'subscribe', 'unsubscribe']) {
    const r = await api(server, m, { channel: 'nope:x', data: { x: 1 }, user: 'u' });
    assert.deepEqual(r.body, { error: { code: 102, message: 'unknown channel' } }, m);
  }
});

t('presence or history disabled in the namespace → 108', async () => {
  for (const m of ['presence', 'presence_stats', 'history', 'history_remove']) {
    const r = await api(server, m, { channel: 'plain:x' });
    assert.deepEqual(r.body, { error: { code: 108, message: 'not available' } }, m);
  }
  assert.ok((await api(server, 'history', { channel: 'hist:x' })).body.result, 'history on in "hist"');
});

t('wrong types → 107 naming the field in the message', async () => {
  const cases = [
    ['publish', { channel: 5, data: {} }, 'channel'],
    ['publish', { channel: 'a', data: { x: 1 }, skip_history: 'no' }, 'skip_history'],
    ['publish', { channel: 'a', data: { x: 1 }, tags: { k: 1 } }, 'tags'],
    ['publish', { channel: 'a', b64data: 'AAE=' }, 'data'],
    ['broadcast', { channels: 'a', data: {} }, 'channels'],
    ['broadcast', { channels: ['a', 1], data: {} }, 'channels'],
    ['history', { channel: 'a', limit: 'x' }, 'limit'],
    ['history', { channel: 'a', limit: 1.5 }, 'limit'],
    ['history', { channel: 'a', reverse: 'yes' }, 'reverse'],
    ['history', { channel: 'a', since: 'x' }, 'since'],
    ['history', { channel: 'a', since: { offset: -1, epoch: 'e' } }, 'offset'],
    ['disconnect', { user: 'u', whitelist: 'abc' }, 'whitelist'],
    ['disconnect', { user: 'u', disconnect: { code: 'x' } }, 'code'],
    ['disconnect', { user: 'u', disconnect: { code: 1000 } }, 'disconnect.code'],
    ['refresh', { user: 'u', expired: 1 }, 'expired'],
    ['subscribe', { user: 'u', channel: 'a', recover_since: 5 }, 'recover_since'],
    ['subscribe', { user: 'u', channel: 'a', override: { presence: true } }, 'override'],
    ['channels', { pattern: 1 }, 'pattern'],
    ['rpc', { params: {} }, 'method'],
  ];
  for (const [m, body, field] of cases) {
    const r = await api(server, m, body);
    const what = `${m} ${JSON.stringify(body)} → ${r.text}`;
    assert.equal(r.body.error && r.body.error.code, 107, what);
    assert.ok(r.body.error.message.startsWith(`bad request: ${field}: `), what);
  }
});

t('subscribe, unsubscribe, disconnect, refresh without user and client → 107', async () => {
  for (const m of ['subscribe', 'unsubscribe', 'disconnect', 'refresh']) {
    const r = await api(server, m, { channel: 'a', user: '', client: '' });
    assert.equal(errorOf(r), 107, `${m}: ${r.text}`);
  }
});

t('rpc: no server-side methods → 104 "not found"', async () => {
  const r = await api(server, 'rpc', { method: 'anything', params: { a: 1 } });
  assert.deepEqual(r.body, { error: { code: 104, message: 'not found' } });
});

t('malformed JSON → HTTP 400 with error 107', async () => {
  const r = await api(server, 'history', null, { raw: '{"channel":' });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, { error: { code: 107, message: 'bad request: body: expected a JSON object' } });
});

t('transport error mode: HTTP status from the code, bare error body', async () => {
  const headers = { 'X-Centrifugo-Error-Mode': 'transport' };
  const cases = [
    ['presence', { channel: '' }, 400, 107],
    ['presence', { channel: 'plain:x' }, 400, 108],
    ['presence', { channel: 'nope:x' }, 404, 102],
    ['rpc', { method: 'x' }, 404, 104],
  ];
  for (const [m, body, status, code] of cases) {
    const r = await api(server, m, body, { headers });
    assert.equal(r.status, status, `${m} ${r.text}`);
    assert.equal(r.body.code, code, r.text);
    assert.equal(typeof r.body.message, 'string');
  }
  const ch = uniq();
  await publish(server, ch, { n: 1 });
  const r = await api(server, 'history', { channel: ch, since: { offset: 0, epoch: 'bad' } }, { headers });
  assert.equal(r.status, 416, r.text);
  assert.deepEqual(r.body, { code: 112, message: 'unrecoverable position' });
  const ok = await api(server, 'presence_stats', { channel: ch }, { headers });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { result: { num_clients: 0, num_users: 0 } });
});

t('peers that leave before the answer: nothing leaks, the server carries on', async () => {
  const net = require('node:net');
  const user = uniq('u');
  const calls = [
    ['batch', { commands: [{ subscribe: { user, channel: 'gone' } }, { channels: {} }, { info: {} }] }],
    ['channels', {}],
    ['disconnect', { user }],
    ['history', { channel: uniq(), limit: -1 }],
  ];
  for (let i = 0; i < 40; i++) {
    const [m, b] = calls[i % calls.length];
    const payload = JSON.stringify(b);
    await new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => {
        s.end(`POST /api/${m} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${server.apiKey}\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
        s.destroy();
        resolve();
      });
      s.on('error', resolve);
    });
  }
  const r = await api(server, 'info', {});
  assert.ok(r.body.result.nodes, r.text);
});

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
