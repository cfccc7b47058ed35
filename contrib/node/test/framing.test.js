'use strict';
// Framing in isolation: where frames start and end whatever the chunking, and how output is
// batched. (worker.test.js checks the same through real pipes.)
const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('stream');
const { FrameReader, FrameWriter, ProtocolError } = require('../lib/framing');
const { UhwRequest } = require('../lib/request');
const { v1 } = require('../lib/proto');
const { build, plain, frame } = require('./messages');

const messages = [
  { request: { id: 1, method: 'GET', path: '/a', headers: [{ name: 'host', value: Buffer.from('x') }] } },
  { cancel: { id: 1, reason: 1 } },
  { request: { id: 300, method: 'POST', path: '/b', body: Buffer.alloc(200, 7) } }, // a 2-byte length prefix
  { configure: { settings: [{ key: 'k', value: 'v' }] } },
  {},                                                                                // an empty frame
  { shutdown: { graceMs: 5 } },
];
const stream = Buffer.concat(messages.map(frame));

function summary(message) {
  const m = plain(message);
  switch (m.msg) {
    case 'request': return `request ${m.request.id} ${m.request.method} ${m.request.path} ${m.request.body.length}`;
    case 'cancel': return `cancel ${m.cancel.id} ${m.cancel.reason}`;
    case 'configure': return `configure ${m.configure.settings.map((s) => `${s.key}=${s.value}`)}`;
    case 'shutdown': return `shutdown ${m.shutdown.graceMs}`;
    default: return 'none';
  }
}
const expected = ['request 1 GET /a 0', 'cancel 1 1', 'request 300 POST /b 200', 'configure k=v', 'none', 'shutdown 5'];

function readAll(chunks) {
  const got = [];
  const r = new FrameReader(v1.ToWorker, 1 << 20, (m) => got.push(summary(m)));
  for (const c of chunks) r.push(c);
  assert.equal(r.pending, 0);
  return got;
}

test('all frames in one chunk', () => {
  assert.deepEqual(readAll([stream]), expected);
});

test('the stream split in two at every byte offset', () => {
  for (let i = 1; i < stream.length; ++i) {
    assert.deepEqual(readAll([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
  }
});

test('the stream split in three at every pair of offsets inside the first frames', () => {
  const limit = Math.min(stream.length - 1, 40);
  for (let i = 1; i < limit; ++i) {
    for (let j = i + 1; j < stream.length; j += 7) {
      assert.deepEqual(readAll([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]), expected, `split at ${i}, ${j}`);
    }
  }
});

test('one byte at a time', () => {
  const chunks = [];
  for (let i = 0; i < stream.length; ++i) chunks.push(stream.subarray(i, i + 1));
  assert.deepEqual(readAll(chunks), expected);
});

test('a frame longer than the limit is refused as soon as its length is read', () => {
  const big = frame({ request: { id: 1, body: Buffer.alloc(5000) } });
  const r = new FrameReader(v1.ToWorker, 4096, () => assert.fail('no message expected'));
  assert.throws(() => r.push(big.subarray(0, 2)), ProtocolError);
});

test('bytes that do not decode, and runaway length prefixes, are protocol errors', () => {
  const r1 = new FrameReader(v1.ToWorker, 1 << 20, () => {});
  assert.throws(() => r1.push(Buffer.from([3, 0xff, 0xff, 0xff])), ProtocolError);
  const r2 = new FrameReader(v1.ToWorker, 1 << 20, () => {});
  assert.throws(() => r2.push(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), ProtocolError);
  const r3 = new FrameReader(v1.ToWorker, 2 ** 31 - 1, () => {});
  assert.throws(() => r3.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), ProtocolError);
});

test('bodies and header values are views into the chunk read, not copies', () => {
  const chunk = frame({ request: { id: 1, headers: [{ name: 'h', value: Buffer.from('v') }], body: Buffer.from('body') } });
  let request;
  new FrameReader(v1.ToWorker, 1 << 20, (m) => (request = m.getRequest())).push(chunk);
  const req = new UhwRequest(request, null);
  assert.ok(Buffer.isBuffer(req.body));
  assert.equal(req.body.toString(), 'body');
  assert.equal(req.body.buffer, chunk.buffer, 'the body shares the chunk\'s memory');
  assert.equal(request.getHeadersList()[0].getValue_asU8().buffer, chunk.buffer);
});

// A Writable that records each write call: how many system calls the real pipe would get.
class Recorder extends Writable {
  constructor() {
    super({ highWaterMark: 1024 });
    this.calls = [];
  }
  _write(chunk, enc, cb) {
    this.calls.push([chunk]);
    cb();
  }
  _writev(chunks, cb) {
    this.calls.push(chunks.map((c) => c.chunk));
    cb();
  }
}

test('frames sent in the same tick leave in one write, in order, whole', async () => {
  const out = new Recorder();
  const w = new FrameWriter(v1.FromWorker, out, 1 << 20);
  for (let id = 1; id <= 50; ++id) w.send(build(v1.FromWorker, { response: { id, status: 200, body: Buffer.from(`r${id}`) } }));
  assert.equal(out.calls.length, 0, 'nothing is written before the tick ends');
  await new Promise((r) => setImmediate(r));
  assert.equal(out.calls.length, 1);
  const bytes = Buffer.concat(out.calls[0]);
  const got = [];
  new FrameReader(v1.FromWorker, 1 << 20, (m) => got.push(`${m.getResponse().getId()}:${Buffer.from(m.getResponse().getBody_asU8())}`)).push(bytes);
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `${i + 1}:r${i + 1}`));
});

test('a frame over max_frame throws and queues nothing', async () => {
  const out = new Recorder();
  const w = new FrameWriter(v1.FromWorker, out, 1024);
  assert.throws(() => w.send(build(v1.FromWorker, { response: { id: 1, body: Buffer.alloc(2000) } })), RangeError);
  w.send(build(v1.FromWorker, { response: { id: 2, body: Buffer.alloc(900) } }));
  await new Promise((r) => setImmediate(r));
  assert.equal(out.calls.flat().length, 1);
});

test('writable() waits for drain once the stream is above its high-water mark', async () => {
  let release;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk, enc, cb) {
      release = cb;
    },
  });
  const w = new FrameWriter(v1.FromWorker, slow, 1 << 20);
  assert.equal(w.writable(), null);
  w.send(build(v1.FromWorker, { streamData: { id: 1, data: Buffer.alloc(4000) } }));
  const wait = w.writable();
  assert.ok(wait instanceof Promise);
  let resolved = false;
  wait.then(() => (resolved = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false);
  release();
  await wait;
  assert.equal(w.writable(), null);
});
