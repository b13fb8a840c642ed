#!/usr/bin/env node
// Map channels on the memory engine and on the Redis map broker side by side: what one map
// write costs to store and deliver, and how many the server API takes per second.
//
// Starts the release binary (one worker) once on the memory engine and once on the Redis
// engine (a redis-server of its own on a free port), connects S raw WebSocket clients with a
// map subscription (type 1) to one durable map channel, writes P keys (cycling over K keys)
// through the server API in batches of 50 `map_publish` commands (`parallel`), and waits until every
// subscriber has every write. Prints the API's write rate and the CPU time per delivery of the
// server (and of redis-server) over the writing. Loopback only, bounded in count and time; the
// clients run on the same machine, so compare the rows with each other.
//
//   node bench/map-fanout.js [--bin=build/lucent] [--subs=200] [--writes=2000] [--keys=100]
//                            [--sequential] [--write-delay=20ms]
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs, freePort, cpuTicks, startLucent, apiPost } = require('./lib');

const root = path.resolve(__dirname, '..');
const WebSocket = require(path.join(root, 'tests/integration/node_modules/ws'));
const args = parseArgs();
const BIN = path.resolve(args.bin || path.join(root, 'build/lucent'));
const SUBS = Number(args.subs || 200);
const WRITES = Number(args.writes || 2000);
const KEYS = Number(args.keys || 100);
const PARALLEL = !args.sequential; // a batch's commands one after the other: a delivery round each
const WRITE_DELAY = args['write-delay']; // client.write_delay: coalesce each connection's writes
const TICK_MS = 10; // USER_HZ 100 on Linux
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startRedis(dir) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !/Ready to accept/.test(log); i++) await sleep(50);
  if (!/Ready to accept/.test(log)) throw new Error(`redis-server did not start:\n${log}`);
  return { proc, port };
}

async function startServer(redisPort) {
  const port = await freePort();
  const apiKey = crypto.randomBytes(16).toString('hex');
  const cfg = {
    http_server: { address: '127.0.0.1', port },
    workers: 1,
    log: { level: 'info' },
    http_api: { key: apiKey },
    client: {
      insecure: true,
      token: { hmac_secret_key: crypto.randomBytes(16).toString('hex') },
      ...(WRITE_DELAY ? { write_delay: WRITE_DELAY } : {}),
    },
    channel: {
      namespaces: [
        {
          name: 'board',
          subscription_type: 'map',
          allow_subscribe_for_client: true,
          map: { mode: 'durable', key_ttl: '300s', stream_size: 1000, max_page_size: 1000 },
        },
      ],
    },
  };
  if (redisPort) cfg.engine = { type: 'redis', redis: { address: `127.0.0.1:${redisPort}` } };
  const proc = await startLucent(BIN, cfg);
  return { proc, port, apiKey };
}

/** A map subscriber counting the keyed publications it gets; resolves once live. */
function subscriber(port, channel, counter) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`);
    ws.on('error', reject);
    ws.on('open', () => ws.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${channel}","type":1,"phase":2,"limit":1000}}`));
    ws.on('message', (buf) => {
      for (const line of buf.toString().split('\n')) {
        if (line.startsWith('{"push"')) counter.n++;
        else if (line.startsWith('{"id":2,')) {
          if (!line.includes('"error"')) resolve(ws);
          else reject(new Error(line));
        } else if (line === '{}') ws.send('{}');
      }
    });
  });
}

/** A batch whose every command must succeed. */
async function post(port, apiKey, pathName, body) {
  const text = await apiPost(port, apiKey, pathName, body);
  if (text.includes('"error"')) throw new Error(text);
}

async function run(engine) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-bench-redis-'));
  const redis = engine === 'redis' ? await startRedis(dir) : null;
  const server = await startServer(redis && redis.port);
  try {
    const channel = 'board:bench';
    const counter = { n: 0 };
    const conns = [];
    for (let i = 0; i < SUBS; i += 50) {
      const batch = [];
      for (let k = i; k < Math.min(SUBS, i + 50); k++) batch.push(subscriber(server.port, channel, counter));
      conns.push(...(await Promise.all(batch)));
    }
    const data = JSON.stringify({ x: 123.5, y: 77, name: 'cursor' });
    const before = cpuTicks(server.proc.pid);
    const rBefore = redis ? cpuTicks(redis.proc.pid) : 0;
    const t0 = Date.now();
    for (let i = 0; i < WRITES; i += 50) {
      const cmds = [];
      for (let k = i; k < Math.min(WRITES, i + 50); k++)
        cmds.push(`{"map_publish":{"channel":"${channel}","key":"k${k % KEYS}","data":${data}}}`);
      await post(server.port, server.apiKey, '/api/batch', `{"commands":[${cmds.join(',')}],"parallel":${PARALLEL}}`);
    }
    const apiMs = Date.now() - t0;
    const want = SUBS * WRITES;
    while (counter.n < want && Date.now() - t0 < 120000) await sleep(20);
    const ticks = cpuTicks(server.proc.pid) - before;
    const rTicks = redis ? cpuTicks(redis.proc.pid) - rBefore : 0;
    for (const ws of conns) ws.terminate();
    if (counter.n < want) throw new Error(`${engine}: only ${counter.n} of ${want} deliveries`);
    return {
      engine,
      deliveries: want,
      writesPerS: (WRITES * 1000) / apiMs,
      usPerDelivery: (ticks * TICK_MS * 1000) / want,
      redisUsPerWrite: (rTicks * TICK_MS * 1000) / WRITES,
      wallMs: Date.now() - t0,
    };
  } finally {
    server.proc.kill('SIGTERM');
    if (redis) redis.proc.kill('SIGTERM');
  }
}

(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} not built (make build)`);
  const rows = [await run('memory'), await run('redis')];
  console.log(
    `map subscribers ${SUBS}, map writes ${WRITES} over ${KEYS} keys (one worker, durable map, ` +
      `${PARALLEL ? 'parallel' : 'sequential'} batches of 50${WRITE_DELAY ? `, write_delay ${WRITE_DELAY}` : ''})`,
  );
  for (const r of rows)
    console.log(
      `${r.engine.padEnd(7)} ${r.writesPerS.toFixed(0)} writes/s through the API, lucent ${r.usPerDelivery.toFixed(3)} µs CPU/delivery` +
        (r.engine === 'redis' ? `, redis-server ${r.redisUsPerWrite.toFixed(1)} µs CPU/write` : '') +
        `, all ${r.deliveries} delivered in ${r.wallMs} ms`,
    );
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
