#!/usr/bin/env node
// Server CPU per subscribe decision, with and without a Lua subscribe hook.
//
// Starts the release binary twice on free loopback ports — once with no script, once with a
// script routing subscriptions through lucent.rules (`user:{id}` only for that user) — and on
// each runs the same load: C connections, each subscribing to and unsubscribing from its
// user's channel R times, pipelined in batches. The server's CPU time (utime + stime from
// /proc/<pid>/stat) over the load divided by the number of subscribes is the cost of one
// subscribe; the difference between the runs is the hook's cost. Also prints the VM memory
// the server logs at start-up. Loopback only, bounded in count and time.
//
//   node bench/subscribe-cost.js [--bin=build/lucent] [--conns=20] [--rounds=2000]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs, freePort, cpuTicks } = require('./lib');
const crypto = require('crypto');

const root = path.resolve(__dirname, '..');
const WebSocket = require(path.join(root, 'tests/integration/node_modules/ws'));
const args = parseArgs();
const BIN = path.resolve(args.bin || path.join(root, 'build/lucent'));
const CONNS = Number(args.conns || 20);
const ROUNDS = Number(args.rounds || 2000);
const BATCH = 50;
const TICK = os.constants.signals ? 100 : 100; // USER_HZ on Linux

function b64url(x) {
  return Buffer.from(x).toString('base64url');
}
function token(secret, sub) {
  const h = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
  const p = b64url(JSON.stringify({ sub }));
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

async function startServer(withLua) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-bench-'));
  const port = await freePort();
  const secret = crypto.randomBytes(16).toString('hex');
  const cfg = {
    http_server: { address: '127.0.0.1', port },
    workers: 1,
    log: { level: 'info' },
    health: { enabled: true },
    client: { token: { hmac_secret_key: secret } },
    channel: { namespaces: [{ name: 'user', allow_subscribe_for_client: !withLua }] },
  };
  if (withLua) {
    fs.writeFileSync(
      path.join(dir, 'rules.lua'),
      'local r = require("lucent.rules").new()\n' +
        'r:subscribe("user:{id}", function(ctx, id) return ctx.user == id end)\n' +
        'return r:hooks()\n',
    );
    cfg.lua = { script: 'rules.lua' };
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  const proc = spawn(BIN, ['-c', path.join(dir, 'config.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 100; i++) {
    if (/listening on/.test(log)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/listening on/.test(log)) throw new Error(`server did not start:\n${log}`);
  return { proc, port, secret, dir, log: () => log };
}

function session(port, tok) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`);
    const waiters = new Map();
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, connect: { token: tok } })));
    ws.on('message', (buf) => {
      for (const line of buf.toString().split('\n')) {
        const m = JSON.parse(line);
        if (m.id === 1 && m.connect) resolve({ ws, waiters });
        else if (m.id === 1) reject(new Error(line));
        else if (m.id && waiters.has(m.id)) {
          waiters.get(m.id)(m);
          waiters.delete(m.id);
        } else if (!m.id && !m.push) ws.send('{}');
      }
    });
    ws.on('error', reject);
  });
}

async function load(port, secret) {
  const sessions = await Promise.all(
    Array.from({ length: CONNS }, (_, i) => session(port, token(secret, `u${i}`)).then((s) => ({ ...s, user: `u${i}` }))),
  );
  let id = 10;
  const run = async (s) => {
    for (let r = 0; r < ROUNDS; r += BATCH) {
      const lines = [];
      const done = [];
      for (let k = 0; k < BATCH; k++) {
        const sid = id++;
        const uid = id++;
        lines.push(JSON.stringify({ id: sid, subscribe: { channel: `user:${s.user}` } }));
        lines.push(JSON.stringify({ id: uid, unsubscribe: { channel: `user:${s.user}` } }));
        done.push(new Promise((res) => s.waiters.set(uid, res)));
        s.waiters.set(sid, (m) => {
          if (!m.subscribe) throw new Error(`subscribe refused: ${JSON.stringify(m)}`);
        });
      }
      s.ws.send(lines.join('\n'));
      await Promise.all(done);
    }
  };
  await Promise.all(sessions.map(run));
  for (const s of sessions) s.ws.terminate();
}

(async () => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} not built (make build)`);
  const results = {};
  for (const withLua of [false, true]) {
    const srv = await startServer(withLua);
    try {
      const before = cpuTicks(srv.proc.pid);
      const t0 = Date.now();
      await load(srv.port, srv.secret);
      const ms = Date.now() - t0;
      const ticks = cpuTicks(srv.proc.pid) - before;
      const subs = CONNS * ROUNDS;
      const us = (ticks * (1e6 / TICK)) / subs;
      results[withLua ? 'lua' : 'none'] = us;
      const vm = /lua: .*?(\d+(?:\.\d+)?) KiB/.exec(srv.log());
      console.log(
        `${withLua ? 'lua hook' : 'no hook '}: ${subs} subscribes (+ unsubscribes) in ${ms} ms, ` +
          `server CPU ${(ticks / TICK).toFixed(2)} s = ${us.toFixed(2)} us per subscribe+unsubscribe` +
          (withLua && vm ? `; VM memory after load ${vm[1]} KiB` : ''),
      );
    } finally {
      srv.proc.kill('SIGTERM');
      await new Promise((r) => srv.proc.on('exit', r));
      fs.rmSync(srv.dir, { recursive: true, force: true });
    }
  }
  console.log(`lua subscribe decision costs ${(results.lua - results.none).toFixed(2)} us more per subscribe`);
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
