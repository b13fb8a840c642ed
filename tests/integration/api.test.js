'use strict';
// Server HTTP API: authentication, request validation, publish/broadcast delivery, client
// exclusion, routing errors and body limits (spec §4; laravel.md §1.4).

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, defaultConfig, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish, request } = require('./lib/api');
const { clientOn, nextPublication, rawSession } = require('./lib/client');

let server;
before(async () => {
  server = await startServer(defaultConfig());
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user = '42') => jwt.connToken(server.secret, user);
const body = { channel: 'news', data: { x: 1 } };

t('missing API key → 401 with a JSON body saying so', async () => {
  const r = await api(server, 'publish', body, { key: null });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 101, r.text);
  assert.match(r.body.error.message, /^unauthorized: missing API key: send it in the X-API-Key header/);
});

t('wrong API key → 401 with a JSON body saying so (the key itself never echoed)', async () => {
  const r = await api(server, 'publish', body, { key: `${server.apiKey}x` });
  assert.equal(r.status, 401);
  assert.match(r.body.error.message, /^unauthorized: wrong API key/);
  assert.ok(!r.text.includes(server.apiKey), r.text);
  const r2 = await api(server, 'publish', body, { key: '' });
  assert.equal(r2.status, 401);
});

t('Authorization: apikey <key> works (scheme is case-insensitive)', async () => {
  const r = await api(server, 'publish', body, { key: null, headers: { Authorization: `apikey ${server.apiKey}` } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { result: {} });
  const r2 = await api(server, 'publish', body, { key: null, headers: { Authorization: `APIKEY ${server.apiKey}` } });
  assert.equal(r2.status, 200);
  const bad = await api(server, 'publish', body, { key: null, headers: { Authorization: 'apikey nope' } });
  assert.equal(bad.status, 401);
});

t('?api_key= query parameter works', async () => {
  const r = await request(server, `/api/publish?api_key=${encodeURIComponent(server.apiKey)}`, { method: 'POST', body });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { result: {} });
});

t('malformed JSON body → error 107', async () => {
  const r = await api(server, 'publish', null, { raw: '{"channel":"news",' });
  assert.ok(r.status === 200 || r.status === 400, `HTTP ${r.status}`);
  assert.equal(typeof r.body, 'object', `body is not JSON: ${r.text}`);
  assert.equal(r.body.error && r.body.error.code, 107, r.text);
});

t('missing channel → 107', async () => {
  const r = await api(server, 'publish', { data: { x: 1 } });
  assert.equal(r.status, 200);
  assert.equal(r.body.error && r.body.error.code, 107, r.text);
  assert.equal(r.body.error.message, 'bad request: channel: required');
});

t('missing data → 107', async () => {
  const r = await api(server, 'publish', { channel: 'news' });
  assert.equal(r.status, 200);
  assert.equal(r.body.error && r.body.error.code, 107, r.text);
});

