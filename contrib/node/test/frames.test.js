'use strict';
// The FromWorker frames the SDK builds (lib/frames.js), as the supervisor will decode them.
const test = require('node:test');
const assert = require('node:assert/strict');
const { v1 } = require('../lib/proto');
const frames = require('../lib/frames');
const { plain } = require('./messages');

const decode = (message) => plain(v1.FromWorker.deserializeBinary(message.serializeBinary()));

test('each frame carries what it was given', () => {
  const headers = [{ name: 'content-type', value: Buffer.from('text/plain') }];
  assert.deepEqual(decode(frames.ready(8, 'info')), { msg: 'ready', ready: { protocol: 1, concurrency: 8, info: 'info' } });
  assert.deepEqual(decode(frames.log(3, 'oops', 7)), { msg: 'log', log: { level: 3, message: 'oops', id: 7 } });
  assert.deepEqual(decode(frames.capacity(0)), { msg: 'capacity', capacity: { concurrency: 0 } });
  assert.deepEqual(decode(frames.response(1, 201, headers, Buffer.from('hi'))),
    { msg: 'response', response: { id: 1, status: 201, headers, body: Buffer.from('hi') } });
  assert.deepEqual(decode(frames.response(2, 200)), { msg: 'response', response: { id: 2, status: 200, headers: [], body: Buffer.alloc(0) } });
  assert.deepEqual(decode(frames.streamStart(3, 200, headers)), { msg: 'streamStart', streamStart: { id: 3, status: 200, headers } });
  assert.deepEqual(decode(frames.streamData(3, Buffer.from([0, 255]))), { msg: 'streamData', streamData: { id: 3, data: Buffer.from([0, 255]) } });
  assert.deepEqual(decode(frames.streamEnd(3, '')), { msg: 'streamEnd', streamEnd: { id: 3, error: '' } });
  assert.deepEqual(decode(frames.keepAlive(4)), { msg: 'keepAlive', keepAlive: { id: 4 } });
});

// google-protobuf throws on a string it cannot encode as UTF-8; a log line cut in the middle of
// a surrogate pair, or an exception's message, must not make sending fail.
test('unpaired surrogates in text become U+FFFD instead of throwing', () => {
  const cut = '😀'.slice(0, 1); // the high half
  assert.throws(() => new v1.Log().setMessage(`a${cut}`).serializeBinary(), /surrogate/, 'google-protobuf refuses them');
  assert.equal(decode(frames.log(1, `a${cut}b\uDC00`, 0)).log.message, 'a\uFFFDb\uFFFD');
  assert.equal(decode(frames.streamEnd(1, `${cut}`)).streamEnd.error, '\uFFFD');
  assert.equal(decode(frames.ready(1, `i${cut}`)).ready.info, 'i\uFFFD');
  assert.equal(decode(frames.log(1, '😀 ok', 0)).log.message, '😀 ok', 'pairs are kept');
});

test('without String.prototype.toWellFormed (Node < 20), the same', (t) => {
  const saved = Object.getOwnPropertyDescriptor(String.prototype, 'toWellFormed');
  if (saved !== undefined) {
    delete String.prototype.toWellFormed;
    t.after(() => Object.defineProperty(String.prototype, 'toWellFormed', saved));
  }
  assert.equal(frames.wellFormed('\uDC00a\uD800'), '\uFFFDa\uFFFD');
  assert.equal(frames.wellFormed('😀\uD83D\uDE00x'), '😀😀x');
});
