'use strict';
// The worker's life (DESIGN.md §2): announce Ready, take Request frames and run the handler
// for each, many at once; pass on Cancel, Configure and Shutdown; exit 0 once stopping and
// nothing is left in flight.

const fs = require('fs');
const net = require('net');
const { FrameReader, FrameWriter } = require('./framing');
const { claimStdio } = require('./stdio');
const { v1 } = require('./proto');
const frames = require('./frames');
const { UhwRequest } = require('./request');
const { UhwResponse } = require('./response');

const Case = v1.ToWorker.MsgCase;

const LEVELS = { debug: 0, info: 1, warning: 2, warn: 2, error: 3, critical: 4 };
const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;
// Frames from uhw are bounded by what it admits (max_body and the headers), not by max_frame;
// this bound only stops a corrupt length prefix from making us buffer without end.
const MAX_IN_FRAME = 2 ** 31 - 1;
const MAX_LOG = 16 * 1024; // characters; uhw shows 8 KiB of a log line

function levelNumber(level) {
  if (Number.isInteger(level) && level >= 0 && level <= 4) return level;
  const n = LEVELS[String(level).toLowerCase()];
  if (n === undefined) throw new TypeError(`uhw-worker: unknown log level ${String(level)} (debug, info, warning, error, critical)`);
  return n;
}

function maxFrameFromEnv() {
  const n = Number(process.env.UHW_MAX_FRAME);
  return Number.isInteger(n) && n >= 1024 ? n : DEFAULT_MAX_FRAME;
}

// A stream over a protocol descriptor: a pipe or a socket (as under uhw) goes through libuv's
// non-blocking pipe handle; anything else (a file, /dev/null, a terminal: a worker run by hand)
// through fs streams.
function fdStream(fd, writable) {
  let piped = false;
  try {
    const st = fs.fstatSync(fd);
    piped = st.isFIFO() || st.isSocket();
  } catch {
    // not open: the stream reports the error
  }
  if (piped) return new net.Socket({ fd, readable: !writable, writable });
  return writable ? fs.createWriteStream(null, { fd }) : fs.createReadStream(null, { fd });
}

// The output side, shared by log() before serve() and by the worker: fd 1 (or the private
// descriptor the stdio guard moved it to), written asynchronously so a full pipe never blocks
// the event loop.
let output = null;

function openOutput() {
  if (output !== null) return output;
  const { inFd, outFd } = claimStdio();
  const stream = fdStream(outFd, true);
  // EPIPE and friends: uhw is gone, nobody is left to answer.
  stream.on('error', () => process.exit(0));
  output = { inFd, writer: new FrameWriter(v1.FromWorker, stream, maxFrameFromEnv()) };
  return output;
}

function sendLog(level, message, id = 0) {
  const { writer } = openOutput();
  // Bounded so that even the smallest max_frame (1 KiB) takes it: up to 3 UTF-8 bytes a character.
  const max = Math.min(MAX_LOG, Math.floor((writer.maxFrame - 64) / 3));
  let text = message instanceof Error ? message.stack || String(message) : String(message);
  if (text.length > max) text = `${text.slice(0, max - 1)}…`;
  writer.send(frames.log(levelNumber(level), text, id));
}

class Worker {
  constructor(handler, options = {}) {
    if (typeof handler !== 'function') throw new TypeError('uhw-worker: serve(handler): handler must be a function (req, res) => response');
    const concurrency = options.concurrency === undefined ? 64 : options.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('uhw-worker: concurrency must be an integer >= 1');
    this.handler = handler;
    this.concurrency = concurrency;
    this.info = options.info === undefined ? `node ${process.version}` : String(options.info);
    this.onConfigure = options.onConfigure || null;
    this.onShutdown = options.onShutdown || null;
    this.settings = Object.freeze({});
    this.stopping = false;
    this.open = new Map();       // id → UhwResponse, until its final frame
    this._exitWaits = [];        // promises returned by onShutdown
    this._exiting = false;
    const out = openOutput();
    this.writer = out.writer;
    this.maxFrame = this.writer.maxFrame;
    this.inFd = out.inFd;
  }

