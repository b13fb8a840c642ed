'use strict';
// A WebSocket client over a bare TCP socket, written by hand so a test can stop reading from
// the socket (socket.pause()) and let the server's write queue fill up, then read everything
// the kernel buffered afterwards and decode it frame by frame.

const crypto = require('node:crypto');
const net = require('node:net');
const { withTimeout } = require('./wait');

/** Encode a masked client frame. */
function encodeFrame(opcode, payload) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = crypto.randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/**
 * Decode as many complete frames as buf holds. Returns {frames: [{opcode, fin, payload}], rest}.
 * Server frames are not masked; a masked one is unmasked anyway.
 */
function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    let mask = null;
    if (b1 & 0x80) {
      if (buf.length - p < 4) break;
      mask = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < len) break;
    let payload = Buffer.from(buf.subarray(p, p + len));
    if (mask) for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/**
 * Open a WebSocket by hand. Resolves {socket, sendText(str), frames() → decoded frames so far
 * (text messages reassembled), bytes() → total bytes received, ended: Promise (socket closed)}.
 */
function tcpWebSocket(port, path = '/connection/websocket', { host = '127.0.0.1', timeoutMs = 5000 } = {}) {
  const key = crypto.randomBytes(16).toString('base64');
  const socket = net.connect({ host, port });
  let buf = Buffer.alloc(0);
  let handshakeDone = false;
  let received = 0;
  const messages = []; // {type: 'text'|'close'|'ping'|..., text?, code?, reason?}
  let partial = null;

  const parse = () => {
    const { frames, rest } = decodeFrames(buf);
    buf = Buffer.from(rest);
    for (const f of frames) {
      if (f.opcode === 0x8) {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        messages.push({ type: 'close', code, reason: f.payload.subarray(2).toString('utf8') });
        // answer the closing handshake so the server need not wait for its timeout
        if (!socket.destroyed && socket.writable) socket.write(encodeFrame(0x8, f.payload.subarray(0, 2)));
      } else if (f.opcode === 0x9) {
        messages.push({ type: 'ping' });
        if (!socket.destroyed) socket.write(encodeFrame(0xa, f.payload));
      } else if (f.opcode === 0xa) {
        messages.push({ type: 'pong' });
      } else if (f.opcode === 0x1 || f.opcode === 0x2 || f.opcode === 0x0) {
        partial = f.opcode === 0x0 && partial ? Buffer.concat([partial, f.payload]) : f.payload;
        if (f.fin) {
          messages.push({ type: 'text', text: partial.toString('utf8') });
          partial = null;
        }
      }
    }
  };

  const ended = new Promise((resolve) => {
    socket.on('close', () => resolve());
  });
  socket.on('error', () => {
    /* reset by the server: 'close' follows */
  });

  const ready = new Promise((resolve, reject) => {
    socket.on('data', (d) => {
      received += d.length;
      buf = Buffer.concat([buf, d]);
      if (!handshakeDone) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        buf = Buffer.from(buf.subarray(end + 4));
        if (!/^HTTP\/1\.1 101/.test(head)) {
          reject(new Error(`upgrade failed: ${head.split('\r\n')[0]}`));
          socket.destroy();
          return;
        }
        const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
          reject(new Error(`bad Sec-WebSocket-Accept in: ${head}`));
          socket.destroy();
          return;
        }
        handshakeDone = true;
        resolve();
      }
      parse();
    });
    socket.once('close', () => reject(new Error('socket closed during the WebSocket handshake')));
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });

  const ws = {
    socket,
    ended,
    sendText(str) {
      socket.write(encodeFrame(0x1, str));
    },
    /** Decoded messages so far (consumed messages stay; use an index to read new ones). */
    messages() {
      return messages;
    },
    /** JSON lines of all text messages so far. */
    lines() {
      const out = [];
      for (const m of messages) if (m.type === 'text') for (const l of m.text.split('\n')) out.push(l);
      return out;
    },
    bytes() {
      return received;
    },
    /**
     * Wait until pred(messages) holds; resolves true then, or false if the socket closes first
     * (the caller decides whether that is a failure). Rejects after ms.
     */
    until(pred, ms, what) {
      let cleanup;
      const p = new Promise((resolve) => {
        const check = () => {
          if (pred(messages)) {
            cleanup();
            resolve(true);
          }
        };
        const onClose = () => {
          cleanup();
          resolve(pred(messages));
        };
        cleanup = () => {
          socket.removeListener('data', check);
          socket.removeListener('close', onClose);
        };
        socket.on('data', check);
        socket.on('close', onClose);
        if (socket.destroyed) onClose();
        else check();
      });
      return withTimeout(p, ms, what).finally(() => cleanup());
    },
    destroy() {
      socket.destroy();
    },
  };
  return withTimeout(ready, timeoutMs, 'hand-made WebSocket handshake').then(() => ws);
}

module.exports = { encodeFrame, decodeFrames, tcpWebSocket };
