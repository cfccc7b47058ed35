'use strict';
// SSE and NDJSON text: what a browser's EventSource and a line reader will parse.
const test = require('node:test');
const assert = require('node:assert/strict');
const { sseEvent, ndjsonLine } = require('../lib/format');

test('an SSE event has its fields, one data line per line, and a blank line', () => {
  assert.equal(sseEvent({ event: 'tick', id: 7, data: 'a\nb\r\nc\rd', retry: 1500 }), 'event: tick\nid: 7\nretry: 1500\ndata: a\ndata: b\ndata: c\ndata: d\n\n');
});

test('a string is the data; empty data is one empty data line; no data is no data line', () => {
  assert.equal(sseEvent('hi'), 'data: hi\n\n');
  assert.equal(sseEvent({ data: '' }), 'data: \n\n');
  assert.equal(sseEvent({ event: 'ping' }), 'event: ping\n\n');
});

test('data that is not text is sent as JSON; Buffers as UTF-8', () => {
  assert.equal(sseEvent({ data: { a: [1, 'x'] } }), 'data: {"a":[1,"x"]}\n\n');
  assert.equal(sseEvent({ data: Buffer.from('é') }), 'data: é\n\n');
});

test('comments are ": " lines', () => {
  assert.equal(sseEvent({ comment: 'keep\nalive' }), ': keep\n: alive\n\n');
});

test('event and id with a line break, id with NUL, a bad retry are refused', () => {
  assert.throws(() => sseEvent({ event: 'a\nb' }), /CR or LF/);
  assert.throws(() => sseEvent({ id: 'a\rb' }), /CR or LF/);
  assert.throws(() => sseEvent({ id: 'a\0b' }), /NUL/);
  assert.throws(() => sseEvent({ retry: -1 }), /retry/);
  assert.throws(() => sseEvent({ retry: 1.5 }), /retry/);
  assert.throws(() => sseEvent(42), TypeError);
});

test('NDJSON: compact JSON and a newline; newlines inside strings stay escaped', () => {
  assert.equal(ndjsonLine({ a: 'x\ny' }), '{"a":"x\\ny"}\n');
  assert.equal(ndjsonLine([1, 2]), '[1,2]\n');
  assert.throws(() => ndjsonLine(undefined), TypeError);
});
