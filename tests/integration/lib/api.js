'use strict';
// Server HTTP API calls (POST /api/<method>) and plain HTTP requests against a test server.

const http = require('node:http');

/**
 * One HTTP request. opts: {method, headers, body (string|Buffer|object → JSON), timeoutMs,
 * agent (default: a new connection per request)}.
 * Resolves {status, headers, text, body} where body is parsed JSON when the text parses, else
 * the text. A response that arrives while the request body is still being written (413 before
 * the whole body was read) is still reported.
 */
function request(server, path, opts = {}) {
  const { method = 'GET', headers = {}, timeoutMs = 10000, agent = false } = opts;
  let payload = opts.body;
  if (payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload)) payload = JSON.stringify(payload);
  const hdrs = { ...headers };
  if (payload !== undefined) hdrs['Content-Length'] = Buffer.byteLength(payload);

  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        fn(v);
      }
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish(reject, new Error(`timed out after ${timeoutMs} ms waiting for ${method} ${path}`));
    }, timeoutMs);
    const req = http.request(
      { host: '127.0.0.1', port: server.port, path, method, headers: hdrs, agent },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        const end = () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON: keep the text */
          }
          finish(resolve, { status: res.statusCode, headers: res.headers, text, body });
        };
        res.on('end', end);
        // the server may reset the connection after answering an oversized request
        res.on('error', end);
        res.on('aborted', end);
      },
    );
    req.on('error', (err) => {
      // EPIPE/ECONNRESET while still writing a body the server refused: wait briefly for the
      // response that may already be on its way before reporting the error.
      setTimeout(() => finish(reject, err), 500);
    });
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

/**
 * POST /api/<method>. opts: {key (default server.apiKey; null = no key header), headers,
 * raw (send body as is: a string or Buffer), httpMethod, timeoutMs, agent}.
 */
function api(server, method, body = {}, opts = {}) {
  const headers = { 'Content-Type': 'application/json', ...(opts.headers || {}) };
  const key = opts.key === undefined ? server.apiKey : opts.key;
  if (key !== null && !hasHeader(headers, 'authorization')) headers['X-API-Key'] = key;
  return request(server, `/api/${method}`, {
    method: opts.httpMethod || 'POST',
    headers,
    body: opts.raw !== undefined ? opts.raw : body,
    timeoutMs: opts.timeoutMs,
    agent: opts.agent,
  });
}

function hasHeader(headers, name) {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

/** API publish that must succeed: resolves the result object, throws with the reply otherwise. */
async function publish(server, channel, data, extra = {}, opts = {}) {
  const r = await api(server, 'publish', { channel, data, ...extra }, opts);
  if (r.status !== 200 || !r.body || typeof r.body !== 'object' || !r.body.result) {
    throw new Error(`API publish to ${channel} failed: HTTP ${r.status} ${r.text}`);
  }
  return r.body.result;
}

/** Any API method that must succeed: resolves its result object, throws with the reply otherwise. */
async function apiResult(server, method, params = {}, opts = {}) {
  const r = await api(server, method, params, opts);
  if (r.status !== 200 || !r.body || typeof r.body !== 'object' || !r.body.result) {
    throw new Error(`API ${method} failed: HTTP ${r.status} ${r.text}`);
  }
  return r.body.result;
}

module.exports = { request, api, publish, apiResult };
