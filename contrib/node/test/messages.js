'use strict';
// The tests' view of uhw.v1 messages: plain objects, as tests write and compare them
// ({request: {id: 1, path: '/', headers: [{name, value}]}}), to and from the generated
// google-protobuf classes, and frames (a varint length, then the message).
//
// Written from the generated code's naming rules (setX, getXList, getX_asU8, getMsgCase), and
// with a varint of its own, not with the SDK's framing: what the SDK writes and reads is
// checked against a second implementation.

const jspb = require('google-protobuf');
const { v1 } = require('../lib/proto');

const pascal = (key) => key[0].toUpperCase() + key.slice(1);
const camel = (name) => name[0].toLowerCase() + name.slice(1);
const fromEnumCase = (name) => name.toLowerCase().replace(/_(.)/g, (_, c) => c.toUpperCase());

// The class of a uhw.v1 message field: named after the field (request → Request), except the
// repeated ones.
const REPEATED_CLASS = { headers: v1.Header, settings: v1.Setting };

function uhwClass(key) {
  return REPEATED_CLASS[key] || v1[pascal(key)];
}

// build(v1.ToWorker, {request: {id: 1, headers: [{name: 'host', value: Buffer}]}}). A key the
// message does not have fails (its setter is undefined). classOf(key) is the class of the
// message field `key` (for other packages than uhw.v1).
function build(Class, obj, classOf = uhwClass) {
  const msg = new Class();
  for (const [key, value] of Object.entries(obj)) {
    const isMessage = (v) => v !== null && typeof v === 'object' && !(v instanceof Uint8Array);
    if (Array.isArray(value)) {
      msg[`set${pascal(key)}List`](value.map((v) => (isMessage(v) ? build(classOf(key), v, classOf) : v)));
    } else if (isMessage(value)) {
      msg[`set${pascal(key)}`](build(classOf(key), value, classOf));
    } else {
      msg[`set${pascal(key)}`](value);
    }
  }
  return msg;
}

function plainValue(v) {
  if (v instanceof jspb.Message) return plain(v);
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

// The fields of a generated message as a plain object: repeated fields under their own name
// (headers, not headersList), bytes as Buffers, fields with presence (messages, oneof members)
// only when set, and for a oneof its case under the oneof's name ({msg: 'streamStart', ...}).
function plain(msg) {
  const out = {};
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(msg));
  for (const name of methods) {
    const oneof = /^get(\w+)Case$/.exec(name);
    if (oneof) {
      const cases = msg.constructor[`${oneof[1]}Case`];
      const set = Object.keys(cases).find((k) => cases[k] === msg[name]() && cases[k] !== 0);
      if (set !== undefined) out[camel(oneof[1])] = fromEnumCase(set);
      continue;
    }
    const field = /^get([A-Z][A-Za-z0-9]*?)(List)?(_asU8)?$/.exec(name); // not _asB64
    if (!field || (!field[3] && methods.includes(`${name}_asU8`))) continue; // bytes: read as U8
    if (methods.includes(`has${field[1]}`) && !msg[`has${field[1]}`]()) continue; // not set
    const value = msg[name]();
    if (value === null || value === undefined) continue;
    out[camel(field[1])] = Array.isArray(value) ? value.map(plainValue) : plainValue(value);
  }
  return out;
}

function varint(n) {
  const bytes = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) bytes.push((n % 128) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

// A ToWorker frame from a plain object.
function frame(obj) {
  const body = build(v1.ToWorker, obj).serializeBinary();
  return Buffer.concat([varint(body.length), body]);
}

// The complete frames at the start of `buf`: {frames: [Buffer], rest: Buffer}.
function splitFrames(buf) {
  const frames = [];
  let pos = 0;
  for (;;) {
    let len = 0;
    let end = pos;
    for (let scale = 1; end < buf.length; scale *= 128) {
      len += (buf[end] & 0x7f) * scale;
      if (!(buf[end++] & 0x80)) break;
    }
    if (end === pos || buf[end - 1] & 0x80 || buf.length - end < len) break; // incomplete
    frames.push(buf.subarray(end, end + len));
    pos = end + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

module.exports = { build, plain, frame, splitFrames, pascal, camel };
