'use strict';
// Connection and subscription JWTs for the tests, made with node's crypto the same way the
// Laravel SDK does: header {"typ":"JWT","alg":"HS256"}, base64url without padding.

const crypto = require('node:crypto');

const b64url = (input) => Buffer.from(input).toString('base64url');

const now = () => Math.floor(Date.now() / 1000);

/** Sign already-serialised header and payload JSON text (exact bytes are kept). */
function signRaw(headerJson, payloadJson, secret, alg = 'sha256') {
  const signingInput = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  const sig = crypto.createHmac(alg, secret).update(signingInput).digest('base64url');
  return `${signingInput}.${sig}`;
}

/** HS256 token for claims. Adds exp = now + ttl unless ttl is 0 or claims has exp. */
function makeToken(secret, claims = {}, { ttl = 3600 } = {}) {
  const payload = { ...claims };
  if (payload.exp === undefined && ttl > 0) payload.exp = now() + ttl;
  return signRaw(JSON.stringify({ typ: 'JWT', alg: 'HS256' }), JSON.stringify(payload), secret);
}

/** Connection token for a user. */
function connToken(secret, sub = '42', extra = {}, opts) {
  return makeToken(secret, { sub, ...extra }, opts);
}

/** Subscription token for a user and channel. */
function subToken(secret, sub, channel, extra = {}, opts) {
  return makeToken(secret, { sub, channel, ...extra }, opts);
}

/** Unsigned token with alg "none" (must be rejected). */
function algNoneToken(claims = { sub: '42' }) {
  const payload = { exp: now() + 3600, ...claims };
  return `${b64url(JSON.stringify({ typ: 'JWT', alg: 'none' }))}.${b64url(JSON.stringify(payload))}.`;
}

/** Correctly formed token signed with a different key. */
function wrongKeyToken(claims = { sub: '42' }) {
  return makeToken(crypto.randomBytes(32).toString('hex'), claims);
}

/** Token whose exp is in the past. */
function expiredToken(secret, claims = { sub: '42' }, agoSeconds = 60) {
  return makeToken(secret, { ...claims, exp: now() - agoSeconds });
}

/** Header and payload of a token (no verification). */
function decode(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

module.exports = { b64url, now, signRaw, makeToken, connToken, subToken, algNoneToken, wrongKeyToken, expiredToken, decode };
