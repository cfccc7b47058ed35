'use strict';
// protoc-gen-js's names for what a .proto declares, so that code from this generator and code
// from protoc-gen-js are interchangeable: `http_version` → getHttpVersion, a repeated `headers`
// → getHeadersList/addHeaders, oneof `msg` → getMsgCase() and MsgCase.STREAM_START.

// protoc-gen-js's ParseLowerUnderscore: words split at '_', lower-cased.
function words(name) {
  return name.split('_').filter((w) => w !== '').map((w) => w.toLowerCase());
}

function upperCamel(name) {
  return words(name).map((w) => (w[0] >= 'a' && w[0] <= 'z' ? w[0].toUpperCase() + w.slice(1) : w)).join('');
}

// The part after get/set/has/clear. protoc-gen-js appends '$' to names that would shadow a
// jspb.Message method, and 'List' to repeated fields.
function accessorName(field, repeated) {
  let name = upperCamel(field);
  if (name === 'Extension' || name === 'JsPbMessageId') name += '$';
  return repeated ? `${name}List` : name;
}

// A oneof's case enum and getter: oneof `msg` → MsgCase, getMsgCase; its values are the field
// names upper-cased (STREAM_START), and MSG_NOT_SET for none.
function oneofCaseName(oneof) {
  return `${upperCamel(oneof)}Case`;
}

function enumCase(name) {
  return words(name).join('_').toUpperCase();
}

// '.uhw.v1.Cancel.Reason' (a descriptor's type_name) → 'proto.uhw.v1.Cancel.Reason'.
function jsTypePath(typeName) {
  return `proto${typeName}`;
}

// 'uhw.proto' → 'uhw_pb.js', as protoc-gen-js with import_style=commonjs names its output.
function outputName(protoFile) {
  return `${protoFile.replace(/\.proto$/, '')}_pb.js`;
}

module.exports = { upperCamel, accessorName, oneofCaseName, enumCase, jsTypePath, outputName };
