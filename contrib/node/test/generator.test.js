'use strict';
// protoc-gen-uhwjs: the code it writes has protoc-gen-js's API, round-trips every field of
// uhw.proto and of fixtures/alltypes.proto, follows proto3's rules for defaults and oneofs;
// and it refuses, through protoc, what it does not implement. (interop.test.js checks the
// bytes against other runtimes.)
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { v1 } = require('../lib/proto');
const { build, plain, camel } = require('./messages');
const { EVERY_FIELD } = require('./every-field');
const { ALL_TYPES, allTypesClass } = require('./all-types');
const { protoc, generated } = require('./protoc');

// The fields a class has, from its setters (setX, setXList): what a test value must cover.
function fieldsOf(Class) {
  return Object.getOwnPropertyNames(Class.prototype)
    .map((name) => /^set(\w+?)(List)?$/.exec(name))
    .filter(Boolean)
    .map((m) => camel(m[1]));
}

// What plain() gives for `value`: the value, plus the oneof case of a ToWorker/FromWorker
// (whose values set one member each).
function expected(Class, value) {
  return Class.MsgCase === undefined ? value : { msg: Object.keys(value)[0], ...value };
}

function roundTrip(Class, value, classOf) {
  const msg = build(Class, value, classOf);
  const back = Class.deserializeBinary(msg.serializeBinary());
  return plain(back);
}

test('the generated API is protoc-gen-js\'s: names, exports, enums, oneof cases', () => {
  // Exported from the module and, as protoc-gen-js does, under the global proto namespace.
  assert.equal(globalThis.proto.uhw.v1.Request, v1.Request);
  const req = new v1.Request();
  assert.ok(req instanceof require('google-protobuf').Message);
  for (const name of ['getHeadersList', 'setHeadersList', 'addHeaders', 'clearHeadersList', 'getBody', 'getBody_asB64', 'getBody_asU8', 'setBody', 'getHttpVersion', 'getTimeoutMs']) {
    assert.equal(typeof req[name], 'function', name);
  }
  assert.ok(req.addHeaders() instanceof v1.Header, 'addHeaders() without a value adds a new Header');
  assert.equal(req.getHeadersList().length, 1);
  assert.equal(req.setId(5), req, 'setters return this');
  assert.deepEqual(v1.Cancel.Reason, { CLIENT_GONE: 0, TIMEOUT: 1, SHUTDOWN: 2 });
  assert.deepEqual(v1.Log.Level, { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3, CRITICAL: 4 });
  assert.deepEqual(v1.ToWorker.MsgCase, { MSG_NOT_SET: 0, REQUEST: 1, CANCEL: 2, SHUTDOWN: 3, CONFIGURE: 4 });
  assert.equal(v1.FromWorker.MsgCase.REQUEST_FAILED, 9);
  const to = new v1.ToWorker();
  assert.equal(to.getMsgCase(), v1.ToWorker.MsgCase.MSG_NOT_SET);
  to.setRequest(req);
  assert.equal(to.getMsgCase(), v1.ToWorker.MsgCase.REQUEST);
  to.setCancel(new v1.Cancel());
  assert.equal(to.getMsgCase(), v1.ToWorker.MsgCase.CANCEL);
  assert.equal(to.hasRequest(), false, 'setting one member of a oneof clears the others');
  to.clearCancel();
  assert.equal(to.getMsgCase(), v1.ToWorker.MsgCase.MSG_NOT_SET);
});

test('every uhw.v1 message round-trips with every field set', () => {
  for (const [name, values] of EVERY_FIELD) {
    const Class = v1[name];
    const covered = new Set(values.flatMap((v) => Object.keys(v)));
    assert.deepEqual(fieldsOf(Class).filter((f) => !covered.has(f)), [], `${name}: fields without a test value`);
    for (const value of values) assert.deepEqual(roundTrip(Class, value), expected(Class, value), name);
  }
});

test('fields equal to their default are not written; a set oneof member or message field is', () => {
  for (const [name] of EVERY_FIELD) assert.equal(new v1[name]().serializeBinary().length, 0, name);
  const zeros = build(v1.Request, { id: 0, method: '', body: Buffer.alloc(0), headers: [], remotePort: 0 });
  assert.equal(zeros.serializeBinary().length, 0);
  // A Shutdown with grace_ms 0 is an empty message, but its presence is the message.
  assert.deepEqual([...build(v1.ToWorker, { shutdown: { graceMs: 0 } }).serializeBinary()], [0x1a, 0x00]);
  assert.equal(v1.ToWorker.deserializeBinary(new Uint8Array([0x1a, 0x00])).getMsgCase(), v1.ToWorker.MsgCase.SHUTDOWN);
});

