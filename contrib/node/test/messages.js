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

// A repeated message field's element class, where it is not named after the field as a
// singular message field is (request → Request).
const ELEMENT_CLASS = { headers: v1.Header, settings: v1.Setting };

const pascal = (key) => key[0].toUpperCase() + key.slice(1);
const camel = (name) => name[0].toLowerCase() + name.slice(1);
const fromEnumCase = (name) => name.toLowerCase().replace(/_(.)/g, (_, c) => c.toUpperCase());

// build(v1.ToWorker, {request: {id: 1, headers: [{name: 'host', value: Buffer}]}}). A key the
// message does not have fails (its setter is undefined).
function build(Class, obj) {
  const msg = new Class();
  for (const [key, value] of Object.entries(obj)) {
    if (Array.isArray(value)) {
      const element = ELEMENT_CLASS[key];
      msg[`set${pascal(key)}List`](element ? value.map((v) => build(element, v)) : value);
    } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
      msg[`set${pascal(key)}`](build(v1[pascal(key)], value));
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
// (headers, not headersList), bytes as Buffers, unset message fields left out, and for a oneof
// its case under the oneof's name ({msg: 'streamStart', streamStart: {...}}).
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
    const field = /^get([A-Z]\w*?)(List)?(_asU8)?$/.exec(name);
    if (!field || (!field[3] && methods.includes(`${name}_asU8`))) continue; // bytes: read as U8
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

module.exports = { build, plain, frame, splitFrames, varint };
