'use strict';
// One request's answer: the `res` a handler gets, and the rules that turn whatever the handler
// did (returned a value, threw, streamed, was cancelled) into exactly one final frame, the one
// that frees the request's slot in the supervisor.
//
//   OPEN ──start/write/sse/ndjson──▶ STREAMING ──end / handler settles──▶ DONE (StreamEnd)
//   OPEN ──handler returns {status, headers, body} / end()────────────────▶ DONE (Response)
//
// The request finishes at res.end() or when the handler's promise settles, whichever comes
// first. After a Cancel nothing more is sent for the request except that final frame.

const { checkStatus, toHeaderList, hasHeader } = require('./rules');
const { sseEvent, ndjsonLine } = require('./format');
const { asBuffer } = require('./bytes');
const frames = require('./frames');

const OPEN = 0;
const STREAMING = 1;
const DONE = 2;

const SENT = Promise.resolve(true);
const DROPPED = Promise.resolve(false);
const CANCEL_CODES = ['CLIENT_GONE', 'TIMEOUT', 'SHUTDOWN']; // Cancel.Reason, by number
const STREAM_CHUNK = 1 << 20; // largest StreamData we write (smaller if max_frame is)
const FRAME_OVERHEAD = 64;    // ids, tags, lengths around a body or a chunk
const ERROR_HEADERS = [{ name: 'content-type', value: Buffer.from('text/plain; charset=utf-8') }];
const ERROR_BODY = Buffer.from('Internal Server Error\n');

// Why a request's signal aborted: `code` is 'CLIENT_GONE', 'TIMEOUT' or 'SHUTDOWN'. Its name is
// AbortError, as fetch, timers/promises and streams use for an abort.
class UhwCancelError extends Error {
  constructor(id, code) {
    super(`request ${id} cancelled by uhw: ${code.toLowerCase().replace('_', ' ')}`);
    this.name = 'AbortError';
    this.code = code;
  }
}

function toBytes(chunk) {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return asBuffer(chunk);
  if (chunk instanceof ArrayBuffer) return Buffer.from(chunk);
  if (chunk == null) return Buffer.alloc(0);
  throw new TypeError(`uhw-worker: body must be a string, a Buffer or a Uint8Array, not ${typeof chunk}`);
}

// A body the SDK streams for the handler: a Node Readable, a web ReadableStream, an async generator.
function isStreamable(body) {
  return body != null && typeof body === 'object' && !(body instanceof Uint8Array) && typeof body[Symbol.asyncIterator] === 'function';
}

function headerBytes(list) {
  let n = 0;
  for (const h of list) n += h.name.length + h.value.length + 8;
  return n;
}

// The text of a StreamEnd error: short (uhw logs it), never empty (empty means a clean end).
function errorText(error) {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return (text || 'error').slice(0, 1024);
}

class UhwResponse {
  // `port` is the worker: send(frame), writable(), log(level, message, id), finished(res), maxFrame.
  constructor(port, id, label) {
    this.id = id;
    this._port = port;
    this._label = label;           // "GET /path", for log lines
    this._state = OPEN;
    this._cancel = null;           // UhwCancelError once cancelled
    this._controller = null;       // AbortController, made on first use of `signal`
    this._chunk = Math.max(1, Math.min(STREAM_CHUNK, port.maxFrame - FRAME_OVERHEAD));
  }

  get started() {
    return this._state !== OPEN;
  }

  get finished() {
    return this._state === DONE;
  }

  get cancelled() {
    return this._cancel !== null;
  }

  get signal() {
    if (this._controller === null) {
      this._controller = new AbortController();
      if (this._cancel !== null) this._controller.abort(this._cancel);
    }
    return this._controller.signal;
  }

  // Starts a streamed response (StreamStart). Throws on an invalid status or header, or when
  // the response was already started or finished.
  start(status = 200, headers = undefined) {
    if (this._state !== OPEN) throw new Error(`uhw-worker: res.start(): the response was already ${this._state === DONE ? 'finished' : 'started'}`);
    const st = checkStatus(status);
    const list = toHeaderList(headers);
    if (this._cancel === null) this._port.send(frames.streamStart(this.id, st, list));
    this._state = STREAMING;
    return this;
  }

  // Sends body bytes (a string is sent as UTF-8), starting the stream with 200 if needed.
  // Resolves to true once the pipe to uhw can take more (await it: that is backpressure), or
  // to false when the request was cancelled and the data dropped.
  write(chunk) {
    if (this._state === DONE) throw new Error('uhw-worker: res.write() after the response finished');
    const data = toBytes(chunk);
    if (this._state === OPEN) this.start(200);
    if (this._cancel !== null) return DROPPED;
    for (let off = 0; off < data.length; off += this._chunk) {
      const piece = off === 0 && data.length <= this._chunk ? data : data.subarray(off, off + this._chunk);
      this._port.send(frames.streamData(this.id, piece));
    }
    const wait = this._port.writable();
    return wait === null ? SENT : wait.then(() => this._cancel === null);
  }

