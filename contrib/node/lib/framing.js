'use strict';
// The framing of DESIGN.md §2 over a byte stream: each message is its length as a protobuf
// varint, then the message. google-protobuf's BinaryReader and BinaryWriter read and write the
// messages, and BinaryWriter the length prefixes too; this file decides where frames start and
// end, whatever the chunks a pipe read happens to return (a frame split at any byte, several
// frames in one chunk), and batches what the worker writes.

const { BinaryReader, BinaryWriter } = require('google-protobuf');

class ProtocolError extends Error {
  constructor(message) {
    super(`uhw-worker: protocol error: ${message}`);
    this.name = 'ProtocolError';
  }
}

// A varint of at most this many bytes holds any length we accept (< 2^32).
const MAX_PREFIX = 5;

// The value of the varint in buf[pos..end] (end: its last byte). google-protobuf 4 has no public
// way to read a bare varint (its BinaryDecoder is internal, and BinaryReader reads fields,
// tag first); FrameReader has found where the prefix ends by then, so this is the sum.
function prefixValue(buf, pos, end) {
  let value = 0;
  for (let i = end; i >= pos; --i) value = value * 128 + (buf[i] & 0x7f);
  return value;
}

// Splits a byte stream into messages. push(chunk) calls onMessage(message) for every frame the
// bytes so far complete, in order, and throws ProtocolError on a frame longer than maxFrame or
// bytes that do not decode (the stream cannot be resynchronised after that).
class FrameReader {
  constructor(type, maxFrame, onMessage) {
    this.type = type;            // generated message class (ToWorker, or FromWorker in tests)
    this.maxFrame = maxFrame;
    this.onMessage = onMessage;
    this.parts = [];             // the bytes of an incomplete frame, as received
    this.have = 0;               // their total length
    this.need = 0;               // length of the whole frame (prefix included), or 0: prefix incomplete
  }

  push(chunk) {
    let buf = chunk;
    if (this.parts.length > 0) {
      this.parts.push(chunk);
      this.have += chunk.length;
      if (this.need > 0 && this.have < this.need) return; // a large frame arriving: copy it once, when complete
      buf = Buffer.concat(this.parts, this.have);
      this.parts = [];
      this.have = this.need = 0;
    }
    let pos = 0;
    while (pos < buf.length) {
      // Is the length prefix complete? (Its last byte has the high bit clear.)
      let end = pos;
      while (end < buf.length && end - pos < MAX_PREFIX && buf[end] & 0x80) ++end;
      if (end - pos >= MAX_PREFIX) throw new ProtocolError(`length prefix longer than ${MAX_PREFIX} bytes`);
      if (end === buf.length) break;
      if (end - pos === MAX_PREFIX - 1 && buf[end] > 0x0f) throw new ProtocolError('length prefix over 2^32');
      const len = prefixValue(buf, pos, end);
      if (len > this.maxFrame) throw new ProtocolError(`frame of ${len} bytes announced, more than the ${this.maxFrame} accepted`);
      const start = end + 1;
      if (buf.length - start < len) {
        this.need = start - pos + len;
        break;
      }
      let message;
      try {
        // aliasBytesFields: bytes fields (a request's body, header values) are views into
        // `buf`, not copies. Nothing writes to a chunk once read, and each chunk is its own memory.
        const reader = new BinaryReader(buf, start, len, { aliasBytesFields: true });
        message = this.type.deserializeBinaryFromReader(new this.type(), reader);
      } catch (err) {
        throw new ProtocolError(`undecodable frame of ${len} bytes: ${err.message}`);
      }
      pos = start + len;
      this.onMessage(message);
    }
    if (pos < buf.length) {
      this.parts.push(pos === 0 ? buf : buf.subarray(pos));
      this.have = buf.length - pos;
    }
  }

  // Bytes of an incomplete frame (at EOF: the stream ended inside a frame).
  get pending() {
    return this.have;
  }
}

// Writes messages as frames to a stream. Frames written in the same tick go out together, in
// one write (writev) on the next process.nextTick: a burst of responses costs one system call.
// Each frame is encoded whole before it is queued, so frames never interleave, and a frame
// longer than maxFrame throws before anything is queued.
class FrameWriter {
  constructor(type, stream, maxFrame) {
    this.type = type;            // generated message class (FromWorker, or ToWorker in tests)
    this.stream = stream;
    this.maxFrame = maxFrame;
    this.queue = [];
    this.queuedBytes = 0;
    this.drainWaiters = null;    // promise of the next 'drain' while the stream is full
    this.flush = this.flush.bind(this);
  }

  // Encodes `message` (an instance of the generated class) now and queues it. Returns the
  // frame's length, prefix included.
  send(message) {
    const frame = encodeFrame(message, this.type);
    const size = frame.length - prefixLength(frame);
    if (size > this.maxFrame) throw new RangeError(`uhw-worker: a ${size}-byte frame is over max_frame (${this.maxFrame} bytes)`);
    if (this.queue.length === 0) process.nextTick(this.flush);
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    return frame.length;
  }

  flush() {
    const q = this.queue;
    if (q.length === 0 || this.stream.destroyed) return;
    this.queue = [];
    this.queuedBytes = 0;
    if (q.length === 1) {
      this.stream.write(q[0]);
    } else {
      this.stream.cork();
      for (const frame of q) this.stream.write(frame);
      this.stream.uncork();
    }
  }

  // null when the stream can take more, else a promise that resolves when it can: what is
  // queued and unsent is above the stream's high-water mark (uhw reads slower than we write).
  writable() {
    if (this.queuedBytes + this.stream.writableLength < this.stream.writableHighWaterMark) return null;
    this.flush();
    if (!this.stream.writableNeedDrain) return null;
    if (this.drainWaiters === null) {
      this.drainWaiters = new Promise((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          this.drainWaiters = null;
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
    return this.drainWaiters;
  }

  // Flushes, then ends the stream (the supervisor sees EOF); calls cb once all is written.
  end(cb) {
    this.flush();
    this.stream.end(cb);
  }
}

// A frame is what a message field numbered 1 looks like on the wire, without its tag: the tag
// (1 << 3 | wire type 2) is the single byte 0x0a, then the length varint and the message. So
// BinaryWriter writes the prefix, and the frame is a view past the tag, not a copy.
function encodeFrame(message, type) {
  const writer = new BinaryWriter();
  writer.writeMessage(1, message, type.serializeBinaryToWriter);
  const bytes = writer.getResultBuffer();
  return Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1);
}

// Bytes of the frame's length prefix: every byte of a varint but the last has its high bit set.
function prefixLength(frame) {
  let n = 1;
  while (frame[n - 1] & 0x80) ++n;
  return n;
}

module.exports = { FrameReader, FrameWriter, ProtocolError };
