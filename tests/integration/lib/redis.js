'use strict';
// Real redis-server processes for the Redis engine tests: a primary (or replica) or a
// Sentinel on a free 127.0.0.1 port, no persistence, its own temporary directory. Every
// process still running when a file's tests end is stopped by a root `after` hook; a process
// 'exit' handler kills any that survive even that.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { after } = require('node:test');
const os = require('node:os');

// (not from ./server: server.js uses this file for LUCENT_TEST_ENGINE=redis)
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function makeTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-redis-'));
}

const live = new Set();

/** One RESP command over a fresh connection; resolves the reply as text (arrays joined). */
function redisCommand(port, args, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${args[0]} on ${port}: timed out`));
    }, timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      // good enough for the replies the tests read: wait until the first reply is complete
      const parsed = parseReply(buf, 0);
      if (parsed) {
        clearTimeout(timer);
        sock.end();
        resolve(parsed.value);
      }
    });
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
    sock.write(out);
  });
}

function parseReply(s, i) {
  const nl = s.indexOf('\r\n', i);
  if (nl < 0) return null;
  const t = s[i];
  const line = s.slice(i + 1, nl);
  if (t === '+' || t === '-' || t === ':') return { value: t === '-' ? new Error(line) : line, end: nl + 2 };
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: nl + 2 };
    if (Buffer.byteLength(s.slice(nl + 2)) < n + 2) return null;
    return { value: s.slice(nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
  }
  if (t === '*') {
    const n = Number(line);
    const arr = [];
    let at = nl + 2;
    for (let k = 0; k < n; k++) {
      const p = parseReply(s, at);
      if (!p) return null;
      arr.push(p.value);
      at = p.end;
    }
    return { value: arr, end: at };
  }
  return { value: line, end: nl + 2 };
}

async function waitPing(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await redisCommand(port, ['PING'], 500)) === 'PONG') return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

function spawnRedis(args, dir, port) {
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => chunks.push(d));
  const proc = { child, port, exited: false };
  proc.exitPromise = new Promise((resolve) => child.on('close', () => {
    proc.exited = true;
    live.delete(proc);
    resolve();
  }));
  proc.logs = () => Buffer.concat(chunks).toString('utf8');
  live.add(proc);
  return proc;
}

async function stopProc(proc, signal = 'SIGTERM') {
  if (!proc || proc.exited) return;
  try {
    proc.child.kill(signal);
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }, 3000);
  await proc.exitPromise;
  clearTimeout(t);
}

/**
 * Start redis-server. opts.port (default: a free one), opts.replicaOf (a port).
 * Returns {port, address, cmd(args), kill() (SIGKILL), stop(), restart() (same port, empty)}.
 */
async function startRedis(opts = {}) {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? makeTempDir();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync-delay', '0'];
  if (opts.replicaOf) args.push('--replicaof', '127.0.0.1', String(opts.replicaOf));
  const r = {
    port,
    address: `127.0.0.1:${port}`,
    dir,
    proc: spawnRedis(args, dir, port),
  };
  r.cmd = (a) => redisCommand(port, a);
  r.kill = () => stopProc(r.proc, 'SIGKILL');
  r.stop = async () => {
    await stopProc(r.proc);
    if (!process.env.LUCENT_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  };
  r.restart = async () => {
    await stopProc(r.proc, 'SIGKILL');
    r.proc = spawnRedis(args, dir, port);
    await waitPing(port);
  };
  r.logs = () => r.proc.logs();
  await waitPing(port);
  return r;
}

/** A Sentinel watching master `name` at masterPort (quorum 1, quick failover). */
async function startSentinel(masterPort, name = 'mymaster') {
  const port = await freePort();
  const dir = makeTempDir();
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const s = { port, address: `127.0.0.1:${port}`, proc: spawnRedis([conf, '--sentinel'], dir, port) };
  s.cmd = (a) => redisCommand(port, a);
  s.stop = async () => {
    await stopProc(s.proc);
    if (!process.env.LUCENT_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  };
  s.logs = () => s.proc.logs();
  await waitPing(port);
  return s;
}

after(async () => {
  await Promise.all([...live].map((p) => stopProc(p)));
});

process.on('exit', () => {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

module.exports = { startRedis, startSentinel, redisCommand };