  // One Server-Sent Event ({event, id, data, retry, comment} or a data string); starts the
  // stream as text/event-stream if needed.
  sse(event) {
    const text = sseEvent(event);
    if (this._state === OPEN) this.start(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    return this.write(text);
  }

  // One NDJSON line (the value as JSON); starts the stream as application/x-ndjson if needed.
  ndjson(value) {
    const text = ndjsonLine(value);
    if (this._state === OPEN) this.start(200, { 'content-type': 'application/x-ndjson' });
    return this.write(text);
  }

  // Ends the response. No argument: a clean end. An Error or a non-empty string: the stream is
  // aborted, so the client sees it truncated (a 500 if nothing was sent yet). Ending twice is
  // a no-op.
  end(error = undefined) {
    if (this._state === DONE) return;
    const failed = error !== undefined && error !== null && error !== '';
    if (this._state === OPEN) {
      if (failed) this._finish(this._errorResponse());
      else this._finish(frames.response(this.id, 200));
    } else {
      this._finish(frames.streamEnd(this.id, failed ? errorText(error) : ''));
    }
  }

  // KeepAlive: resets the request's timeout and the worker's stuck clock.
  keepAlive() {
    if (this._state !== DONE && this._cancel === null) this._port.send(frames.keepAlive(this.id));
  }

  log(level, message) {
    this._port.log(level, message, this.id);
  }

  // ------------------------------------------------------------ the worker's side

  // A Cancel arrived (reason: Cancel.Reason number).
  _cancelled(reason) {
    if (this._cancel !== null || this._state === DONE) return;
    this._cancel = new UhwCancelError(this.id, CANCEL_CODES[reason] || 'CLIENT_GONE');
    if (this._controller !== null) this._controller.abort(this._cancel);
  }

  // The handler returned (or its promise resolved to) `value`. May return a promise (a body to
  // stream). Throws what the handler got wrong; the caller passes that to _fail.
  _settle(value) {
    if (this._state === DONE) return undefined; // finished by res.end(): the value is not needed
    if (this._cancel !== null) return this.end();
    if (this._state === STREAMING) {
      if (value !== undefined && value !== null) throw new Error('the handler returned a response after starting a stream (res.start, write, sse or ndjson)');
      return this.end();
    }
    if (value === undefined || value === null || typeof value !== 'object')
      throw new TypeError(`the handler returned ${value === null ? 'null' : typeof value}, not {status, headers, body} (or stream with res)`);
    return this._respond(value);
  }

  _respond(value) {
    const status = value.status === undefined ? 200 : checkStatus(value.status);
    const headers = toHeaderList(value.headers);
    let body = value.body;
    if (value.json !== undefined) {
      body = JSON.stringify(value.json);
      if (!hasHeader(headers, 'content-type')) headers.push({ name: 'content-type', value: Buffer.from('application/json') });
    }
    if (isStreamable(body)) return this._pipe(status, headers, body);
    const bytes = toBytes(body);
    if (bytes.length + headerBytes(headers) + FRAME_OVERHEAD <= this._port.maxFrame) {
      this._finish(frames.response(this.id, status, headers, bytes));
      return undefined;
    }
    // Too large for one frame: the same bytes as a stream of chunks.
    this._port.send(frames.streamStart(this.id, status, headers));
    this._state = STREAMING;
    this.write(bytes);
    return this.end();
  }

  async _pipe(status, headers, source) {
    this._port.send(frames.streamStart(this.id, status, headers));
    this._state = STREAMING;
    for await (const chunk of source) {
      if (this._state === DONE) break; // res.end() was called meanwhile
      if (!(await this.write(chunk))) break; // cancelled: leaving the loop closes the source
    }
    this.end();
  }

  // The handler threw, or its promise rejected, or its answer was refused.
  _fail(err) {
    const aborted = this._cancel !== null && (err === this._cancel || (err instanceof Error && err.name === 'AbortError'));
    if (aborted) {
      this._port.log('debug', `${this._label}: handler stopped after its cancellation (${errorText(err)})`, this.id);
    } else {
      const what = err instanceof Error ? err.stack || String(err) : `non-Error thrown: ${String(err)}`;
      this._port.log('error', `${this._label}: handler failed: ${what}`, this.id);
    }
    if (this._state === DONE) return;
    if (this._state === STREAMING) this._finish(frames.streamEnd(this.id, aborted ? 'cancelled' : 'handler failed'));
    else this._finish(this._errorResponse());
  }

  _errorResponse() {
    if (this._cancel !== null) return frames.response(this.id, 500);
    return frames.response(this.id, 500, ERROR_HEADERS, ERROR_BODY);
  }

  // `frame`: the FromWorker that ends the request (a Response or a StreamEnd).
  _finish(frame) {
    this._state = DONE;
    if (this._cancel !== null) {
      // Only the end matters to uhw now (it frees the slot): no headers, no body.
      frame = frame.hasResponse() ? frames.response(this.id, 200) : frames.streamEnd(this.id, '');
    }
    this._port.send(frame);
    this._port.finished(this);
  }
}

module.exports = { UhwResponse, UhwCancelError };
