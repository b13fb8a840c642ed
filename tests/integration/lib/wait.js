'use strict';
// Bounded waiting: every wait in the suite goes through one of these, so a server that never
// answers fails the test with a message saying what was awaited instead of hanging the run.

class TimeoutError extends Error {}

/** Race a promise against a timer; the error names what was awaited. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Poll an async or sync predicate until it returns a truthy value. */
async function waitUntil(pred, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Buffer of events (frames, publications...) that can be taken in order or by predicate.
 * Events that arrive before anyone waits are kept, so no event is lost between two awaits.
 */
class EventQueue {
  constructor(name = 'event') {
    this.name = name;
    this.items = [];
    this.waiters = [];
    this.endError = null;
  }

  push(item) {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (w.pred(item)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(item);
        return;
      }
    }
    this.items.push(item);
  }

  /** No more items will come (e.g. the socket closed): pending and later waits fail fast. */
  end(err) {
    if (this.endError) return;
    this.endError = err;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`${err.message} (while waiting for ${w.what})`));
    }
  }

  /** Next item matching pred (default: any), removing it from the buffer. */
  take(pred = () => true, timeoutMs = 5000, what = this.name) {
    const i = this.items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]);
    if (this.endError) return Promise.reject(new Error(`${this.endError.message} (while waiting for ${what})`));
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what };
      w.timer = setTimeout(() => {
        const j = this.waiters.indexOf(w);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  next(timeoutMs = 5000) {
    return this.take(() => true, timeoutMs, this.name);
  }

  /** Items buffered and not yet taken. */
  pending() {
    return this.items.slice();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { TimeoutError, withTimeout, waitUntil, EventQueue, sleep };