test('unknown fields are skipped, and the known ones after them still read', () => {
  // Cancel {id: 3, <field 15, varint 1>, <field 16, bytes "ab">, reason: 2}
  const bytes = new Uint8Array([0x08, 3, 0x78, 1, 0x82, 0x01, 2, 0x61, 0x62, 0x10, 2]);
  assert.deepEqual(plain(v1.Cancel.deserializeBinary(bytes)), { id: 3, reason: 2 });
});

test('every scalar type, repeated (packed or not), nested types, two oneofs: alltypes.proto round-trips', (t) => {
  const { module, cleanup } = generated(path.join(__dirname, 'fixtures'), 'alltypes.proto');
  t.after(cleanup);
  const classOf = allTypesClass(module);
  for (const [name, values] of ALL_TYPES) {
    const Class = name.split('.').reduce((c, part) => c[part], module);
    const covered = new Set(values.flatMap((v) => Object.keys(v)));
    assert.deepEqual(fieldsOf(Class).filter((f) => !covered.has(f)), [], `${name}: fields without a test value`);
    for (const value of values) {
      const back = roundTrip(Class, value, classOf);
      for (const key of ['pick', 'second']) delete back[key]; // the oneof cases, checked below
      assert.deepEqual(back, value, name);
    }
  }
  const { Choice } = module;
  const choice = new Choice().setPString('x').setSNumber(0);
  assert.equal(choice.getPickCase(), Choice.PickCase.P_STRING);
  assert.equal(choice.getSecondCase(), Choice.SecondCase.S_NUMBER, 'a oneof member set to 0 is set');
  choice.setPInt64(0);
  assert.equal(choice.hasPString(), false);
  assert.equal(choice.getSecondCase(), Choice.SecondCase.S_NUMBER, 'the other oneof is untouched');
  const back = Choice.deserializeBinary(choice.serializeBinary());
  assert.equal(back.getPickCase(), Choice.PickCase.P_INT64);
  assert.equal(back.getSecondCase(), Choice.SecondCase.S_NUMBER);
});

// .protos the generator refuses: protoc fails, names the problem, and writes nothing.
const REFUSED = [
  ['a map field', 'syntax = "proto3"; package t; message M { map<string, string> tags = 1; }', /t\.M\.tags: map fields are not supported/],
  ['proto2', 'syntax = "proto2"; package t; message M { optional int32 a = 1; }', /syntax "proto2": only proto3 is supported/],
  ['an import', 'syntax = "proto3"; package t; import "other.proto"; message M { O o = 1; }', /imports other\.proto: imports are not supported/],
  ['a service', 'syntax = "proto3"; package t; message M {} service S { rpc Call(M) returns (M); }', /services are not supported/],
  ['no package', 'syntax = "proto3"; message M { int32 a = 1; }', /a package is required/],
  ['jstype', 'syntax = "proto3"; package t; message M { int64 a = 1 [jstype = JS_STRING]; }', /t\.M\.a: jstype is not supported/],
  // protoc itself refuses these: the plugin does not claim FEATURE_PROTO3_OPTIONAL.
  ['a proto3 optional field', 'syntax = "proto3"; package t; message M { optional int32 a = 1; }', /optional/],
];

test('a .proto with what the generator does not implement: protoc fails with the reason, and no code', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uhw-gen-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'other.proto'), 'syntax = "proto3"; package t; message O {}\n');
  for (const [what, text, reason] of REFUSED) {
    const out = fs.mkdtempSync(path.join(dir, 'out-'));
    fs.writeFileSync(path.join(dir, 'bad.proto'), `${text}\n`);
    const run = protoc(dir, 'bad.proto', out);
    assert.notEqual(run.status, 0, `${what}: protoc succeeded`);
    assert.match(run.stderr, reason, what);
    assert.deepEqual(fs.readdirSync(out), [], `${what}: code was written`);
  }
  const out = fs.mkdtempSync(path.join(dir, 'out-'));
  const run = protoc(dir, 'other.proto', out, 'import_style=closure');
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /unsupported option "import_style=closure"/);
});
