'use strict';
// How protoc-gen-js's code reads, writes and defaults a proto3 field of each type, as its own
// output shows (google-protobuf/google/protobuf/*_pb.js): which BinaryReader/BinaryWriter
// method, which jspb.Message getter and setter, and the test that leaves a field equal to its
// default off the wire (proto3 fields without `optional` have no presence).
//
// 64-bit integers are JavaScript numbers (readInt64, readUint64...), protoc-gen-js's default
// (jstype JS_NORMAL): exact below 2^53, which uhw's ids stay under.

const { FieldDescriptorProto } = require('google-protobuf/google/protobuf/descriptor_pb.js');

const T = FieldDescriptorProto.Type;

const INT = { js: 'number', zero: '0', isSet: 'f !== 0', get: 'getFieldWithDefault', set: 'setProto3IntField', list: 'getRepeatedField', packable: true };
const FLOAT = { js: 'number', zero: '0.0', isSet: 'f !== 0.0', get: 'getFloatingPointFieldWithDefault', set: 'setProto3FloatField', list: 'getRepeatedFloatingPointField', packable: true };

// `io` names the Binary{Reader,Writer} methods: readX/writeX, readPackableXInto,
// writePackedX/writeRepeatedX.
const SCALARS = new Map([
  [T.TYPE_DOUBLE, { ...FLOAT, proto: 'double', io: 'Double' }],
  [T.TYPE_FLOAT, { ...FLOAT, proto: 'float', io: 'Float' }],
  [T.TYPE_INT64, { ...INT, proto: 'int64', io: 'Int64' }],
  [T.TYPE_UINT64, { ...INT, proto: 'uint64', io: 'Uint64' }],
  [T.TYPE_INT32, { ...INT, proto: 'int32', io: 'Int32' }],
  [T.TYPE_FIXED64, { ...INT, proto: 'fixed64', io: 'Fixed64' }],
  [T.TYPE_FIXED32, { ...INT, proto: 'fixed32', io: 'Fixed32' }],
  [T.TYPE_UINT32, { ...INT, proto: 'uint32', io: 'Uint32' }],
  [T.TYPE_SFIXED32, { ...INT, proto: 'sfixed32', io: 'Sfixed32' }],
  [T.TYPE_SFIXED64, { ...INT, proto: 'sfixed64', io: 'Sfixed64' }],
  [T.TYPE_SINT32, { ...INT, proto: 'sint32', io: 'Sint32' }],
  [T.TYPE_SINT64, { ...INT, proto: 'sint64', io: 'Sint64' }],
  [T.TYPE_BOOL, { proto: 'bool', io: 'Bool', js: 'boolean', zero: 'false', isSet: 'f', get: 'getBooleanFieldWithDefault', set: 'setProto3BooleanField', list: 'getRepeatedBooleanField', packable: true }],
  // proto3 strings must be UTF-8: reading one that is not fails the message, as in the other
  // runtimes (uhw refuses a request target that is not UTF-8 before it reaches a worker).
  [T.TYPE_STRING, { proto: 'string', io: 'String', read: 'readStringRequireUtf8', js: 'string', zero: '""', isSet: 'f.length > 0', get: 'getFieldWithDefault', set: 'setProto3StringField', list: 'getRepeatedField', packable: false }],
  // A bytes getter returns what was set (a base64 string or a Uint8Array); the writer takes
  // getX_asU8(), and readBytes() gives a Uint8Array.
  [T.TYPE_BYTES, { proto: 'bytes', io: 'Bytes', js: '!(string|Uint8Array)', zero: '""', isSet: 'f.length > 0', get: 'getFieldWithDefault', set: 'setProto3BytesField', list: 'getRepeatedField', packable: false, bytes: true }],
  [T.TYPE_ENUM, { proto: null, io: 'Enum', js: null, zero: '0', isSet: 'f !== 0.0', get: 'getFieldWithDefault', set: 'setProto3EnumField', list: 'getRepeatedField', packable: true }],
]);

function readMethod(s) {
  return s.read || `read${s.io}`;
}

module.exports = { T, SCALARS, readMethod };
