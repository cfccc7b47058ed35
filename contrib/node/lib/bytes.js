'use strict';
// Bytes as the SDK hands them out and takes them in: Node Buffers. google-protobuf reads bytes
// fields as Uint8Arrays (views into the frame read from the pipe, as framing.js asks); a
// Buffer over the same memory costs no copy.

function asBuffer(bytes) {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

module.exports = { asBuffer };
