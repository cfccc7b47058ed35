'use strict';
// Runs protoc with scripts/protoc-gen-uhwjs, as scripts/gen.js does, on test .protos.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const SDK = path.resolve(__dirname, '..');
const PLUGIN = path.join(SDK, 'scripts', 'protoc-gen-uhwjs');

// protoc on `file` (in directory `dir`) with the plugin, output to `out`: {status, stderr}.
function protoc(dir, file, out, options = 'import_style=commonjs,binary') {
  const run = spawnSync('protoc', [`--plugin=protoc-gen-uhwjs=${PLUGIN}`, `--uhwjs_out=${options}:${out}`, '-I', dir, file], { encoding: 'utf8' });
  if (run.error) throw run.error;
  return run;
}

// Generates `file` into a fresh directory under gen/ (where require('google-protobuf')
// resolves to this package's copy) and loads it. cleanup() removes the directory.
function generated(dir, file) {
  fs.mkdirSync(path.join(SDK, 'gen'), { recursive: true });
  const out = fs.mkdtempSync(path.join(SDK, 'gen', '.test-'));
  const run = protoc(dir, file, out);
  if (run.status !== 0) throw new Error(`protoc failed on ${file}: ${run.stderr}`);
  const module = require(path.join(out, file.replace(/\.proto$/, '_pb.js')));
  return { module, cleanup: () => fs.rmSync(out, { recursive: true, force: true }) };
}

module.exports = { protoc, generated, SDK };
