'use strict';
// The response rules of proto/rules.h, refused in the SDK before uhw would kill the worker.
const test = require('node:test');
const assert = require('node:assert/strict');
const { checkStatus, toHeaderList } = require('../lib/rules');

test('statuses 200..599 pass, others are refused', () => {
  for (const s of [200, 204, 302, 404, 599]) assert.equal(checkStatus(s), s);
  for (const s of [0, 100, 199, 600, 200.5, '200', null, NaN]) assert.throws(() => checkStatus(s), RangeError, String(s));
});

test('headers in every shape become {name, value: Buffer}; arrays repeat a name', () => {
  const expect = [['a', '1'], ['b', '2'], ['b', '3']];
  const shapes = [{ a: '1', b: ['2', '3'] }, [['a', '1'], ['b', '2'], ['b', '3']], new Map([['a', 1], ['b', ['2', '3']]])];
  if (typeof Headers === 'function') {
    const h = new Headers([['a', '1'], ['b', '2']]);
    assert.deepEqual(toHeaderList(h).map((x) => [x.name, x.value.toString()]), [['a', '1'], ['b', '2']]);
  }
  for (const shape of shapes) {
    assert.deepEqual(toHeaderList(shape).map((x) => [x.name, x.value.toString()]), expect);
  }
  assert.deepEqual(toHeaderList(undefined), []);
  assert.deepEqual(toHeaderList({ skipped: undefined }), []);
});

test('values: strings as latin1, Buffers as they are, tab allowed', () => {
  const [h] = toHeaderList({ x: 'caf\u00e9\tok' });
  assert.deepEqual([...h.value], [0x63, 0x61, 0x66, 0xe9, 0x09, 0x6f, 0x6b]);
  const utf8 = Buffer.from('\u2603');
  assert.equal(toHeaderList({ x: utf8 })[0].value, utf8);
});

test('names that are not tokens, and hop-by-hop headers, are refused', () => {
  for (const name of ['', 'a b', 'a:b', 'é', 'a\r\nb', 'x\0']) assert.throws(() => toHeaderList([[name, 'v']]), TypeError, JSON.stringify(name));
  for (const name of ['Connection', 'keep-alive', 'Proxy-Connection', 'transfer-encoding', 'TE', 'trailer', 'upgrade']) {
    assert.throws(() => toHeaderList({ [name]: 'x' }), /hop-by-hop/, name);
  }
});

test('values with control bytes (CR, LF, NUL, DEL) or above U+00FF are refused', () => {
  for (const v of ['a\rb', 'a\nb', 'a\0b', 'a\x7fb', 'a\x01', '\u2603']) assert.throws(() => toHeaderList({ x: v }), TypeError, JSON.stringify(v));
  assert.throws(() => toHeaderList({ x: Buffer.from('a\r\nSet-Cookie: y') }), TypeError);
  assert.throws(() => toHeaderList({ x: {} }), TypeError);
  assert.throws(() => toHeaderList([['only-a-name']]), TypeError);
});
