#!/usr/bin/env node
'use strict';
// Generates gen/uhw_pb.js (google-protobuf classes, CommonJS) from uhw's proto/uhw.proto:
// protoc parses the .proto, scripts/protoc-gen-uhwjs writes the code. Run by `make` (through
// `npm run gen`) and by npm's `prepare` (npm install in this directory, npm pack). A package
// unpacked from a tarball has gen/ already and no .proto beside it: then there is nothing to do.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const here = path.resolve(__dirname, '..');
const proto = process.env.UHW_PROTO || path.resolve(here, '../../proto/uhw.proto');
const plugin = path.join(__dirname, 'protoc-gen-uhwjs');
const out = path.join(here, 'gen', 'uhw_pb.js');

function fail(message) {
  console.error(`uhw-worker: ${message}`);
  process.exit(1);
}

// gen/uhw_pb.js exists and is not older than the .proto.
function upToDate() {
  try {
    return fs.statSync(out).mtimeMs >= fs.statSync(proto).mtimeMs;
  } catch {
    return false;
  }
}

if (!fs.existsSync(proto)) {
  if (fs.existsSync(out)) process.exit(0);
  fail(`cannot generate ${out}: ${proto} not found (set UHW_PROTO)`);
}

// Runs protoc into `dir`; returns what went wrong, or null.
function protoc(dir) {
  const run = spawnSync('protoc', [
    `--plugin=protoc-gen-uhwjs=${plugin}`,
    `--uhwjs_out=import_style=commonjs,binary:${dir}`,
    '-I', path.dirname(proto),
    proto,
  ], { stdio: 'inherit' });
  if (run.error && run.error.code === 'ENOENT') {
    if (upToDate()) return null; // installed without the compiler: keep what is there
    return 'protoc not found: install Debian\'s protobuf-compiler (sudo apt-get install protobuf-compiler, or make deps)';
  }
  if (run.error) return `running protoc: ${run.error.message}`;
  if (run.status !== 0) return `protoc failed (${run.signal || `exit ${run.status}`}) on ${proto}`;
  fs.renameSync(path.join(dir, `${path.basename(proto, '.proto')}_pb.js`), out);
  return null;
}

fs.mkdirSync(path.dirname(out), { recursive: true });
// protoc writes into a directory of its own; the file is then renamed into place, atomically,
// so a concurrent reader never sees half a file.
const tmp = fs.mkdtempSync(path.join(path.dirname(out), '.protoc-'));
let problem;
try {
  problem = protoc(tmp);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (problem !== null) fail(problem);
