'use strict';
// One field of a message, described once for the emitters: its accessor names, JS type, how
// it is read and written. Everything protoc-gen-js decides per field is decided here.

const { FieldDescriptorProto } = require('google-protobuf/google/protobuf/descriptor_pb.js');
const { T, SCALARS, readMethod } = require('./types');
const { accessorName, enumCase, jsTypePath } = require('./names');

const { Label } = FieldDescriptorProto;

// `cls` is the message's JS path ('proto.uhw.v1.Request'); `field` a FieldDescriptorProto.
function describeField(cls, field) {
  const type = field.getType();
  const repeated = field.getLabel() === Label.LABEL_REPEATED;
  const isMessage = type === T.TYPE_MESSAGE;
  const scalar = isMessage ? null : SCALARS.get(type);
  const typePath = field.getTypeName() === '' ? null : jsTypePath(field.getTypeName());
  const typeWord = typePath === null ? scalar.proto : typePath.slice(typePath.lastIndexOf('.') + 1);
  let js = isMessage ? typePath : scalar.js;
  if (type === T.TYPE_ENUM) js = `!${typePath}`;
  const options = field.getOptions();
  const unpacked = options !== undefined && options.hasPacked() && !options.getPacked();
  return {
    cls,
    number: field.getNumber(),
    name: accessorName(field.getName(), repeated),   // getXList / setXList for a repeated field
    single: accessorName(field.getName(), false),    // addX
    caseName: enumCase(field.getName()),       // its value in the oneof's case enum
    decl: `${repeated ? 'repeated' : 'optional'} ${typeWord} ${field.getName()} = ${field.getNumber()};`,
    repeated,
    isMessage,
    scalar,
    typePath,
    js,
    oneof: field.hasOneofIndex() ? field.getOneofIndex() : null, // index into cls.oneofGroups_
    packed: repeated && scalar !== null && scalar.packable && !unpacked,
    read: scalar === null ? null : readMethod(scalar),
  };
}

module.exports = { describeField };
