'use strict';
// Helpers for the channel feature tests (recovery, presence, tokens, server-side subscriptions,
// namespaces): one shared server per file, event queues on SDK emitters, bounded waits for a
// raw connection's close, and a way to cut a centrifuge-js client's transport.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, assertCleanExit, withLogsOnFailure } = require('./server');
const { EventQueue, withTimeout, sleep } = require('./wait');

/**
 * One server for the tests of a file, started in a `before` hook and required to exit cleanly
 * (code 0, no sanitizer report) in an `after` hook. Returns {get server(), t(name, fn, opts)}
 * where t wraps each test so a failure shows the server's output.
 */
function sharedServer(makeConfig) {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(makeConfig());
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  return {
    get server() {
      return box.server;
    },
    t(name, fn, opts = {}) {
      return test(name, opts, () => withLogsOnFailure(box.server, fn));
    },
  };
}

/** A queue of the events `name` emitted by an SDK client or subscription from now on. */
function events(emitter, name) {
  const q = new EventQueue(`'${name}' event`);
  emitter.on(name, (ctx) => q.push(ctx));
  return q;
}

/** Wait for a raw connection to be closed by the server; resolves {code, reason}. */
function closedWithin(raw, ms, what = 'the server to close the connection') {
  return withTimeout(raw.closed, ms, what);
}

/**
 * Resolves true when the raw connection stays open for ms, false if the server closed it.
 * Used to check that something does NOT close a connection.
 */
async function staysOpen(raw, ms) {
  const r = await Promise.race([raw.closed.then(() => false), sleep(ms).then(() => true)]);
  return r && raw.isOpen();
}

/**
 * Cut a centrifuge-js client's WebSocket without a close handshake, as a network drop would:
 * the SDK sees a transport close and reconnects on its own.
 */
function dropTransport(c) {
  const transport = c._transport && c._transport._transport;
  assert.ok(transport && typeof transport.terminate === 'function', 'client has no open ws transport');
  transport.terminate();
}

/** Assert a raw reply is exactly the error {code, message} for a command id. */
function assertErrorReply(reply, code, message) {
  assert.ok(reply.error, `expected error ${code}, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, `expected error ${code}, got ${JSON.stringify(reply)}`);
  if (message !== undefined) assert.equal(reply.error.message, message);
}

/** The offsets of a list of publications (raw `pub` objects or SDK publication contexts). */
const offsets = (pubs) => (pubs || []).map((p) => Number(p.offset));

/** Offset of a subscribe/history result: omitted means 0 (zero values are not written). */
const offsetOf = (result) => Number(result.offset ?? 0);

module.exports = { sharedServer, events, closedWithin, staysOpen, dropTransport, assertErrorReply, offsets, offsetOf };
