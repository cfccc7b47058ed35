'use strict';
// Text formats for streamed responses: Server-Sent Events (WHATWG HTML §9.2, "event stream
// interpretation") and NDJSON. Pure functions: a value in, the bytes of one event or line out.

const LINE_BREAK = /\r\n|\r|\n/;
const HAS_BREAK = /[\r\n]/;

function field(name, value) {
  const text = String(value);
  if (HAS_BREAK.test(text)) throw new TypeError(`uhw-worker: SSE ${name} may not contain CR or LF`);
  return `${name}: ${text}\n`;
}

// One event: optional "event:", "id:" and "retry:" lines, one "data:" line per line of `data`
// (split at LF, CRLF or CR, as the client will join them with LF), ": comment" lines, then the
// blank line that dispatches it. `data` may be a string, a Buffer (UTF-8) or any other value,
// which is sent as JSON. `ev` may also be the data string itself.
function sseEvent(ev) {
  if (typeof ev === 'string') ev = { data: ev };
  if (ev == null || typeof ev !== 'object') throw new TypeError('uhw-worker: res.sse() takes {event, id, data, retry, comment} or a string');
  let out = '';
  if (ev.comment != null) for (const line of String(ev.comment).split(LINE_BREAK)) out += `: ${line}\n`;
  if (ev.event != null) out += field('event', ev.event);
  if (ev.id != null) {
    if (String(ev.id).includes('\0')) throw new TypeError('uhw-worker: SSE id may not contain NUL');
    out += field('id', ev.id);
  }
  if (ev.retry != null) {
    if (!Number.isInteger(ev.retry) || ev.retry < 0) throw new TypeError('uhw-worker: SSE retry must be a non-negative integer (ms)');
    out += `retry: ${ev.retry}\n`;
  }
  if (ev.data !== undefined) {
    let data = ev.data;
    if (Buffer.isBuffer(data)) data = data.toString('utf8');
    else if (typeof data !== 'string') data = JSON.stringify(data);
    for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  return out + '\n';
}

// One NDJSON line: the value as compact JSON (which never holds a raw line break) and "\n".
function ndjsonLine(value) {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`uhw-worker: res.ndjson(): ${typeof value} has no JSON form`);
  return text + '\n';
}

module.exports = { sseEvent, ndjsonLine };
