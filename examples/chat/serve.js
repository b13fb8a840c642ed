#!/usr/bin/env node
'use strict';
// The chat example in one command: starts lucent with lucent.json (fresh secrets through
// CENTRIFUGO_ variables) and serves the page, the official client (from node_modules, no CDN),
// connection tokens (/token?user=NAME) and the send endpoint (/send), which publishes through
// the server API with exclude_client so the sender does not get its own message back.
//
//   node examples/chat/serve.js        then open http://127.0.0.1:3000
//
// PORT (default 3000) is the page's port, LUCENT_PORT (default 8000) lucent's, LUCENT_BIN the
// binary (default build/lucent of this repository).

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const here = __dirname;
const repo = path.resolve(here, '..', '..');
const port = Number(process.env.PORT || 3000);
const lucentPort = Number(process.env.LUCENT_PORT || 8000);
const host = process.env.HOST || '127.0.0.1';
const bin = process.env.LUCENT_BIN || path.join(repo, 'build', 'lucent');
const secret = crypto.randomBytes(32).toString('hex');
const apiKey = crypto.randomBytes(32).toString('hex');

// The official client, bundled from an installed copy: this folder's node_modules
// (npm install --prefix examples/chat) or the test suite's.
const clientFile = [path.join(here, 'node_modules'), path.join(repo, 'tests', 'integration', 'node_modules')]
  .map((d) => path.join(d, 'centrifuge', 'dist', 'centrifuge.js'))
  .find((f) => fs.existsSync(f));
if (!clientFile) {
  console.error('chat: the centrifuge package is not installed: npm install --prefix examples/chat');
  process.exit(1);
}
if (!fs.existsSync(bin)) {
  console.error(`chat: ${bin} not found: run make build (or set LUCENT_BIN)`);
  process.exit(1);
}

const b64url = (b) => Buffer.from(b).toString('base64url');
function token(user) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub: user, iat: now, exp: now + 3600, info: { name: user } }));
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const origins = `http://${host}:${port} http://localhost:${port}`;
const lucent = spawn(bin, ['-c', path.join(here, 'lucent.json')], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    CENTRIFUGO_HTTP_SERVER_ADDRESS: host,
    CENTRIFUGO_HTTP_SERVER_PORT: String(lucentPort),
    CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: secret,
    CENTRIFUGO_HTTP_API_KEY: apiKey,
    CENTRIFUGO_CLIENT_ALLOWED_ORIGINS: origins,
  },
});
lucent.on('exit', (code, signal) => {
  console.error(`chat: lucent exited (${signal || code})`);
  process.exit(1);
});

function publish(body) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request({ host, port: lucentPort, path: '/api/publish', method: 'POST',
      headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } },
    (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || host}`);
  if (req.method === 'GET' && url.pathname === '/') {
    send(res, 200, 'text/html; charset=utf-8', fs.readFileSync(path.join(here, 'index.html')));
  } else if (req.method === 'GET' && url.pathname === '/centrifuge.js') {
    send(res, 200, 'text/javascript; charset=utf-8', fs.readFileSync(clientFile));
  } else if (req.method === 'GET' && url.pathname === '/token') {
    const user = (url.searchParams.get('user') || '').trim().slice(0, 40);
    if (!user) return send(res, 400, 'application/json', '{"error":"user required"}');
    send(res, 200, 'application/json', JSON.stringify({ token: token(user), url: `ws://${url.hostname}:${lucentPort}/connection/websocket` }));
  } else if (req.method === 'POST' && url.pathname === '/send') {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      try {
        const m = JSON.parse(raw);
        const text = String(m.text || '').slice(0, 2000);
        if (!text || !m.room || !m.client || !m.user) return send(res, 400, 'application/json', '{"error":"room, client, user and text required"}');
        // the sender shows its own message at once; everyone else gets it from lucent
        const r = await publish({ channel: `chat:${m.room}`, data: { user: String(m.user), text }, exclude_client: String(m.client) });
        send(res, r.status === 200 ? 200 : 502, 'application/json', r.text);
      } catch (e) {
        send(res, 400, 'application/json', JSON.stringify({ error: String(e.message) }));
      }
    });
  } else {
    send(res, 404, 'text/plain', 'not found');
  }
});
server.listen(port, host, () => console.log(`chat: open http://${host}:${port} (lucent on ${host}:${lucentPort})`));

const stop = () => {
  lucent.removeAllListeners('exit');
  lucent.kill('SIGTERM');
  server.close();
  lucent.on('exit', () => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
