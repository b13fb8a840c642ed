'use strict';
// Environment overrides (CENTRIFUGO_* / LUCENT_*) of the config, and `lucent gensubtoken`.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const {
  requireBinary,
  startServer,
  defaultConfig,
  assertCleanExit,
  withLogsOnFailure,
  readJsonConfig,
  makeTempDir,
  randomSecret,
} = require('./lib/server');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { rawSession, rawCall } = require('./lib/client');

const tmp = makeTempDir();
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:/;
const JWT_RE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

/** The environment without any CENTRIFUGO_ / LUCENT_ config variable of the caller's shell. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CENTRIFUGO_') && !(k.startsWith('LUCENT_') && k !== 'LUCENT_BIN')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** Run the binary to completion with extra environment variables. */
function run(args, env = {}, { timeoutMs = 10000 } = {}) {
  const bin = requireBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: tmp, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = { code, signal, stdout, stderr, timedOut };
      if (SANITIZER.test(stdout + stderr)) reject(new Error(`sanitizer report from lucent ${args.join(' ')}:\n${stderr}`));
      else resolve(r);
    });
  });
}

const show = (r) => `exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** The Centrifugo setup of the Laravel broadcaster's CI job: environment variables only. */
function laravelEnv(secret, apiKey) {
  return {
    CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: secret,
    CENTRIFUGO_HTTP_API_KEY: apiKey,
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_PRESENCE: '1',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_JOIN_LEAVE: 'true',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_PUSH_JOIN_LEAVE: 'true',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_SIZE: '100',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_TTL: '300s',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_RECOVERY: 'true',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PUBLISH_FOR_SUBSCRIBER: 'true',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PRESENCE_FOR_SUBSCRIBER: 'true',
    CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_HISTORY_FOR_SUBSCRIBER: 'true',
    CENTRIFUGO_CLIENT_SUBSCRIBE_TO_USER_PERSONAL_CHANNEL_ENABLED: 'true',
  };
}

test('the Laravel CI environment alone (no config file) gives history and presence on channels without namespace', async () => {
  const secret = randomSecret();
  const apiKey = randomSecret();
  const srv = await startServer(
    {},
    {
      args: () => [],
      env: (port) => ({
        ...laravelEnv(secret, apiKey),
        CENTRIFUGO_HTTP_SERVER_ADDRESS: '127.0.0.1',
        CENTRIFUGO_HTTP_SERVER_PORT: String(port),
      }),
    },
  );
  try {
    await withLogsOnFailure(srv, async () => {
      const target = { ...srv, apiKey };
      const ps = await api(target, 'presence_stats', { channel: 'news' });
      assert.equal(ps.status, 200, ps.text);
      assert.deepEqual(ps.body, { result: { num_clients: 0, num_users: 0 } });

      const pub = await api(target, 'publish', { channel: 'news', data: { event: 'smoke' } });
      assert.equal(pub.status, 200, pub.text);
      assert.equal(typeof pub.body.result.offset, 'number', pub.text);
      assert.ok(pub.body.result.epoch, pub.text);
      const hist = await api(target, 'history', { channel: 'news', limit: 1 });
      assert.equal(hist.body.result.publications[0].data.event, 'smoke', hist.text);

      // a client with a token signed by the key from the environment joins presence
      const raw = await rawSession(srv, { token: jwt.connToken(secret, '42'), channels: ['news'] });
      const ps2 = await api(target, 'presence_stats', { channel: 'news' });
      assert.deepEqual(ps2.body, { result: { num_clients: 1, num_users: 1 } });
      // the personal channel subscription of subscribe_to_user_personal_channel
      assert.ok(raw.connectResult.subs && raw.connectResult.subs['#42'], JSON.stringify(raw.connectResult));
      const bad = await api({ ...srv, apiKey: 'wrong' }, 'publish', { channel: 'news', data: {} });
      assert.equal(bad.status, 401);
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('environment over a config file: LUCENT_ wins over CENTRIFUGO_, the file keeps the other keys', async () => {
  const cfg = defaultConfig();
  const lucentKey = randomSecret();
  const srv = await startServer(cfg, {
    env: { CENTRIFUGO_HTTP_API_KEY: 'from-centrifugo', LUCENT_HTTP_API_KEY: lucentKey },
  });
  try {
    await withLogsOnFailure(srv, async () => {
      const ok = await api({ ...srv, apiKey: lucentKey }, 'info', {});
      assert.equal(ok.status, 200, ok.text);
      for (const key of ['from-centrifugo', cfg.http_api.key]) {
        const r = await api({ ...srv, apiKey: key }, 'info', {});
        assert.equal(r.status, 401, `key ${key}: ${r.text}`);
      }
      // the file's secret still signs connection tokens
      const raw = await rawSession(srv, { token: jwt.connToken(cfg.client.token.hmac_secret_key, '7') });
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('a bad value exits non-zero naming the variable', async () => {
  const file = path.join(tmp, 'bad-env.json');
  fs.writeFileSync(file, JSON.stringify(defaultConfig()));
  const port = await run(['-c', file], { CENTRIFUGO_HTTP_SERVER_PORT: 'eighty' });
  assert.notEqual(port.code, 0, show(port));
  assert.match(port.stderr, /CENTRIFUGO_HTTP_SERVER_PORT: expected an integer from 0 to 65535/, show(port));

  const bool = await run([], { CENTRIFUGO_CLIENT_INSECURE: 'yes' });
  assert.notEqual(bool.code, 0, show(bool));
  assert.match(bool.stderr, /CENTRIFUGO_CLIENT_INSECURE: expected a boolean/, show(bool));

  const ns = await run(['checkconfig', '-c', file], { CENTRIFUGO_CHANNEL_NAMESPACES: '[{"name":"x"}]' });
  assert.notEqual(ns.code, 0, show(ns));
  assert.match(ns.stderr, /CENTRIFUGO_CHANNEL_NAMESPACES: channel\.namespaces\[0\]\.name/, show(ns));

  const ok = await run(['checkconfig', '-c', file], { CENTRIFUGO_CHANNEL_NAMESPACES: '[{"name":"xy"}]' });
  assert.equal(ok.code, 0, show(ok));
});

test('an unknown CENTRIFUGO_ variable is a warning in the log, not an error', async () => {
  const srv = await startServer(defaultConfig(), { env: { CENTRIFUGO_FOO: '1' } });
  try {
    assert.match(srv.logs(), /unknown environment variable CENTRIFUGO_FOO \(ignored\)/, srv.logs());
  } finally {
    await assertCleanExit(srv);
  }
});

test('lucent gensubtoken prints a token that subscribes to a $ channel', async () => {
  const file = path.join(tmp, 'gensub.json');
  assert.equal((await run(['genconfig', file])).code, 0);
  const channel = '$orders.1';
  const r = await run(['gensubtoken', '-c', file, '-u', '42', '-s', channel, '--ttl', '300']);
  assert.equal(r.code, 0, show(r));
  const m = JWT_RE.exec(r.stdout);
  assert.ok(m, `no JWT in output\n${show(r)}`);
  const { payload } = jwt.decode(m[0]);
  assert.equal(payload.sub, '42');
  assert.equal(payload.channel, channel);
  assert.ok(payload.exp - payload.iat === 300, JSON.stringify(payload));

  const conf = readJsonConfig(file);
  const secret = conf.client.token.hmac_secret_key;
  const bySecret = await run(['gensubtoken', '--secret', secret, '-u', '42', '-s', channel]);
  assert.equal(bySecret.code, 0, show(bySecret));
  assert.equal(jwt.decode(JWT_RE.exec(bySecret.stdout)[0]).payload.channel, channel);

  const usage = await run(['gensubtoken', '-c', file, '-u', '42']);
  assert.equal(usage.code, 2, show(usage));

  const srv = await startServer(conf);
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, { token: jwt.connToken(secret, '42') });
      const denied = await rawCall(raw, { subscribe: { channel } });
      assert.ok(denied.error, `subscribe without a token: ${JSON.stringify(denied)}`);
      const sub = await rawCall(raw, { subscribe: { channel, token: m[0] } });
      assert.ok(sub.subscribe, JSON.stringify(sub));
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('gentoken and gensubtoken take the key from the environment when no -c is given', async () => {
  const secret = randomSecret();
  const env = { CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: secret };
  const conn = await run(['gentoken', '-u', '5'], env);
  assert.equal(conn.code, 0, show(conn));
  const sub = await run(['gensubtoken', '-u', '5', '-s', '$x'], {
    ...env,
    CENTRIFUGO_CLIENT_SUBSCRIPTION_TOKEN_ENABLED: 'true',
    CENTRIFUGO_CLIENT_SUBSCRIPTION_TOKEN_HMAC_SECRET_KEY: 'sub-secret',
  });
  assert.equal(sub.code, 0, show(sub));
  const tok = JWT_RE.exec(sub.stdout)[0];
  const [h, p, sig] = tok.split('.');
  const want = jwt.signRaw(Buffer.from(h, 'base64url').toString(), Buffer.from(p, 'base64url').toString(), 'sub-secret');
  assert.equal(want.split('.')[2], sig, 'not signed with client.subscription_token.hmac_secret_key');

  const none = await run(['gentoken', '-u', '5']);
  assert.equal(none.code, 1, show(none));
  assert.match(none.stderr, /client\.token\.hmac_secret_key/, show(none));
});

test('lucent --help lists gensubtoken and the environment variables', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /gensubtoken/);
  assert.match(r.stdout, /CENTRIFUGO_/);
});
