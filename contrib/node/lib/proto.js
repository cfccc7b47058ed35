'use strict';
// The uhw.v1 messages: google-protobuf classes (jspb.Message) generated from proto/uhw.proto by
// scripts/protoc-gen-uhwjs, as protoc-gen-js would write them (`npm run gen`, run by `make` and
// by `npm install` in this directory). The generated file is never committed: the .proto is
// the one source of truth.
let v1;
try {
  v1 = require('../gen/uhw_pb.js');
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('uhw_pb')) throw err;
  throw new Error('uhw-worker: gen/uhw_pb.js is missing: run `make` in the uhw tree, or `npm run gen` in contrib/node');
}

module.exports = { v1 };
