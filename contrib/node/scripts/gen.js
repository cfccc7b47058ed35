#!/usr/bin/env node
'use strict';
// Generates gen/uhw_pb.js (static protobufjs code, CommonJS) from uhw's proto/uhw.proto.
// Run by `make` (through `npm run gen`) and by npm's `prepare` (npm install in this directory,
// npm pack). A package unpacked from a tarball has gen/ already and no .proto beside it: then
// there is nothing to do.
const fs = require('fs');
const path = require('path');

const here = path.resolve(__dirname, '..');
const proto = process.env.UHW_PROTO || path.resolve(here, '../../proto/uhw.proto');
const out = path.join(here, 'gen', 'uhw_pb.js');

if (!fs.existsSync(proto)) {
  if (fs.existsSync(out)) process.exit(0);
  console.error(`uhw-worker: cannot generate ${out}: ${proto} not found (set UHW_PROTO)`);
  process.exit(1);
}

let pbjs;
try {
  ({ pbjs } = require('protobufjs-cli'));
} catch (err) {
  if (fs.existsSync(out)) process.exit(0); // installed without devDependencies: keep what is there
  console.error('uhw-worker: protobufjs-cli is not installed (npm ci in contrib/node installs it)');
  process.exit(1);
}

fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = [
  '--target', 'static-module', '--wrap', 'commonjs',
  // Our own root name: an application using protobufjs's default root keeps it to itself.
  '--root', 'uhw-worker',
  // Only what the SDK uses: encode/decode (plain objects in, message objects out) and the
  // delimited variants for the framing.
  '--no-verify', '--no-convert', '--no-typeurl', '--no-comments',
  '--path', path.dirname(proto), '--out', tmp, proto,
];
pbjs.main(args, (err) => {
  if (err) {
    console.error(`uhw-worker: pbjs failed: ${err.message}`);
    fs.rmSync(tmp, { force: true });
    process.exit(1);
  }
  fs.renameSync(tmp, out); // atomic: a concurrent reader never sees half a file
});
