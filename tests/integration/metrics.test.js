'use strict';
// /metrics (prometheus.enabled) in the Prometheus text format with lucent_ metrics moving as
// clients connect, subscribe and receive; /health; log.format json; a failed SIGHUP reload.

const assert = require('node:assert/strict');
const { test, after } = require('node:test');
const { startServer, defaultConfig, merge, withLogsOnFailure, assertCleanExit } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, request } = require('./lib/api');
const { rawSession } = require('./lib/client');
const { waitUntil } = require('./lib/wait');

/** The samples of a scrape: {"name{labels}": value}. */
function parse(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

async function scrape(server) {
  const r = await request(server, '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  // every transport has a label of its own (the Protobuf and Pusher ones included)
  assert.doesNotMatch(r.text, /\(null\)/);
  assert.match(r.text, /lucent_connections\{transport="websocket_protobuf"\}/);
  assert.match(r.text, /lucent_connections\{transport="pusher"\}/);
  return parse(r.text);
}

let server;
after(async () => server && assertCleanExit(server));

test('metrics move with connections, subscriptions, publications, API calls and disconnects', async () => {
  server = await startServer(merge(defaultConfig(), { workers: 1, prometheus: { enabled: true }, log: { format: 'json', level: 'info' } }));
  await withLogsOnFailure(server, async () => {
    const before = await scrape(server);
    assert.equal(before['lucent_connections{transport="websocket"}'], 0);
    assert.equal(before['lucent_engine_up{engine="memory"}'], 1);
    assert.ok(before.process_resident_memory_bytes > 1e6);
    assert.ok(before.lucent_process_open_fds > 3);

    const a = await rawSession(server, { token: jwt.connToken(server.secret, 'm1'), channels: ['news'] });
    const b = await rawSession(server, { token: jwt.connToken(server.secret, 'm2'), channels: ['news', 'other'] });
    const mid = await scrape(server);
    assert.equal(mid['lucent_connections{transport="websocket"}'], 2);
    assert.equal(mid['lucent_subscriptions{transport="websocket"}'], 3);
    assert.equal(mid.lucent_channels, 2);
    assert.equal(mid['lucent_connections_accepted_total{transport="websocket"}'], before['lucent_connections_accepted_total{transport="websocket"}'] + 2);

    assert.deepEqual((await api(server, 'publish', { channel: 'news', data: { n: 1 } })).body, { result: {} });
    await a.push((p) => p.pub !== undefined, 5000, 'publication');
    await b.push((p) => p.pub !== undefined, 5000, 'publication');
    await api(server, 'publish', { data: {} }); // 107
    assert.equal((await api(server, 'disconnect', { user: 'm2', disconnect: { code: 4001, reason: 'bye' } })).status, 200);
    await b.closed;

    await waitUntil(async () => (await scrape(server))['lucent_connections{transport="websocket"}'] === 1, { what: 'the disconnected client leaving the gauge' });
    const end = await scrape(server);
    assert.equal(end.lucent_publications_in_total - before.lucent_publications_in_total, 1);
    assert.equal(end['lucent_publications_out_total{transport="websocket"}'] - before['lucent_publications_out_total{transport="websocket"}'], 2);
    assert.equal(end['lucent_api_requests_total{method="publish",result="ok"}'], 1);
    assert.equal(end['lucent_api_requests_total{method="publish",result="error"}'], 1);
    assert.equal(end['lucent_disconnects_total{code="4xxx"}'], 1);
    assert.equal(end['lucent_subscriptions{transport="websocket"}'], 1);
    assert.equal(end['lucent_engine_publish_duration_seconds_count{engine="memory"}'], 1);
    assert.ok(end.lucent_write_queue_bytes >= 0);
    a.close();

    // JSON log lines: one object per line with time, level and msg
    const lines = server.logs().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 2, server.logs());
    for (const l of lines) {
      const o = JSON.parse(l);
      assert.ok(o.time && o.level && typeof o.msg === 'string', l);
    }
    assert.equal((await request(server, '/health')).status, 200);
  });
});

test('without prometheus.enabled there is no /metrics', async () => {
  const s = await startServer(defaultConfig());
  try {
    assert.equal((await request(s, '/metrics')).status, 404);
  } finally {
    await assertCleanExit(s);
  }
});
