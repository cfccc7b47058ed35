'use strict';
// A message's binary codec, as protoc-gen-js writes it: deserializeBinary and
// deserializeBinaryFromReader (a switch on the field number, unknown fields skipped),
// serializeBinary and serializeBinaryToWriter (fields in declaration order; a proto3 field
// equal to its default is not written; a oneof member or a message field is written when set).

function readCase(f) {
  if (f.isMessage) {
    return `      var value = new ${f.typePath};\n      reader.readMessage(value,${f.typePath}.deserializeBinaryFromReader);\n      msg.${f.repeated ? 'add' + f.single : 'set' + f.name}(value);\n`;
  }
  // A packable repeated field may arrive packed or not: readPackableXInto takes both.
  if (f.repeated && f.scalar.packable) return `      reader.readPackable${f.scalar.io}Into(msg.get${f.name}());\n`;
  const type = f.scalar.bytes ? '!Uint8Array' : f.js;
  return `      var value = /** @type {${type}} */ (reader.${f.read}());\n      msg.${f.repeated ? 'add' + f.single : 'set' + f.name}(value);\n`;
}

function deserializers(cls, fields) {
  const cases = fields.map((f) => `    case ${f.number}:\n${readCase(f)}      break;\n`).join('');
  return `/**
 * Deserializes binary data (in protobuf wire format).
 * @param {jspb.binary.bytesource.ByteSource} bytes The bytes to deserialize.
 * @return {!${cls}}
 */
${cls}.deserializeBinary = function(bytes) {
  var reader = new jspb.BinaryReader(bytes);
  var msg = new ${cls};
  return ${cls}.deserializeBinaryFromReader(msg, reader);
};


/**
 * Deserializes binary data (in protobuf wire format) from the
 * given reader into the given message object.
 * @param {!${cls}} msg The message object to deserialize into.
 * @param {!jspb.BinaryReader} reader The BinaryReader to use.
 * @return {!${cls}}
 */
${cls}.deserializeBinaryFromReader = function(msg, reader) {
  while (reader.nextField()) {
    if (reader.isEndGroup()) {
      break;
    }
    var field = reader.getFieldNumber();
    switch (field) {
${cases}    default:
      reader.skipField();
      break;
    }
  }
  return msg;
};


`;
}

// The statement that fetches field f into `f` and the condition under which it is written.
function fetchAndTest(f) {
  if (f.isMessage) return f.repeated ? [`message.get${f.name}()`, 'f.length > 0'] : [`message.get${f.name}()`, 'f != null'];
  if (f.repeated) return [`message.get${f.name}${f.scalar.bytes ? '_asU8' : ''}()`, 'f.length > 0'];
  if (f.oneof !== null) return [`/** @type {${f.js}} */ (jspb.Message.getField(message, ${f.number}))`, 'f != null'];
  return [`message.get${f.name}${f.scalar.bytes ? '_asU8' : ''}()`, f.scalar.isSet];
}

function writeCall(f) {
  if (f.isMessage) return `writer.write${f.repeated ? 'RepeatedMessage' : 'Message'}(\n      ${f.number},\n      f,\n      ${f.typePath}.serializeBinaryToWriter\n    );`;
  const kind = !f.repeated ? '' : f.packed ? 'Packed' : 'Repeated';
  return `writer.write${kind}${f.scalar.io}(\n      ${f.number},\n      f\n    );`;
}

function serializers(cls, fields) {
  const writes = fields.map((f) => {
    const [fetch, test] = fetchAndTest(f);
    return `  f = ${fetch};\n  if (${test}) {\n    ${writeCall(f)}\n  }\n`;
  }).join('');
  return `/**
 * Serializes the message to binary data (in protobuf wire format).
 * @return {!Uint8Array}
 */
${cls}.prototype.serializeBinary = function() {
  var writer = new jspb.BinaryWriter();
  ${cls}.serializeBinaryToWriter(this, writer);
  return writer.getResultBuffer();
};


/**
 * Serializes the given message to binary data (in protobuf wire
 * format), writing to the given BinaryWriter.
 * @param {!${cls}} message
 * @param {!jspb.BinaryWriter} writer
 * @suppress {unusedLocalVariables} f is only used for nested messages
 */
${cls}.serializeBinaryToWriter = function(message, writer) {
  var f = undefined;
${writes}};


`;
}

module.exports = { deserializers, serializers };
