// Shared pieces of scripts/fuzz.js: per-case random streams, the classification of error
// messages, and the child processes that run cases (under an address-space cap, with a watchdog
// for time and runaway memory).
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');

const { mulberry32 } = require('../seeded-random');

/** A 32-bit hash of the seed, the campaign and the case index: every case has its own stream. */
function caseSeed(seed, campaign, index) {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of `${campaign}:${index}:${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** A small random toolkit over mulberry32. */
function makeRng(seed) {
  const next = mulberry32(seed);
  const rng = {
    next,
    /** An integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** An integer in [lo, hi]. */
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    /** One of `[weight, value]` pairs, by weight. */
    weighted: (pairs) => {
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, v] of pairs) {
        if ((r -= w) < 0) return v;
      }
      return pairs[pairs.length - 1][1];
    },
    bytes: (n) => {
      const out = Buffer.alloc(n);
      for (let k = 0; k < n; ++k) out[k] = Math.floor(next() * 256);
      return out;
    },
  };
  return rng;
}

// Messages that come from JavaScript's or the addon's internals rather than from a check that
// names the problem: an Error carrying one of them is "nonsense", not a clean refusal.
const INTERNAL_MESSAGES = [
  [/Cannot read propert(y|ies) of (undefined|null)/, 'a JS TypeError from inside the library'],
  [/Cannot set propert(y|ies) of (undefined|null)/, 'a JS TypeError from inside the library'],
  [/Maximum call stack size exceeded/, 'stack overflow'],
  [/is not a function/, 'a JS TypeError from inside the library'],
  [/is not a constructor/, 'a JS TypeError from inside the library'],
  [/is not iterable/, 'a JS TypeError from inside the library'],
  [/is not defined/, 'a JS ReferenceError from inside the library'],
  [/before initialization/, 'a JS ReferenceError from inside the library'],
  [/\[object Object\]/, 'an object printed as [object Object]'],
  [/Cannot convert a BigInt value to a number|Cannot mix BigInt/, "V8's BigInt conversion error (names no argument)"],
  [/Cannot convert a Symbol value/, "V8's Symbol conversion error (names no argument)"],
  [/^Invalid array length$|^Invalid typed array length|^Array buffer allocation failed|^Invalid string length$/, "V8's allocation error (names no argument)"],
  [/^(A|An) (number|string|boolean|array|object|function|bigint) was expected$/, "N-API's default conversion message (names no argument)"],
  [/^Invalid argument$|napi_/, 'an N-API status message'],
  [/std::bad_alloc|bad_array_new_length|basic_string|vector::_M_|std::length_error|std::out_of_range|^vector$|^map::at$/, 'a bare C++ exception message'],
  [/INTERNAL ASSERT FAILED/, "a libtorch internal assert (input reached libtorch's own invariants)"],
  [/Exception raised from .* at |frame #\d+:/, 'a C++ backtrace inside the message'],
  [/^undefined$|^null$|^NaN$/, 'a message that is only undefined/null/NaN'],
];

/**
 * Whether a caught value is a clean refusal: an Error with a non-empty message that is not one
 * of the internal-looking ones. Returns null when clean, else why not.
 */
function judgeError(err) {
  if (err === null || typeof err !== 'object' || typeof err.message !== 'string') {
    return `threw a non-Error value (${typeof err}: ${String(err).slice(0, 80)})`;
  }
  const message = err.message.trim();
  if (message === '') return `threw ${err.name || 'an Error'} with an empty message`;
  for (const [pattern, why] of INTERNAL_MESSAGES) if (pattern.test(message)) return why;
  return null;
}

/** One line of a message, shortened. */
function oneLine(text, max = 240) {
  const line = String(text).replace(/\s*\n\s*/g, ' | ');
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/** The resident memory of a process in bytes (0 when it is gone). */
function rssOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

let capTool;

/**
 * How to run a command under an address-space limit (RLIMIT_AS) of `bytes`: an allocation past
 * it fails where it is made (libtorch's DefaultCPUAllocator throws "can't allocate memory"), as
 * it would on a machine with less memory, rather than the child growing until something kills
 * it. util-linux's prlimit, else a shell's `ulimit -v`; both exec the command, so its pid is the
 * child's. Returns { command, args, how }, with how null when neither is available (then only
 * the RSS watchdog guards the machine).
 */
function underAddressSpaceCap(command, args, bytes) {
  if (capTool === undefined) {
    if (spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0) capTool = 'prlimit';
    else if (spawnSync('/bin/sh', ['-c', 'ulimit -v 4194304'], { stdio: 'ignore' }).status === 0) capTool = 'ulimit';
    else capTool = null;
  }
  if (capTool === 'prlimit') return { command: 'prlimit', args: [`--as=${bytes}`, '--', command, ...args], how: 'prlimit --as' };
  if (capTool === 'ulimit') {
    // $0 is the command and "$@" its arguments: no quoting of paths.
    return { command: '/bin/sh', args: ['-c', `ulimit -v ${Math.floor(bytes / 1024)} && exec "$0" "$@"`, command, ...args], how: 'ulimit -v' };
  }
  return { command, args, how: null };
}

const PROTOCOL_PREFIX = '@@FUZZ ';

/**
 * A child process that runs cases one at a time (scripts/fuzz/worker.js), under an address-space
 * cap of `addressSpace` bytes when given. Each case is a line of JSON on its stdin; the child
 * answers `start` and `end` lines. A case ends as { kind: 'done', result } or, when the child
 * dies or is killed, as 'crash', 'hang' or 'memory' (resident memory above `memoryLimit`: growth
 * the cap did not stop); the child is then gone and `run` starts a new one for the next case.
 */
class CaseChild {
  constructor(args, { env, cwd, memoryLimit, addressSpace }) {
    this.args = args;
    this.env = env;
    this.cwd = cwd;
    this.memoryLimit = memoryLimit;
    this.addressSpace = addressSpace;
    this.proc = null;
    this.starts = 0;
  }

  async start() {
    this.starts += 1;
    const run = this.addressSpace === undefined ? { command: process.execPath, args: this.args }
      : underAddressSpaceCap(process.execPath, this.args, this.addressSpace);
    const proc = spawn(run.command, run.args, { env: this.env, cwd: this.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.stderr = '';
    this.pending = null;
    this.exited = null;
    let buffered = '';
    proc.stdout.setEncoding('utf8');
    // A killed child's last events arrive after its successor started: ignore them.
    proc.stdout.on('data', (chunk) => {
      if (this.proc !== proc) return;
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith(PROTOCOL_PREFIX)) continue; // the library's own output
        let message;
        try {
          message = JSON.parse(line.slice(PROTOCOL_PREFIX.length));
        } catch {
          continue;
        }
        if (this.pending) this.pending.onMessage(message);
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      if (this.proc !== proc) return;
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    proc.stdin.on('error', () => {}); // EPIPE when it died
    proc.on('exit', (code, signal) => {
      if (this.proc !== proc) return;
      this.exited = { code, signal };
      if (this.pending) this.pending.onExit(code, signal);
    });
    const ready = await this.waitFor((m) => m.ev === 'ready', 60000);
    if (ready.kind !== 'message') {
      const why = ready.kind === 'exit' ? `exited (${ready.signal || `code ${ready.code}`})` : 'did not start within 60 s';
      this.kill();
      throw new Error(`the worker ${why}: ${oneLine(this.stderr, 600)}`);
    }
    return ready.message;
  }

  // Waits for a message matching `want`, the child's exit, the deadline, or too much memory.
  waitFor(want, timeoutMs) {
    return new Promise((resolve) => {
      let peak = 0;
      const finish = (outcome) => {
        clearTimeout(timer);
        clearInterval(watch);
        this.pending = null;
        resolve({ ...outcome, peakRss: peak });
      };
      const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
      const watch = setInterval(() => {
        if (!this.proc || this.memoryLimit === undefined) return;
        const rss = rssOf(this.proc.pid);
        peak = Math.max(peak, rss);
        if (rss > this.memoryLimit) finish({ kind: 'memory', rss });
      }, 25);
      this.pending = {
        onMessage: (m) => { if (want(m)) finish({ kind: 'message', message: m }); },
        onExit: (code, signal) => finish({ kind: 'exit', code, signal }),
      };
      if (this.exited) finish({ kind: 'exit', ...this.exited });
    });
  }

  kill() {
    if (this.proc && this.exited === null) {
      try {
        this.proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.proc = null;
  }

  /** Runs one case; restarts the child first when the last one died. */
  async run(caseMessage, timeoutMs) {
    if (this.proc === null || this.exited !== null) await this.start();
    this.stderr = '';
    const i = caseMessage.i;
    this.proc.stdin.write(`${JSON.stringify(caseMessage)}\n`);
    const outcome = await this.waitFor((m) => m.ev === 'end' && m.i === i, timeoutMs);
    const stderr = this.stderr;
    if (outcome.kind === 'message') return { kind: 'done', result: outcome.message, stderr, peakRss: outcome.peakRss };
    if (outcome.kind === 'exit') {
      // the child died during the case: let the rest of its stderr arrive
      await new Promise((r) => setTimeout(r, 50));
      const tail = this.stderr;
      this.kill();
      return { kind: 'crash', code: outcome.code, signal: outcome.signal, stderr: tail };
    }
    this.kill();
    if (outcome.kind === 'timeout') return { kind: 'hang', stderr };
    return { kind: 'memory', rss: outcome.rss, stderr };
  }

  close() {
    if (this.proc && this.exited === null) {
      this.proc.stdin.end();
      const proc = this.proc;
      setTimeout(() => { if (this.exited === null) proc.kill('SIGKILL'); }, 2000).unref();
    }
  }
}

module.exports = { caseSeed, makeRng, judgeError, oneLine, rssOf, underAddressSpaceCap, CaseChild, PROTOCOL_PREFIX };
