'use strict';
// What a worker may put in a response: the rules of proto/rules.h, which the supervisor
// enforces by killing the worker (and failing every request it holds). Refusing here, with an
// exception thrown to the code that tried, costs one request instead.
//
//   status   an integer 200..599 (1xx is h2o's business, not a worker's)
//   name     a non-empty HTTP token (RFC 9110 §5.1), not hop-by-hop
//   value    field-content (RFC 9110 §5.5): no control bytes except HTAB
//
// Header values given as strings are sent as latin1, like Node's http module does (and like
// request headers are decoded): one character, one byte. A character above U+00FF has no byte,
// so it is refused rather than mangled; pass a Buffer to send other bytes (UTF-8, say).

const { asBuffer } = require('./bytes');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;

function checkStatus(status) {
  if (!Number.isInteger(status) || status < 200 || status > 599)
    throw new RangeError(`uhw-worker: invalid status ${String(status)} (a worker answers 200..599)`);
  return status;
}

function checkName(name) {
  if (typeof name !== 'string' || !TOKEN.test(name))
    throw new TypeError(`uhw-worker: invalid header name ${JSON.stringify(String(name))} (not an HTTP token)`);
  if (HOP_BY_HOP.has(name.toLowerCase()))
    throw new TypeError(`uhw-worker: hop-by-hop header ${JSON.stringify(name)} refused (uhw manages the connection)`);
}

function badByte(bytes) {
  for (let i = 0; i < bytes.length; ++i) {
    const b = bytes[i];
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) return true;
  }
  return false;
}

// One header value as the bytes to send.
function valueBytes(name, value) {
  if (typeof value === 'string') {
    if (BAD_VALUE_CHAR.test(value))
      throw new TypeError(`uhw-worker: header ${name}: value with a control character or a character above U+00FF`);
    return Buffer.from(value, 'latin1');
  }
  if (typeof value === 'number' || typeof value === 'bigint') return Buffer.from(String(value), 'latin1');
  if (value instanceof Uint8Array) {
    if (badByte(value)) throw new TypeError(`uhw-worker: header ${name}: value with a control character`);
    return asBuffer(value);
  }
  throw new TypeError(`uhw-worker: header ${name}: value must be a string, a number or a Buffer, not ${typeof value}`);
}

function pushHeader(out, name, value) {
  checkName(name);
  if (Array.isArray(value)) {
    for (const v of value) out.push({ name, value: valueBytes(name, v) });
  } else {
    out.push({ name, value: valueBytes(name, value) });
  }
}

// Response headers in any of the usual shapes — {name: value | [values]}, [[name, value], ...],
// a Map or a fetch Headers — as a checked list of {name, value: Buffer} (Header messages).
function toHeaderList(headers) {
  const out = [];
  if (headers == null) return out;
  if (typeof headers !== 'object') throw new TypeError('uhw-worker: headers must be an object, an array of pairs or a Map');
  if (Array.isArray(headers) || typeof headers[Symbol.iterator] === 'function') {
    for (const pair of headers) {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new TypeError('uhw-worker: headers given as a list must be [name, value] pairs');
      pushHeader(out, pair[0], pair[1]);
    }
    return out;
  }
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) pushHeader(out, name, value);
  }
  return out;
}

function hasHeader(list, lowerName) {
  return list.some((h) => h.name.toLowerCase() === lowerName);
}

module.exports = { checkStatus, toHeaderList, hasHeader };
