'use strict';
// What this generator does not implement, found before anything is emitted: each problem is a
// sentence naming the file and the element. The plugin reports them all as its error (protoc
// prints it and exits non-zero) rather than emitting code that would read or write the wrong bytes.

const { FieldDescriptorProto, FieldOptions } = require('google-protobuf/google/protobuf/descriptor_pb.js');

const { Type, Label } = FieldDescriptorProto;

function checkField(problems, at, field, mapEntries) {
  if (field.getType() === Type.TYPE_GROUP) problems.push(`${at}: groups are not supported`);
  if (field.getLabel() === Label.LABEL_REQUIRED) problems.push(`${at}: required fields are not supported`);
  if (field.getProto3Optional()) problems.push(`${at}: proto3 optional fields are not supported`);
  if (field.hasExtendee()) problems.push(`${at}: extensions are not supported`);
  if (field.hasDefaultValue()) problems.push(`${at}: explicit default values are not supported`);
  if (mapEntries.has(field.getTypeName())) problems.push(`${at}: map fields are not supported`);
  const options = field.getOptions();
  if (options !== undefined && options.getJstype() !== FieldOptions.JSType.JS_NORMAL)
    problems.push(`${at}: jstype is not supported (64-bit integers are JavaScript numbers)`);
}

// `scope` is the message's parent as a type_name ('.uhw.v1'); a problem reads
// 'x.proto: uhw.v1.Message.field: ...'.
function checkMessage(problems, file, scope, message) {
  const fullName = `${scope}.${message.getName()}`;
  const at = `${file}: ${fullName.slice(1)}`;
  if (message.getExtensionList().length > 0 || message.getExtensionRangeList().length > 0)
    problems.push(`${at}: extensions are not supported`);
  // A map field is a repeated field of a nested "entry" message that protoc makes up.
  const mapEntries = new Set();
  for (const nested of message.getNestedTypeList()) {
    const options = nested.getOptions();
    if (options !== undefined && options.getMapEntry()) mapEntries.add(`${fullName}.${nested.getName()}`);
    else checkMessage(problems, file, fullName, nested);
  }
  for (const field of message.getFieldList()) checkField(problems, `${at}.${field.getName()}`, field, mapEntries);
}

// Returns the problems of one FileDescriptorProto: [] when it can be generated.
function check(file) {
  const problems = [];
  const at = file.getName();
  const syntax = file.getSyntax() || 'proto2';
  if (syntax !== 'proto3') problems.push(`${at}: syntax "${syntax}": only proto3 is supported`);
  if (file.getPackage() === '') problems.push(`${at}: a package is required (the code is proto.<package>.*)`);
  for (const dep of file.getDependencyList()) problems.push(`${at}: imports ${dep}: imports are not supported`);
  if (file.getServiceList().length > 0) problems.push(`${at}: services are not supported`);
  if (file.getExtensionList().length > 0) problems.push(`${at}: extensions are not supported`);
  for (const message of file.getMessageTypeList()) checkMessage(problems, at, `.${file.getPackage()}`, message);
  return problems;
}

module.exports = { check };
