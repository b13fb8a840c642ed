'use strict';
// What the Node benchmark scripts share: their --key=value options, a free loopback port, a
// process's CPU time from /proc, starting the server with a config and the server API.
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

/** The command line's --key=value options as an object (a bare --flag is true). */
function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(argv.map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? true]));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** CPU time of pid in clock ticks: utime + stime from /proc/<pid>/stat. */
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Start bin with cfg (written to a temp dir); resolves the process once it listens. */
async function startLucent(bin, cfg) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-bench-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  const proc = spawn(bin, ['-c', path.join(dir, 'config.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !/listening on/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/listening on/.test(log)) throw new Error(`server did not start:\n${log}`);
  return proc;
}

/** POST body to the server API path; resolves the answer's text, rejects unless HTTP 200. */
function apiPost(port, apiKey, pathName, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: pathName, method: 'POST', headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

module.exports = { parseArgs, freePort, cpuTicks, startLucent, apiPost };
