#!/usr/bin/env node
// Bytes on the wire per publication and server CPU per delivery, JSON vs Protobuf, with and
// without fossil deltas.
//
// Starts the release binary on a free loopback port with one namespace allowing deltas, opens
// S raw WebSocket subscribers per case (JSON: text frames; Protobuf: the centrifuge-protobuf
// subprotocol), publishes M publications through POST /api/publish and waits until every
// subscriber has them all. Per case it prints the WebSocket payload bytes one subscriber
// received per publication (frame headers not counted) and the server's CPU time (utime +
// stime from /proc/<pid>/stat) over the publications divided by the deliveries. Cases:
//   small   {"text":"hello <i>","n":<i>}
//   doc     a 2 KB JSON document of which a few bytes change per publication, whole
//   delta   the same document, subscribers asking for fossil deltas (publish delta: true)
// Loopback only, bounded in count and time.
//
//   node bench/wire-cost.js [--bin=build/lucent] [--subs=200] [--pubs=500]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { parseArgs, freePort, cpuTicks } = require('./lib');

const root = path.resolve(__dirname, '..');
const nm = path.join(root, 'tests/integration/node_modules');
const WebSocket = require(path.join(nm, 'ws'));
const protobuf = require(path.join(nm, 'protobufjs'));
const args = parseArgs();
const BIN = path.resolve(args.bin || path.join(root, 'build/lucent'));
const SUBS = Number(args.subs || 200);
const PUBS = Number(args.pubs || 500);
const TICK = 100; // USER_HZ

const pb = protobuf.loadSync(path.join(root, 'src/proto/client.proto'));
const Command = pb.lookupType('lcpb.Command');
const Reply = pb.lookupType('lcpb.Reply');

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function apiPublish(port, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, path: '/api/publish', method: 'POST', agent, headers: { 'X-API-Key': 'bench-key', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`publish: HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function documentAt(step) {
  const items = [];
  for (let i = 0; i < 40; i++) items.push({ id: i, name: `item-${i}`, value: i === step % 40 ? step : i * 7, tag: 'bench' });
  return { step, items };
}

/** One subscriber: resolves {bytes, pubs, done(promise of all PUBS)}. */
function subscriber(port, encoding, channel, delta) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/connection/websocket`, encoding === 'protobuf' ? 'centrifuge-protobuf' : undefined, { perMessageDeflate: false });
    const st = { ws, bytes: 0, pubs: 0 };
    let finish;
    st.done = new Promise((r) => (finish = r));
    const sub = { channel, ...(delta ? { delta: 'fossil' } : {}) };
    ws.on('open', () => {
      if (encoding === 'protobuf') {
        const w = protobuf.Writer.create();
        Command.encodeDelimited({ id: 1, connect: {} }, w);
        Command.encodeDelimited({ id: 2, subscribe: sub }, w);
        ws.send(w.finish());
      } else {
        ws.send(`${JSON.stringify({ id: 1, connect: {} })}\n${JSON.stringify({ id: 2, subscribe: sub })}`);
      }
    });
    ws.on('message', (data, isBinary) => {
      let n = 0;
      let subscribed = false;
      if (isBinary) {
        const r = protobuf.Reader.create(data);
        while (r.pos < r.len) {
          const m = Reply.decodeDelimited(r);
          if (m.push && m.push.pub) n++;
          else if (m.id === 2) subscribed = true;
          else if (!m.id && !m.push) ws.send(Buffer.from([0]));
        }
      } else {
        for (const line of data.toString().split('\n')) {
          if (line === '{}') ws.send('{}');
          else if (line.includes('"pub":')) n++;
          else if (line.startsWith('{"id":2,')) subscribed = true;
        }
      }
      if (subscribed) resolve(st);
      if (n) {
        st.bytes += data.length;
        st.pubs += n;
        if (st.pubs >= PUBS) finish();
      }
    });
    ws.on('error', reject);
  });
}

async function runCase(port, pid, name, encoding, channel, delta, dataAt) {
  const subs = [];
  for (let i = 0; i < SUBS; i++) subs.push(await subscriber(port, encoding, channel, delta));
  const t0 = cpuTicks(pid);
  const started = Date.now();
  for (let i = 0; i < PUBS; i += 8) {
    const batch = [];
    for (let j = i; j < Math.min(PUBS, i + 8); j++) batch.push(apiPublish(port, { channel, data: dataAt(j), ...(delta ? { delta: true } : {}) }));
    await Promise.all(batch);
  }
  await Promise.race([Promise.all(subs.map((s) => s.done)), new Promise((_, rej) => setTimeout(() => rej(new Error(`${name}: not every publication arrived`)), 60000))]);
  const ticks = cpuTicks(pid) - t0;
  const ms = Date.now() - started;
  const bytes = subs.reduce((a, s) => a + s.bytes, 0) / SUBS / PUBS;
  for (const s of subs) s.ws.close();
  const deliveries = SUBS * PUBS;
  console.log(
    `${name.padEnd(16)} ${encoding.padEnd(9)} ${bytes.toFixed(1).padStart(8)} B/pub   ` +
      `${((ticks * (1000000 / TICK)) / deliveries).toFixed(2).padStart(6)} µs CPU/delivery   (${deliveries} deliveries, ${ms} ms)`,
  );
}

async function main() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-wire-'));
  const cfg = {
    http_server: { address: '127.0.0.1', port },
    log: { level: 'warn' },
    client: { insecure: true, queue_max_size: 16777216 },
    http_api: { key: 'bench-key' },
    channel: {
      without_namespace: { allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true },
      namespaces: [
        { name: 'doc', allow_subscribe_for_client: true, allow_subscribe_for_anonymous: true, allowed_delta_types: ['fossil'], history_size: 1, history_ttl: '60s', force_positioning: true },
      ],
    },
  };
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(cfg));
  const srv = spawn(BIN, ['-c', path.join(dir, 'c.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    for (let i = 0; i < 100; i++) {
      if (await new Promise((r) => net.connect(port, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`lucent ${BIN}: ${SUBS} subscribers per case, ${PUBS} publications`);
    const small = (i) => ({ text: `hello ${i}`, n: i });
    let k = 0;
    for (const enc of ['json', 'protobuf']) await runCase(port, srv.pid, 'small', enc, `small${k++}`, false, small);
    for (const enc of ['json', 'protobuf']) await runCase(port, srv.pid, 'doc 2KB whole', enc, `doc:w${k++}`, false, documentAt);
    for (const enc of ['json', 'protobuf']) await runCase(port, srv.pid, 'doc 2KB delta', enc, `doc:d${k++}`, true, documentAt);
  } finally {
    srv.kill('SIGTERM');
    agent.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
