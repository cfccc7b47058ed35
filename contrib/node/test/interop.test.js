'use strict';
// The generated code against other protobuf runtimes: Google's for Python (python3-protobuf,
// from protoc --python_out) byte for byte, both ways, for every field of uhw.proto and
// alltypes.proto; and libuhw (protobuf-c) through the echo worker in uhw's build.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { v1 } = require('../lib/proto');
const { FrameReader } = require('../lib/framing');
const { build, plain, frame } = require('./messages');
const { EVERY_FIELD } = require('./every-field');
const { ALL_TYPES, allTypesClass } = require('./all-types');
const { generated, SDK } = require('./protoc');

// Debian's python3-protobuf is for /usr/bin/python3 (the first python3 on PATH may be another).
const PYTHON = '/usr/bin/python3';
const PROTO_DIR = path.resolve(SDK, '../../proto');

// For each case {module, type, json, node}: builds the message from `json` with json_format,
// parses `node` (hex), and answers whether they are equal and its own encoding.
const PYTHON_SIDE = `
import importlib, json, sys
from google.protobuf import json_format
sys.path.insert(0, sys.argv[1])
out = []
for case in json.load(sys.stdin):
    cls = importlib.import_module(case["module"])
    for part in case["type"].split("."):
        cls = getattr(cls, part)
    want = json_format.ParseDict(case["json"], cls())
    got = cls.FromString(bytes.fromhex(case["node"]))
    out.append({"equal": got == want, "got": str(got), "python": want.SerializeToString().hex()})
json.dump(out, sys.stdout)
`;

function pythonProtobuf() {
  const run = spawnSync(PYTHON, ['-c', 'import google.protobuf'], { encoding: 'utf8' });
  return run.status === 0;
}

// A plain value as proto3 JSON for json_format: bytes in base64.
function toJson(value) {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

function compareWithPython(t, cases) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uhw-py-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [protoDir, file] of [[PROTO_DIR, 'uhw.proto'], [path.join(__dirname, 'fixtures'), 'alltypes.proto']]) {
    const run = spawnSync('protoc', [`--python_out=${dir}`, '-I', protoDir, file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  }
  const input = cases.map((c) => ({ module: c.module, type: c.type, json: toJson(c.value), node: Buffer.from(c.message.serializeBinary()).toString('hex') }));
  const run = spawnSync(PYTHON, ['-c', PYTHON_SIDE, dir], { input: JSON.stringify(input), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const answers = JSON.parse(run.stdout);
  cases.forEach((c, i) => {
    const what = `${c.type} ${JSON.stringify(input[i].json).slice(0, 80)}`;
    assert.ok(answers[i].equal, `${what}: Python read the Node bytes as ${answers[i].got}`);
    assert.equal(answers[i].python, input[i].node, `${what}: Python and Node encode differently`);
    const back = c.Class.deserializeBinary(Buffer.from(answers[i].python, 'hex'));
    assert.deepEqual(plain(back), plain(c.message), `${what}: Node read the Python bytes differently`);
  });
}

test('uhw.proto: Node and Python (Google\'s runtimes) write the same bytes and read each other\'s', (t) => {
  if (!pythonProtobuf()) return t.skip(`${PYTHON} has no google.protobuf (Debian: python3-protobuf)`);
  const cases = EVERY_FIELD.flatMap(([type, values]) => values.map((value) => (
    { module: 'uhw_pb2', type, value, Class: v1[type], message: build(v1[type], value) })));
  compareWithPython(t, cases);
});

test('alltypes.proto: every scalar type, repeated, oneofs, nested types, the same with Python', (t) => {
  if (!pythonProtobuf()) return t.skip(`${PYTHON} has no google.protobuf (Debian: python3-protobuf)`);
  const { module, cleanup } = generated(path.join(__dirname, 'fixtures'), 'alltypes.proto');
  t.after(cleanup);
  const classOf = allTypesClass(module);
  const cases = ALL_TYPES.flatMap(([type, values]) => {
    const Class = type.split('.').reduce((c, part) => c[part], module);
    return values.map((value) => ({ module: 'alltypes_pb2', type, value, Class, message: build(Class, value, classOf) }));
  });
  // A oneof member set to its default is on the wire, in both runtimes.
  cases.push({ module: 'alltypes_pb2', type: 'Choice', value: { pString: '', sNumber: 0 }, Class: module.Choice, message: build(module.Choice, { pString: '', sNumber: 0 }, classOf) });
  compareWithPython(t, cases);
});

// The echo worker answers a request without a body with JSON of its method, path, query and
// headers: libuhw (protobuf-c) decoded what Node encoded, and Node decodes its Ready and Response.
test('libuhw (protobuf-c) reads a Request from Node, and the SDK\'s FrameReader reads its answer', (t) => {
  const echo = path.join(process.env.UHW_BUILD || path.resolve(SDK, '../../build'), 'workers', 'echo');
  if (!fs.existsSync(echo)) return t.skip(`${echo} is not built (make)`);
  const request = {
    id: 2 ** 40 + 3, method: 'PATCH', path: '/é', query: 'a=1&b', target: '/%C3%A9?a=1&b',
    headers: [{ name: 'accept', value: Buffer.from('text/html') }, { name: 'x-rep', value: Buffer.from('1') }, { name: 'x-rep', value: Buffer.from('2') }],
    remoteAddr: '::1', remotePort: 1, scheme: 'http', httpVersion: 'HTTP/1.1', pool: 'p', timeoutMs: 30000,
  };
  const run = spawnSync(echo, [], { input: frame({ request }), timeout: 10000 });
  assert.equal(run.status, 0, String(run.stderr));
  const got = [];
  const reader = new FrameReader(v1.FromWorker, 1 << 20, (m) => got.push(plain(m)));
  reader.push(run.stdout);
  assert.equal(reader.pending, 0);
  assert.deepEqual(got.map((m) => m.msg), ['ready', 'response']);
  assert.deepEqual(got[0].ready, { protocol: 1, concurrency: 1, info: 'echo (libuhw)' });
  const { response } = got[1];
  assert.equal(response.id, request.id);
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers.map((h) => [h.name, h.value.toString()]), [['Content-Type', 'application/json']]);
  assert.deepEqual(JSON.parse(response.body), { method: 'PATCH', path: '/é', query: 'a=1&b', headers: { accept: 'text/html', 'x-rep': '1, 2' } });
});
