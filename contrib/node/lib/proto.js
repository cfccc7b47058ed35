'use strict';
// The uhw.v1 messages, as static code generated from proto/uhw.proto by protobufjs-cli's pbjs
// (`npm run gen`, run by `make` and by `npm install` in this directory). The generated file is
// never committed: the .proto is the one source of truth.
let root;
try {
  root = require('../gen/uhw_pb.js');
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('uhw_pb')) throw err;
  throw new Error('uhw-worker: gen/uhw_pb.js is missing: run `make` in the uhw tree, or `npm run gen` in contrib/node');
}

const { Writer } = require('protobufjs/minimal');

module.exports = { v1: root.uhw.v1, Writer };
