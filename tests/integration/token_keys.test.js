'use strict';
// Tokens signed with public-key algorithms and checked for audience and issuer (spec §3.3):
// client.token.rsa_public_key / ecdsa_public_key (RS256/384/512, ES256), the algorithm pinned
// to the key type (an HMAC token made with the public key's text as its secret is refused),
// aud / iss exact and as regular expressions, a fractional `exp` accepted as the reference
// reads it, and client.token.jwks_public_endpoint: keys fetched from a JWKS endpoint, fetched
// again when a token names a kid the cached set lacks. Every token here is made by an
// independent library (npm jose), never by Lucent's code.

const assert = require('node:assert/strict');
const { test, describe, before, after } = require('node:test');
const jose = require('jose');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const { rawConnect, rawCall } = require('./lib/client');
const { sleep } = require('./lib/wait');
const { startBackend } = require('./lib/backend');

const now = () => Math.floor(Date.now() / 1000);

async function sign(claims, key, alg, header = {}) {
  return new jose.SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

/** Connect with a token: {ok, client} | {error: code} | {closed: code}. */
async function connectWith(server, token, data) {
  const raw = await rawConnect(server);
  raw.cmd({ connect: { token, ...(data ? { data } : {}) } });
  return raw.reply(1, 10000).then(
    (r) => {
      if (r.connect) return { ok: true, raw, client: r.connect.client };
      raw.ws.close();
      return { error: r.error?.code };
    },
    () => raw.closed.then((c) => ({ closed: c.code })),
  );
}

async function expectUser(server, token, user) {
  const r = await connectWith(server, token);
  assert.ok(r.ok, `connect refused: ${JSON.stringify(r)}`);
  // the user the token named is the connection's: a personal channel rule shows it
  const s = await rawCall(r.raw, { subscribe: { channel: `#${user}` } });
  assert.ok(s.subscribe, `subscribe to #${user} failed: ${JSON.stringify(s)}`);
  r.raw.ws.close();
}

async function expectRefused(server, token, what) {
  const r = await connectWith(server, token);
  assert.deepEqual(r, { closed: 3500 }, `${what}: ${JSON.stringify(r)}`);
}

// ---------------------------------------------------------------------------------------------
// static public keys, exact audience and issuer

describe('RSA and ECDSA public keys with aud and iss', () => {
  const box = {};
  before(async () => {
    box.rsa = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    box.ec = await jose.generateKeyPair('ES256');
    box.otherRsa = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    box.rsaPem = await jose.exportSPKI(box.rsa.publicKey);
    box.ecPem = await jose.exportSPKI(box.ec.publicKey);
    box.server = await startServer(
      merge(defaultConfig(), {
        client: {
          token: { rsa_public_key: box.rsaPem, ecdsa_public_key: box.ecPem, audience: 'lucent-tests', issuer: 'https://issuer.example' },
        },
        channel: { without_namespace: { allow_user_limited_channels: true, allow_subscribe_for_client: true } },
      }),
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));
  const good = (extra = {}) => ({ sub: 'u1', aud: 'lucent-tests', iss: 'https://issuer.example', exp: now() + 600, ...extra });

  t('RS256, RS384, RS512 with the RSA key and ES256 with the EC key connect as the token user', async () => {
    for (const alg of ['RS256', 'RS384', 'RS512']) await expectUser(box.server, await sign(good({ sub: `r-${alg}` }), box.rsa.privateKey, alg), `r-${alg}`);
    await expectUser(box.server, await sign(good({ sub: 'e1' }), box.ec.privateKey, 'ES256'), 'e1');
  });

  t('aud as a list holding the audience is accepted; a wrong, missing or non-string aud is 3500', async () => {
    await expectUser(box.server, await sign(good({ sub: 'l1', aud: ['other', 'lucent-tests'] }), box.rsa.privateKey, 'RS256'), 'l1');
    await expectRefused(box.server, await sign(good({ aud: 'other' }), box.rsa.privateKey, 'RS256'), 'wrong aud');
    await expectRefused(box.server, await sign(good({ aud: undefined }), box.rsa.privateKey, 'RS256'), 'no aud');
    await expectRefused(box.server, await sign(good({ aud: ['a', 'b'] }), box.ec.privateKey, 'ES256'), 'aud list without it');
  });

  t('a wrong or missing iss is 3500', async () => {
    await expectRefused(box.server, await sign(good({ iss: 'https://evil.example' }), box.rsa.privateKey, 'RS256'), 'wrong iss');
    await expectRefused(box.server, await sign(good({ iss: undefined }), box.rsa.privateKey, 'RS256'), 'no iss');
  });

  t('the algorithm is pinned to the key type: HS256 keyed with the public key text, a foreign key, swapped families → 3500', async () => {
    const confused = await sign(good(), new TextEncoder().encode(box.rsaPem), 'HS256');
    await expectRefused(box.server, confused, 'HS256 with the RSA public key as secret');
    await expectRefused(box.server, await sign(good(), box.otherRsa.privateKey, 'RS256'), 'another RSA key');
    // an ES256 signature presented as RS256, and the reverse
    const es = await sign(good(), box.ec.privateKey, 'ES256');
    const [, p, sig] = es.split('.');
    const rsHeader = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
    await expectRefused(box.server, `${rsHeader}.${p}.${sig}`, 'ES signature as RS256');
    await expectRefused(box.server, await sign(good(), box.rsa.privateKey, 'PS256'), 'PS256 is not offered');
  });

  t('a fractional exp is accepted (whole seconds); a fractional exp in the past is 109', async () => {
    await expectUser(box.server, await sign(good({ sub: 'f1', exp: now() + 600.5, iat: now() - 0.25 }), box.rsa.privateKey, 'RS256'), 'f1');
    const r = await connectWith(box.server, await sign(good({ exp: now() - 10.5 }), box.ec.privateKey, 'ES256'));
    assert.deepEqual(r, { error: 109 });
  });

  t('subscription tokens use the same keys (no client.subscription_token section)', async () => {
    const r = await connectWith(box.server, await sign(good({ sub: 's1' }), box.rsa.privateKey, 'RS256'));
    assert.ok(r.ok, JSON.stringify(r));
    const st = await sign({ sub: 's1', channel: '$room', aud: 'lucent-tests', iss: 'https://issuer.example' }, box.ec.privateKey, 'ES256');
    const s = await rawCall(r.raw, { subscribe: { channel: '$room', token: st } });
    assert.ok(s.subscribe, JSON.stringify(s));
    const bad = await sign({ sub: 's1', channel: '$room2', aud: 'nope', iss: 'https://issuer.example' }, box.ec.privateKey, 'ES256');
    const e = await rawCall(r.raw, { subscribe: { channel: '$room2', token: bad } });
    assert.equal(e.error?.code, 103, JSON.stringify(e));
    r.raw.ws.close();
  });
});

// ---------------------------------------------------------------------------------------------
// a key that cannot be read stops start-up

test('an unreadable rsa_public_key or an EC key given as RSA stops start-up naming the key', async () => {
  const ec = await jose.generateKeyPair('ES256');
  const ecPem = await jose.exportSPKI(ec.publicKey);
  for (const [token, want] of [
    [{ rsa_public_key: 'not a key' }, /client\.token\.rsa_public_key: not a PEM public key/],
    [{ rsa_public_key: ecPem }, /client\.token\.rsa_public_key: not an RSA public key/],
  ]) {
    await assert.rejects(startServer(merge(defaultConfig(), { client: { token } }), { readyMs: 3000 }), (err) => {
      assert.match(err.message, want);
      return true;
    });
  }
});

// ---------------------------------------------------------------------------------------------
// regex forms, a subscription_token section with its own key

describe('audience_regex, issuer_regex and client.subscription_token keys', () => {
  const box = {};
  before(async () => {
    box.rsa = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    box.subEc = await jose.generateKeyPair('ES256');
    box.server = await startServer(
      merge(defaultConfig(), {
        client: {
          token: { rsa_public_key: await jose.exportSPKI(box.rsa.publicKey), audience_regex: '^lucent-[a-z]+$', issuer_regex: '^https://[a-z]+\\.example$' },
          subscription_token: { enabled: true, ecdsa_public_key: await jose.exportSPKI(box.subEc.publicKey), issuer: 'subs' },
        },
      }),
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));

  t('aud and iss matching the expressions connect; others are 3500', async () => {
    const ok = await connectWith(box.server, await sign({ sub: 'x', aud: 'lucent-abc', iss: 'https://a.example' }, box.rsa.privateKey, 'RS256'));
    assert.ok(ok.ok, JSON.stringify(ok));
    await expectRefused(box.server, await sign({ sub: 'x', aud: 'lucent-ABC', iss: 'https://a.example' }, box.rsa.privateKey, 'RS256'), 'aud regex');
    await expectRefused(box.server, await sign({ sub: 'x', aud: 'lucent-abc', iss: 'https://a.example.org' }, box.rsa.privateKey, 'RS256'), 'iss regex');

    // subscription tokens: their own EC key and issuer; the connection's RSA key does not apply
    const st = await sign({ sub: 'x', channel: '$s', iss: 'subs' }, box.subEc.privateKey, 'ES256');
    assert.ok((await rawCall(ok.raw, { subscribe: { channel: '$s', token: st } })).subscribe);
    const wrongKey = await sign({ sub: 'x', channel: '$t', iss: 'subs' }, box.rsa.privateKey, 'RS256');
    assert.equal((await rawCall(ok.raw, { subscribe: { channel: '$t', token: wrongKey } })).error?.code, 103);
    ok.raw.ws.close();
  });
});


// ---------------------------------------------------------------------------------------------
// JWKS: keys fetched from an endpoint, again when a token names a kid the cached set lacks

describe('client.token.jwks_public_endpoint', () => {
  const box = { keys: [] };
  const jwks = async (pairs) => ({ keys: await Promise.all(pairs.map(async ([kid, pair, alg]) => ({ ...(await jose.exportJWK(pair.publicKey)), kid, alg, use: 'sig' }))) });
  before(async () => {
    box.r1 = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    box.e1 = await jose.generateKeyPair('ES256');
    box.r2 = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    box.doc = await jwks([
      ['r1', box.r1, 'RS256'],
      ['e1', box.e1, 'ES256'],
    ]);
    box.backend = await startBackend({ '/jwks': () => ({ json: box.doc }) });
    box.server = await startServer(
      merge(defaultConfig(), {
        workers: 1,
        client: { token: { jwks_public_endpoint: box.backend.url('/jwks'), audience: 'lucent-tests' } },
        channel: { without_namespace: { allow_user_limited_channels: true, allow_subscribe_for_client: true } },
      }),
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
    if (box.backend) await box.backend.close();
  });
  const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));
  const claims = (sub) => ({ sub, aud: 'lucent-tests', exp: now() + 600 });

  t('the first token fetches the set; RSA and EC keys of the set verify their kids; the set is then cached', async () => {
    await expectUser(box.server, await sign(claims('j1'), box.r1.privateKey, 'RS256', { kid: 'r1' }), 'j1');
    await expectUser(box.server, await sign(claims('j2'), box.e1.privateKey, 'ES256', { kid: 'e1' }), 'j2');
    await expectUser(box.server, await sign(claims('j3'), box.r1.privateKey, 'RS256', { kid: 'r1' }), 'j3');
    assert.equal(box.backend.calls('/jwks').length, 1, 'one fetch for three tokens');
    // subscription tokens use the same set (no client.subscription_token section)
    const r = await connectWith(box.server, await sign(claims('j4'), box.r1.privateKey, 'RS256', { kid: 'r1' }));
    assert.ok(r.ok, JSON.stringify(r));
    const st = await sign({ sub: 'j4', channel: '$jw', aud: 'lucent-tests' }, box.e1.privateKey, 'ES256', { kid: 'e1' });
    assert.ok((await rawCall(r.raw, { subscribe: { channel: '$jw', token: st } })).subscribe);
    r.raw.ws.close();
  });

  t('a kid of the wrong type, no kid, a foreign signature or a wrong aud → 3500', async () => {
    await expectRefused(box.server, await sign(claims('x'), box.e1.privateKey, 'ES256', { kid: 'r1' }), 'EC token naming an RSA kid');
    await expectRefused(box.server, await sign(claims('x'), box.r1.privateKey, 'RS256'), 'no kid');
    await expectRefused(box.server, await sign(claims('x'), box.r2.privateKey, 'RS256', { kid: 'r1' }), 'signed by another key');
    await expectRefused(box.server, await sign({ ...claims('x'), aud: 'other' }, box.r1.privateKey, 'RS256', { kid: 'r1' }), 'wrong aud');
  });

  t('a rotated key: a token with a new kid makes the server fetch the set again and connect', async () => {
    await sleep(1100); // past the minimum interval between two fetches
    box.doc = await jwks([
      ['r1', box.r1, 'RS256'],
      ['r2', box.r2, 'RS256'],
    ]);
    const before = box.backend.calls('/jwks').length;
    await expectUser(box.server, await sign(claims('rot'), box.r2.privateKey, 'RS256', { kid: 'r2' }), 'rot');
    assert.equal(box.backend.calls('/jwks').length, before + 1);
  });

  t('unknown kids are refused and do not make the server fetch more than once a second', async () => {
    await sleep(1100);
    const before = box.backend.calls('/jwks').length;
    const r2 = await jose.generateKeyPair('RS256', { modulusLength: 2048 });
    for (let i = 0; i < 5; i++) await expectRefused(box.server, await sign(claims('u'), r2.privateKey, 'RS256', { kid: `nope${i}` }), 'unknown kid');
    const fetched = box.backend.calls('/jwks').length - before;
    assert.ok(fetched >= 1 && fetched <= 2, `${fetched} fetches for 5 unknown kids`);
  });
});