t('publish to an unknown namespace → 102', async () => {
  const r = await api(server, 'publish', { channel: 'nope:x', data: { x: 1 } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { error: { code: 102, message: 'unknown channel' } });
});

t('Laravel SDK publish body (skip_history false) is accepted', async () => {
  const r = await api(server, 'publish', { channel: 'news', data: { event: 'smoke' }, skip_history: false });
  assert.deepEqual(r.body, { result: {} });
});

t('broadcast to 2 channels: 2 responses with result, both subscribers receive', async () => {
  const a = await clientOn(server, token('1'), 'news');
  const b = await clientOn(server, token('2'), 'chat:bc');
  const r = await api(server, 'broadcast', { channels: ['news', 'chat:bc'], data: { text: 'both' }, skip_history: false });
  assert.equal(r.status, 200);
  assert.ok(r.body.result, r.text);
  assert.equal(r.body.result.responses.length, 2);
  for (const resp of r.body.result.responses) assert.ok(resp.result, JSON.stringify(resp));
  assert.deepEqual((await nextPublication(a.sub)).data, { text: 'both' });
  assert.deepEqual((await nextPublication(b.sub)).data, { text: 'both' });
});

t('broadcast with one bad channel: per-channel error, the other still delivered', async () => {
  const a = await clientOn(server, token('1'), 'news');
  const r = await api(server, 'broadcast', { channels: ['nope:x', 'news'], data: { k: 2 } });
  assert.equal(r.status, 200);
  const [bad, good] = r.body.result.responses;
  assert.equal(bad.error && bad.error.code, 102, JSON.stringify(bad));
  assert.ok(good.result, JSON.stringify(good));
  assert.deepEqual((await nextPublication(a.sub)).data, { k: 2 });
});

t('broadcast without channels → 107', async () => {
  const r = await api(server, 'broadcast', { data: { x: 1 } });
  assert.equal(r.body.error && r.body.error.code, 107, r.text);
});

t('publish with exclude_client (string): the excluded client does not receive it', async () => {
  const a = await clientOn(server, token('1'), 'chat:ex');
  const b = await clientOn(server, token('2'), 'chat:ex');
  const r = await api(server, 'publish', { channel: 'chat:ex', data: { n: 1 }, exclude_client: a.clientId });
  assert.deepEqual(r.body, { result: {} });
  assert.deepEqual((await nextPublication(b.sub)).data, { n: 1 });
  // publications to one client keep their order: if a's next one is n 2, it never got n 1
  await publish(server, 'chat:ex', { n: 2 });
  assert.deepEqual((await nextPublication(a.sub)).data, { n: 2 });
  assert.deepEqual((await nextPublication(b.sub)).data, { n: 2 });
});

t('publish with exclude_client (array): every listed client is skipped', async () => {
  const a = await rawSession(server, { token: token('1'), channels: ['chat:exa'] });
  const b = await rawSession(server, { token: token('2'), channels: ['chat:exa'] });
  const c = await rawSession(server, { token: token('3'), channels: ['chat:exa'] });
  const r = await api(server, 'publish', { channel: 'chat:exa', data: { n: 1 }, exclude_client: [a.client, c.client] });
  assert.deepEqual(r.body, { result: {} });
  assert.deepEqual(await b.next(), { push: { channel: 'chat:exa', pub: { data: { n: 1 } } } });
  await publish(server, 'chat:exa', { n: 2 });
  for (const x of [a, b, c]) assert.deepEqual(await x.next(), { push: { channel: 'chat:exa', pub: { data: { n: 2 } } } });
});

t('broadcast with exclude_client skips that client on every channel', async () => {
  const a = await rawSession(server, { token: token('1'), channels: ['news', 'chat:bx'] });
  const b = await rawSession(server, { token: token('2'), channels: ['news', 'chat:bx'] });
  const r = await api(server, 'broadcast', { channels: ['news', 'chat:bx'], data: { n: 1 }, exclude_client: a.client });
  assert.equal(r.body.result.responses.length, 2, r.text);
  const got = [await b.next(), await b.next()].map((m) => m.push.channel).sort();
  assert.deepEqual(got, ['chat:bx', 'news']);
  await publish(server, 'news', { n: 2 });
  assert.deepEqual(await a.next(), { push: { channel: 'news', pub: { data: { n: 2 } } } });
});

t('GET /api/publish → 405', async () => {
  const r = await request(server, '/api/publish', { method: 'GET', headers: { 'X-API-Key': server.apiKey } });
  assert.equal(r.status, 405);
});

t('unknown /api/nope → 404', async () => {
  const r = await api(server, 'nope', {});
  assert.equal(r.status, 404);
});

t('GET /health → 200 {} (application/json)', async () => {
  const r = await request(server, '/health');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});
  assert.match(r.headers['content-type'] || '', /application\/json/);
});

t('info → result.nodes with the node counters', async () => {
  const r = await api(server, 'info', {});
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body.result && r.body.result.nodes), r.text);
  const node = r.body.result.nodes[0];
  for (const k of ['uid', 'name', 'version', 'num_clients', 'num_users', 'num_channels', 'num_subs']) {
    assert.ok(k in node, `node.${k} missing in ${r.text}`);
  }
});

t('oversized body → 413', async () => {
  const big = JSON.stringify({ channel: 'news', data: { blob: 'x'.repeat(2 * 1024 * 1024) } });
  const r = await api(server, 'publish', null, { raw: big, timeoutMs: 15000 });
  assert.equal(r.status, 413);
  // the server is still fine afterwards
  assert.deepEqual((await api(server, 'publish', body)).body, { result: {} });
});

t('keep-alive: several API calls on one connection', async () => {
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await new Promise((resolve, reject) => {
        const payload = JSON.stringify({ channel: 'news', data: { i } });
        const req = http.request(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/api/publish',
            method: 'POST',
            agent,
            headers: { 'X-API-Key': server.apiKey, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode, text, reused: req.reusedSocket }));
          },
        );
        req.setTimeout(5000, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(payload);
      });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { result: {} });
      if (i > 0) assert.ok(r.reused, 'connection was not kept alive');
    }
  } finally {
    agent.destroy();
  }
});

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
