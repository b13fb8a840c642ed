'use strict';
// Start and stop a real Lucent process for a test file.
//
// The binary is LUCENT_BIN or <repo>/build-test/lucent. Each server gets a free port, its own
// temporary directory with the JSON config, and its stdout/stderr captured so failures can
// show what the server said. Servers still running when a file's tests end are stopped by a
// root `after` hook; a process 'exit' handler kills any that survive even that.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after } = require('node:test');
const { REPO_ROOT, binaryPath, requireBinary } = require('./paths');
// at the top level: its `after` hook must belong to the file, not to the test that first
// starts a server
const { startRedis } = require('./redis');

const LOG_LIMIT = 32 * 1024 * 1024; // keep at most this many bytes of server output

const live = new Set();

function randomSecret(bytes = 24) {
  return crypto.randomBytes(bytes).toString('hex');
}

/** The config most tests use (Centrifugo v6 key names), with fresh secrets. */
function defaultConfig({ secret = randomSecret(), apiKey = randomSecret() } = {}) {
  return {
    client: { token: { hmac_secret_key: secret }, allowed_origins: [] },
    http_api: { key: apiKey },
    channel: {
      without_namespace: { allow_subscribe_for_client: true },
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        { name: 'ro', allow_subscribe_for_client: true },
      ],
    },
  };
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars of `over` replace those of `base`. */
function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k], v) : v;
  }
  return out;
}

/** A TCP port that was free a moment ago (listen on 0, read it, close). */
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

/** One HTTP GET with a short timeout; resolves {status, body} or rejects. An https URL is not
 * verified (the readiness check of a TLS server with a test certificate). */
function httpGet(url, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: false, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Strip // and block comments outside strings (config files may carry them). */
function stripJsonComments(text) {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else {
      out += c;
    }
  }
  return out;
}

function readJsonConfig(file) {
  return JSON.parse(stripJsonComments(fs.readFileSync(file, 'utf8')));
}

function makeTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-it-'));
}

/**
 * Start a server.
 *   config: object merged over {http_server:{address,port}, health:{enabled:true}, log:{level:"debug"}}
 *   opts.configText(port): write this text as the config instead (comments, odd layouts)
 *   opts.args(file): argv instead of ['-c', file]
 *   opts.env: extra environment variables, or a function (port) => variables (e.g. to give the
 *     port through CENTRIFUGO_HTTP_SERVER_PORT when opts.args leaves out the config)
 *   opts.files: {relative path: text} written into the server's directory (next to the config)
 *     before it starts, e.g. a Lua script named by a relative lua.script
 *   opts.readyTimeoutMs: how long to wait for GET /health (default 10 s)
 *   opts.nofile: run the server with RLIMIT_NOFILE lowered to this (through prlimit)
 * Returns {port, url, wsUrl, apiKey, secret, pid, config, configFile, dir, logs(), stop()}.
 */
async function startServer(config = defaultConfig(), opts = {}) {
  const bin = requireBinary();
  let lastErr;
  // The port is free when picked but another process could take it before the server binds:
  // retry with a new port when the server says so.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bin, config, opts);
    } catch (err) {
      lastErr = err;
      if (!/address already in use|EADDRINUSE/i.test(err.message)) throw err;
    }
  }
  throw lastErr;
}

/*
 * Whole-suite variants (issue 15, point 6): LUCENT_TEST_WORKERS=N and LUCENT_TEST_WRITE_DELAY=20ms
 * set `workers` and `client.write_delay` in every config a test leaves them out of (tests that
 * choose a value keep it; tests that write their own config text are not changed).
 */
function applyRunKnobs(cfg) {
  const workers = process.env.LUCENT_TEST_WORKERS;
  if (workers && cfg.workers === undefined) cfg.workers = Number(workers);
  const delay = process.env.LUCENT_TEST_WRITE_DELAY;
  if (delay && cfg.client?.write_delay === undefined) cfg.client = { ...cfg.client, write_delay: delay };
}

// LUCENT_TEST_ENGINE=redis runs a file's servers on the Redis engine: one redis-server per
// test process (started on first use, stopped by lib/redis.js), a key prefix per server so
// that each starts as empty as a memory-engine server. Configs that name an engine keep it.
let sharedRedis = null;
let serverSeq = 0;
async function withTestEngine(config) {
  if (process.env.LUCENT_TEST_ENGINE !== 'redis' || config.engine || config.engine_type) return config;
  if (!sharedRedis) sharedRedis = startRedis();
  const r = await sharedRedis;
  const prefix = `t${process.pid}_${++serverSeq}_${Date.now()}`;
  return merge(config, { engine: { type: 'redis', redis: { address: r.address, prefix } } });
}