  start() {
    this.writer.send(frames.ready(this.concurrency, this.info));
    const reader = new FrameReader(v1.ToWorker, MAX_IN_FRAME, (m) => this._onMessage(m));
    this.input = fdStream(this.inFd, false);
    this.input.on('data', (chunk) => {
      try {
        reader.push(chunk);
      } catch (err) {
        // The stream cannot be resynchronised: stop, and let uhw fail what we hold.
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      }
    });
    this.input.on('end', () => {
      if (reader.pending > 0) process.stderr.write(`uhw-worker: stdin ended inside a frame (${reader.pending} bytes)\n`);
      this._stop(0);
    });
    this.input.on('error', (err) => {
      process.stderr.write(`uhw-worker: reading stdin: ${err.message}\n`);
      this._stop(0);
    });
    process.on('exit', (code) => {
      if (this.open.size > 0 && code === 0) {
        process.stderr.write(`uhw-worker: exiting with ${this.open.size} request(s) unfinished: their handlers never settled\n`);
        process.exitCode = 1;
      }
    });
    return this;
  }

  // `msg`: a v1.ToWorker.
  _onMessage(msg) {
    switch (msg.getMsgCase()) {
      case Case.REQUEST:
        this._run(msg.getRequest());
        break;
      case Case.CANCEL: {
        const cancel = msg.getCancel();
        const res = this.open.get(cancel.getId());
        if (res !== undefined) res._cancelled(cancel.getReason());
        break;
      }
      case Case.CONFIGURE: {
        const settings = {};
        for (const s of msg.getConfigure().getSettingsList()) settings[s.getKey()] = s.getValue();
        this.settings = Object.freeze(settings);
        if (this.onConfigure !== null) this._hook(() => this.onConfigure(this.settings), 'onConfigure');
        break;
      }
      case Case.SHUTDOWN:
        this._stop(msg.getShutdown().getGraceMs());
        break;
      default:
        break; // a message of a newer protocol revision (or none): ignore it
    }
  }

  _run(msg) {
    const res = new UhwResponse(this, msg.getId(), `${msg.getMethod()} ${msg.getPath()}`);
    const req = new UhwRequest(msg, res);
    this.open.set(res.id, res);
    let result;
    try {
      result = this.handler(req, res);
    } catch (err) {
      res._fail(err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then((value) => this._settle(res, value), (err) => res._fail(err));
    } else {
      this._settle(res, result);
    }
  }

  _settle(res, value) {
    try {
      const pending = res._settle(value);
      if (pending !== undefined) pending.catch((err) => res._fail(err));
    } catch (err) {
      res._fail(err);
    }
  }

  // Calls an application hook; a throw or rejection is logged, never fatal.
  _hook(fn, name) {
    try {
      const r = fn();
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        const logged = r.then(undefined, (err) => sendLog('error', `${name} failed: ${err && err.stack ? err.stack : String(err)}`));
        return logged;
      }
    } catch (err) {
      sendLog('error', `${name} failed: ${err && err.stack ? err.stack : String(err)}`);
    }
    return undefined;
  }

  // Shutdown (grace_ms) or EOF on stdin (0): take nothing new, finish what is open, exit 0.
  _stop(graceMs) {
    if (this.stopping) {
      this._maybeExit();
      return;
    }
    this.stopping = true;
    if (this.onShutdown !== null) {
      const wait = this._hook(() => this.onShutdown(graceMs), 'onShutdown');
      if (wait !== undefined) this._exitWaits.push(wait);
    }
    this._maybeExit();
  }

  _maybeExit() {
    if (!this.stopping || this.open.size > 0 || this._exiting) return;
    this._exiting = true;
    Promise.all(this._exitWaits).then(() => {
      if (this.open.size > 0) {
        this._exiting = false; // a request came in meanwhile: its end calls us again
        return;
      }
      this.writer.end(() => process.exit(0));
    });
  }

  // ------------------------------------------------------------ the port UhwResponse uses

  send(frame) {
    this.writer.send(frame);
  }

  writable() {
    return this.writer.writable();
  }

  log(level, message, id) {
    sendLog(level, message, id);
  }

  finished(res) {
    this.open.delete(res.id);
    if (this.stopping) this._maybeExit();
  }

  // ------------------------------------------------------------ the application's controls

  // Capacity frame: 0 pauses the worker (uhw sends it no new requests), n > 0 resumes.
  setCapacity(n) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError('uhw-worker: setCapacity(n): n must be an integer >= 0');
    this.writer.send(frames.capacity(n));
  }

  pause() {
    this.setCapacity(0);
  }

  resume() {
    this.setCapacity(this.concurrency);
  }
}

module.exports = { Worker, sendLog, openOutput };
