'use strict';
// Origin check on the WebSocket upgrade (client.allowed_origins, spec §1.1): requests without
// Origin always pass; with a list, only matching origins; `*` wildcards in patterns.

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { rawSession, rawUpgradeStatus, newClient, connected } = require('./lib/client');

let exact;
let pattern;
let empty;
before(async () => {
  [exact, pattern, empty] = await Promise.all([
    startServer(merge(defaultConfig(), { client: { allowed_origins: ['http://good.example'] } })),
    startServer(merge(defaultConfig(), { client: { allowed_origins: ['http://*.example.com'] } })),
    startServer(defaultConfig()), // allowed_origins: []
  ]);
});

const connectsWith = async (srv, origin) => {
  const raw = await rawSession(srv, { token: jwt.connToken(srv.secret, '42'), origin });
  assert.ok(raw.client);
};

test('exact origin: allowed origin connects, another gets 403, no Origin passes', () =>
  withLogsOnFailure(exact, async () => {
    await connectsWith(exact, 'http://good.example');
    assert.equal(await rawUpgradeStatus(exact, { origin: 'http://evil.example' }), 403);
    assert.equal(await rawUpgradeStatus(exact, { origin: 'https://good.example' }), 403);
    assert.equal(await rawUpgradeStatus(exact, { origin: 'http://good.example.evil.com' }), 403);
    await connectsWith(exact, undefined);
    // centrifuge-js in node sends no Origin
    const c = newClient(exact, { token: jwt.connToken(exact.secret, '1') });
    await connected(c);
  }));

test('wildcard pattern http://*.example.com', () =>
  withLogsOnFailure(pattern, async () => {
    await connectsWith(pattern, 'http://app.example.com');
    await connectsWith(pattern, 'http://admin.example.com');
    assert.equal(await rawUpgradeStatus(pattern, { origin: 'http://example.org' }), 403);
    assert.equal(await rawUpgradeStatus(pattern, { origin: 'https://app.example.com' }), 403);
    assert.equal(await rawUpgradeStatus(pattern, { origin: 'http://app.example.com.evil.net' }), 403);
    await connectsWith(pattern, undefined);
  }));

test('empty allowed_origins: any Origin is rejected, no Origin passes', () =>
  withLogsOnFailure(empty, async () => {
    assert.equal(await rawUpgradeStatus(empty, { origin: 'http://localhost:3000' }), 403);
    await connectsWith(empty, undefined);
  }));

test('servers shut down cleanly on SIGTERM', async () => {
  await Promise.all([exact, pattern, empty].map((s) => assertCleanExit(s)));
});
