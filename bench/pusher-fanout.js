#!/usr/bin/env node
// Server CPU per delivery to Pusher-protocol subscribers beside Centrifugo-protocol ones: the
// same hub, so the cost should be close (issue 14 point 8).
//
// Starts the release binary (one worker) with a Pusher app, connects S raw WebSocket
// subscribers of one protocol to one channel, publishes P publications through the server API
// in batches of 50 (`batch` with one publish per command) and waits until every subscriber has
// every publication; then the same with the other protocol. The server's CPU time (utime +
// stime from /proc/<pid>/stat) over the publishing divided by S * P is the cost of one
// delivery. Loopback only, bounded in count and time; the clients run on the same machine, so
// compare the two figures with each other rather than with other machines.
//
//   node bench/pusher-fanout.js [--bin=build/lucent] [--subs=500] [--pubs=400]
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { parseArgs, freePort, cpuTicks, startLucent, apiPost } = require('./lib');

const root = path.resolve(__dirname, '..');
const WebSocket = require(path.join(root, 'tests/integration/node_modules/ws'));
const args = parseArgs();
const BIN = path.resolve(args.bin || path.join(root, 'build/lucent'));
const SUBS = Number(args.subs || 500);
const PUBS = Number(args.pubs || 400);
const TICK_MS = 10; // USER_HZ 100 on Linux
const APP = { id: '1', key: 'bench-key', secret: crypto.randomBytes(16).toString('hex') };

async function startServer() {
  const port = await freePort();
  const apiKey = crypto.randomBytes(16).toString('hex');
  const proc = await startLucent(BIN, {
    http_server: { address: '127.0.0.1', port },
    workers: 1,
    log: { level: 'info' },
    http_api: { key: apiKey },
    client: { insecure: true, token: { hmac_secret_key: crypto.randomBytes(16).toString('hex') } },
    channel: { without_namespace: { allow_subscribe_for_client: true } },
    pusher: { enabled: true, apps: [APP] },
  });
  return { proc, port, apiKey };
}

/** A subscriber counting the publications it gets; resolves once subscribed. */
function subscriber(port, pusher, channel, counter) {
  return new Promise((resolve, reject) => {
    const url = pusher ? `ws://127.0.0.1:${port}/app/${APP.key}?protocol=7` : `ws://127.0.0.1:${port}/connection/websocket`;
    const ws = new WebSocket(url);
    ws.on('error', reject);
    if (!pusher) ws.on('open', () => ws.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${channel}"}}`));
    ws.on('message', (buf) => {
      const s = buf.toString();
      if (pusher) {
        if (s.includes('connection_established')) ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
        else if (s.includes('subscription_succeeded')) resolve(ws);
        else if (s.startsWith('{"event":"message"')) counter.n++;
        else if (s.includes('pusher:ping')) ws.send('{"event":"pusher:pong","data":{}}');
      } else {
        for (const line of s.split('\n')) {
          if (line.startsWith('{"push"')) counter.n++;
          else if (line.startsWith('{"id":2,"subscribe"')) resolve(ws);
          else if (line === '{}') ws.send('{}');
        }
      }
    });
  });
}

async function run(server, pusher) {
  const channel = `fanout-${pusher ? 'p' : 'c'}`;
  const counter = { n: 0 };
  const conns = [];
  for (let i = 0; i < SUBS; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(SUBS, i + 50); k++) batch.push(subscriber(server.port, pusher, channel, counter));
    conns.push(...(await Promise.all(batch)));
  }
  const data = JSON.stringify({ text: 'x'.repeat(100), n: 1 });
  const before = cpuTicks(server.proc.pid);
  const t0 = Date.now();
  for (let i = 0; i < PUBS; i += 50) {
    const cmds = [];
    for (let k = i; k < Math.min(PUBS, i + 50); k++) cmds.push(`{"publish":{"channel":"${channel}","data":${data}}}`);
    await apiPost(server.port, server.apiKey, '/api/batch', `{"commands":[${cmds.join(',')}]}`);
  }
  const want = SUBS * PUBS;
  while (counter.n < want && Date.now() - t0 < 120000) await new Promise((r) => setTimeout(r, 20));
  const ticks = cpuTicks(server.proc.pid) - before;
  for (const ws of conns) ws.terminate();
  if (counter.n < want) throw new Error(`only ${counter.n} of ${want} deliveries`);
  return { deliveries: want, cpuMs: ticks * TICK_MS, usPerDelivery: (ticks * TICK_MS * 1000) / want, wallMs: Date.now() - t0 };
}

(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} not built (make build)`);
  const server = await startServer();
  try {
    const cf = await run(server, false);
    const pu = await run(server, true);
    console.log(`subscribers ${SUBS}, publications ${PUBS} (one worker)`);
    for (const [name, r] of [['centrifugo', cf], ['pusher', pu]])
      console.log(`${name.padEnd(10)} ${r.deliveries} deliveries, server CPU ${r.cpuMs} ms, ${r.usPerDelivery.toFixed(3)} µs/delivery, wall ${r.wallMs} ms`);
    console.log(`pusher / centrifugo: ${(pu.usPerDelivery / cf.usPerDelivery).toFixed(2)}`);
  } finally {
    server.proc.kill('SIGTERM');
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
