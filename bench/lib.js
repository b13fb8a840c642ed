'use strict';
// What the Node benchmark scripts share: their --key=value options, a free loopback port and a
// process's CPU time from /proc.
const fs = require('fs');
const net = require('net');

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

module.exports = { parseArgs, freePort, cpuTicks };