async function startOnce(bin, config, opts) {
  config = await withTestEngine(config);
  const port = await freePort();
  const dir = makeTempDir();
  const configFile = path.join(dir, 'config.json');
  const merged = merge(
    { http_server: { address: '127.0.0.1', port }, health: { enabled: true }, log: { level: 'debug' } },
    config,
  );
  merged.http_server = { ...merged.http_server, port };
  applyRunKnobs(merged);
  const text = opts.configText ? opts.configText(port) : JSON.stringify(merged, null, 2);
  fs.writeFileSync(configFile, text);
  for (const [name, body] of Object.entries(opts.files || {})) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, body);
  }

  let args = opts.args ? opts.args(configFile) : ['-c', configFile];
  let cmd = bin;
  if (opts.nofile) {
    // a lowered descriptor limit (soft and hard) for this server only; prlimit execs the binary
    args = [`--nofile=${opts.nofile}:${opts.nofile}`, bin, ...args];
    cmd = 'prlimit';
  }
  const child = spawn(cmd, args, {
    cwd: dir,
    env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1', ...(typeof opts.env === 'function' ? opts.env(port) : opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const chunks = [];
  let logBytes = 0;
  let dropped = 0;
  const collect = (d) => {
    chunks.push(d);
    logBytes += d.length;
    while (logBytes > LOG_LIMIT && chunks.length > 1) {
      const c = chunks.shift();
      logBytes -= c.length;
      dropped += c.length;
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const logs = () => (dropped ? `[... ${dropped} bytes of earlier output dropped ...]\n` : '') + Buffer.concat(chunks).toString('utf8');

  const tls = Boolean(merged.http_server?.tls?.enabled);
  const server = {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/connection/websocket`,
    apiKey: merged.http_api?.key ?? merged.api_key,
    secret: merged.client?.token?.hmac_secret_key ?? merged.token_hmac_secret_key,
    pid: child.pid,
    config: merged,
    configFile,
    dir,
    process: child,
    exited: false,
    exitCode: null,
    signal: null,
    killed: false, // true when SIGTERM was not enough and SIGKILL was needed
    logs,
  };

  // 'close' (not 'exit') so the output pipes are drained when it fires.
  server.exitPromise = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      server.exited = true;
      server.exitCode = code;
      server.signal = signal;
      live.delete(server);
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise((_, reject) => child.on('error', reject));
  spawnError.catch(() => {}); // only awaited during start-up
  server.stop = (timeoutMs = 5000) => stopServer(server, timeoutMs);
  live.add(server);

  const readyMs = opts.readyTimeoutMs ?? 10000;
  const deadline = Date.now() + readyMs;
  try {
    for (;;) {
      const early = await Promise.race([
        server.exitPromise.then((r) => ({ exited: r })),
        spawnError,
        httpGet(`${server.url}/health`, 1000).then(
          (r) => ({ health: r }),
          () => ({}),
        ),
      ]);
      if (early.exited) {
        const { code, signal } = early.exited;
        throw new Error(`server exited before becoming ready (code ${code}, signal ${signal})\n--- server output ---\n${logs()}`);
      }
      if (early.health && early.health.status === 200) break;
      if (Date.now() >= deadline) {
        throw new Error(`server not ready after ${readyMs} ms (GET /health never answered 200)\n--- server output ---\n${logs()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stopServer(server, 2000);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return server;
}

/** SIGTERM, wait (then SIGKILL); resolves {code, signal, killed, logs}. Never asserts. */
async function stopServer(server, timeoutMs = 5000) {
  if (!server.exited) {
    try {
      server.process.kill('SIGTERM');
    } catch {
      /* already gone */
    }
    let timer;
    const timedOut = await Promise.race([
      server.exitPromise.then(() => false),
      new Promise((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      server.killed = true;
      try {
        server.process.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      await server.exitPromise;
    }
  }
  if (server.dir && !process.env.LUCENT_KEEP_TMP) fs.rmSync(server.dir, { recursive: true, force: true });
  return { code: server.exitCode, signal: server.signal, killed: server.killed, logs: server.logs() };
}

const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'ThreadSanitizer', 'runtime error:'];

/**
 * Stop the server if needed, then fail unless it shut down cleanly: exit code 0 after SIGTERM
 * within the timeout, and no sanitizer report in its output.
 */
async function assertCleanExit(server, timeoutMs = 5000) {
  const r = await stopServer(server, timeoutMs);
  const mark = SANITIZER_MARKS.find((m) => r.logs.includes(m));
  if (mark) assert.fail(`server output contains "${mark}"\n--- server output ---\n${tail(r.logs)}`);
  if (r.killed) assert.fail(`server did not exit within ${timeoutMs} ms of SIGTERM\n--- server output ---\n${tail(r.logs)}`);
  if (r.code !== 0) {
    assert.fail(`server exited with code ${r.code} signal ${r.signal} (expected 0 after SIGTERM)\n--- server output ---\n${tail(r.logs)}`);
  }
  return r;
}

/** Last part of a long log, for failure messages. */
function tail(text, max = 20000) {
  return text.length <= max ? text : `[... ${text.length - max} bytes ...]\n${text.slice(-max)}`;
}

/** Run fn; on failure, append the server's output to the error so the report shows both. */
async function withLogsOnFailure(server, fn) {
  try {
    return await fn();
  } catch (err) {
    const logs = `\n--- server output (port ${server.port}) ---\n${tail(server.logs())}`;
    if (err instanceof Error) {
      err.message += logs;
      throw err;
    }
    // centrifuge-js rejects with plain {code, message} objects
    throw new Error(`${JSON.stringify(err)}${logs}`);
  }
}

after(async () => {
  await Promise.all([...live].map((s) => stopServer(s, 3000)));
});

process.on('exit', () => {
  for (const s of live) {
    try {
      s.process.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

module.exports = {
  REPO_ROOT,
  binaryPath,
  requireBinary,
  randomSecret,
  defaultConfig,
  merge,
  freePort,
  httpGet,
  stripJsonComments,
  readJsonConfig,
  makeTempDir,
  startServer,
  stopServer,
  assertCleanExit,
  withLogsOnFailure,
  tail,
};
