'use strict';
// Runs a worker script the way uhw does — its fds 0, 1 and 2 on pipes — and talks the protocol
// to it with the generated protobuf code: send ToWorker messages, await FromWorker messages,
// both as plain objects (messages.js).
//
// Pipes, not Node's child_process pipes: those are UNIX sockets, while uhw uses pipe(2). A FIFO
// is the same kernel pipe with a name, so the helper makes three in a temporary directory.
// `sockets: true` uses child_process's sockets instead (the stdio guard's other path).

const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const { v1 } = require('../lib/proto');
const { frame, plain, splitFrames } = require('./messages');

const SDK = path.resolve(__dirname, '..');
const WAIT_MS = 30000; // generous: a loaded machine is slow, and a hang fails anyway

// `code` is the body of a worker script; `SDK` names the package for require().
function workerScript(dir, code) {
  const file = path.join(dir, 'worker.js');
  fs.writeFileSync(file, `'use strict';\nconst SDK = ${JSON.stringify(SDK)};\n${code}\n`);
  return file;
}

function fifoPair(dir, name) {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

class WorkerProcess {
  constructor(code, { env = {}, sockets = false, args = [] } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uhw-node-test-'));
    const script = workerScript(this.dir, code);
    const childEnv = { ...process.env, UHW_PROTOCOL: '1', ...env };
    delete childEnv.NODE_TEST_CONTEXT; // the child is a worker, not a test file
    this.messages = [];      // every FromWorker message, in order, as plain objects
    this.frameSizes = [];    // their encoded lengths (without the prefix)
    this.waiters = [];
    this.stderrText = '';
    this.buf = Buffer.alloc(0);
    if (sockets) {
      this.child = spawn(process.execPath, [script, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      this.stdin = this.child.stdin;
      this.stdout = this.child.stdout;
      this.stderr = this.child.stderr;
    } else {
      const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
      const inPath = fifoPair(this.dir, 'in');
      const outPath = fifoPair(this.dir, 'out');
      const errPath = fifoPair(this.dir, 'err');
      // Open each FIFO's reading end first (non-blocking) so opening its writing end returns.
      const childIn = fs.openSync(inPath, O_RDONLY | O_NONBLOCK);
      const parentIn = fs.openSync(inPath, O_WRONLY);
      const parentOut = fs.openSync(outPath, O_RDONLY | O_NONBLOCK);
      const childOut = fs.openSync(outPath, O_WRONLY);
      const parentErr = fs.openSync(errPath, O_RDONLY | O_NONBLOCK);
      const childErr = fs.openSync(errPath, O_WRONLY);
      this.child = spawn(process.execPath, [script, ...args], { env: childEnv, stdio: [childIn, childOut, childErr] });
      for (const fd of [childIn, childOut, childErr]) fs.closeSync(fd);
      this.stdin = new net.Socket({ fd: parentIn, readable: false, writable: true });
      this.stdout = new net.Socket({ fd: parentOut, readable: true, writable: false });
      this.stderr = new net.Socket({ fd: parentErr, readable: true, writable: false });
    }
    this.stdin.on('error', () => {}); // the worker may be gone: EPIPE is the test's business
    this.stdout.on('data', (chunk) => this._onData(chunk));
    this.stderr.on('data', (chunk) => {
      this.stderrText += chunk.toString('utf8');
      this._wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    const streamsClosed = [this.stdout, this.stderr].map((s) => new Promise((r) => s.on('close', r)));
    this.done = Promise.all([this.exited, ...streamsClosed]).then(() => this._wake());
  }

  _onData(chunk) {
    const { frames, rest } = splitFrames(Buffer.concat([this.buf, chunk]));
    for (const f of frames) {
      this.messages.push(plain(v1.FromWorker.deserializeBinary(f)));
      this.frameSizes.push(f.length);
    }
    this.buf = rest;
    this._wake();
  }

  _wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  // Resolves when check() returns something other than undefined (re-checked on every event).
  async until(check, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline || (this.exitStatus && this.stdout.destroyed && this.stderr.destroyed)) {
        throw new Error(`timed out waiting for ${what}; messages: ${JSON.stringify(this.messages.map(brief))}; stderr: ${this.stderrText}`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.max(1, Math.min(250, deadline - Date.now())));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  // The first message (from index `from`) of kind `kind` matching `pred`.
  next(kind, pred = () => true, from = 0) {
    return this.until(() => this.messages.slice(from).find((m) => m.msg === kind && pred(m[kind])), `a ${kind} message`).then((m) => m[kind]);
  }

  // Every frame about request `id` up to and including its final frame (Response or StreamEnd).
  async exchange(id) {
    return this.until(() => {
      const mine = this.messages.filter((m) => ['response', 'streamStart', 'streamData', 'streamEnd', 'keepAlive'].includes(m.msg) && m[m.msg].id === id);
      const last = mine[mine.length - 1];
      return last && (last.msg === 'response' || last.msg === 'streamEnd') ? mine : undefined;
    }, `the end of request ${id}`);
  }

  // The exit status, once the process has exited (bounded: a hang fails the test).
  exit() {
    return this.until(() => this.exitStatus, 'the worker to exit');
  }

  waitStderr(re) {
    return this.until(() => (re.test(this.stderrText) ? this.stderrText : undefined), `stderr matching ${re}`);
  }

  send(obj) {
    this.stdin.write(frame(obj));
  }

  request(id, fields = {}) {
    this.send({ request: { id, method: 'GET', path: '/', ...fields } });
  }

  // EOF on the worker's stdin. Call it once the worker has sent Ready: a named FIFO reopened
  // (as the stdio guard does) after its last writer left never reports EOF to epoll, while
  // uhw's anonymous pipes always do.
  closeStdin() {
    this.stdin.end();
  }

  // Ends the test's hold on the process: stdin closed, then SIGKILL if it has not exited.
  async close() {
    if (!this.stdin.destroyed) this.stdin.end();
    if (!this.exitStatus) {
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(t);
    }
    await this.done;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function brief(m) {
  const body = m[m.msg];
  const out = { [m.msg]: {} };
  for (const k of Object.keys(body)) {
    const v = body[k];
    out[m.msg][k] = Buffer.isBuffer(v) ? v.toString('utf8').slice(0, 80) : v;
  }
  return out;
}

function header(msg, name) {
  const h = msg.headers.find((x) => x.name.toLowerCase() === name);
  return h === undefined ? undefined : h.value.toString('latin1');
}

module.exports = { WorkerProcess, frame, header, SDK, v1 };
