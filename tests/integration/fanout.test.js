'use strict';
// Fan-out: 1,000 subscribers on one channel all receive one API publication, and the server
// releases every socket once they leave.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { test, before } = require('node:test');
const { startServer, defaultConfig, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { rawSession } = require('./lib/client');
const { withTimeout, waitUntil } = require('./lib/wait');

const CLIENTS = 1000;
const BATCH = 50; // connections opened at once

let server;
before(async () => {
  // debug logging of 1,000 connects is noise here
  server = await startServer({ ...defaultConfig(), log: { level: 'info' } });
});

function openFds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null; // not Linux, or the process is gone
  }
}

test(`${CLIENTS} raw WebSocket subscribers all receive one API publication`, { timeout: 120000 }, () =>
  withLogsOnFailure(server, async () => {
    const baseline = openFds(server.pid);
    const token = jwt.connToken(server.secret, 'fan');
    const clients = [];
    for (let i = 0; i < CLIENTS; i += BATCH) {
      const n = Math.min(BATCH, CLIENTS - i);
      const batch = await Promise.all(Array.from({ length: n }, () => rawSession(server, { token, channels: ['chat:fan'] })));
      clients.push(...batch);
    }
    assert.equal(clients.length, CLIENTS);
    assert.equal(new Set(clients.map((c) => c.client)).size, CLIENTS, 'client ids are not unique');
    const during = openFds(server.pid);
    if (during !== null) assert.ok(during < 19000, `server holds ${during} fds`);

    const started = Date.now();
    const r = await api(server, 'publish', { channel: 'chat:fan', data: { fan: 'out' } });
    assert.deepEqual(r.body, { result: {} });
    const want = { push: { channel: 'chat:fan', pub: { data: { fan: 'out' } } } };
    const got = await withTimeout(
      Promise.allSettled(clients.map((c) => c.next(15000))),
      16000,
      `the publication on all ${CLIENTS} connections`,
    );
    const missing = got.filter((g) => g.status !== 'fulfilled').length;
    assert.equal(missing, 0, `${missing} of ${CLIENTS} subscribers did not receive the publication`);
    for (const g of got) assert.deepEqual(g.value, want);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 15000, `delivery took ${elapsed} ms`);

    // a second round checks that nothing was left half-written
    await api(server, 'publish', { channel: 'chat:fan', data: { fan: 2 } });
    const second = await Promise.all(clients.map((c) => c.next(15000)));
    for (const m of second) assert.deepEqual(m.push.pub.data, { fan: 2 });

    await Promise.all(
      clients.map(async (c) => {
        c.close();
        await withTimeout(c.closed, 5000, 'client close');
      }),
    );
    if (baseline !== null) {
      // every connection's socket is released (a few fds of slack for the server's own use)
      await waitUntil(() => openFds(server.pid) <= baseline + 5, {
        timeoutMs: 10000,
        what: `server fds back to ~${baseline} (now ${openFds(server.pid)})`,
      });
    }
    const info = await api(server, 'info', {});
    if (info.body && info.body.result && info.body.result.nodes) {
      await waitUntil(
        async () => {
          const i = await api(server, 'info', {});
          return i.body.result.nodes[0].num_clients === 0;
        },
        { timeoutMs: 10000, intervalMs: 200, what: 'num_clients back to 0' },
      );
    }
  }),
);

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
