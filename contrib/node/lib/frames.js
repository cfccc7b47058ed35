'use strict';
// The FromWorker frames the worker sends, built from plain values: the one place that knows
// the generated classes' setters (response.js and worker.js say what to send, not how).
//
// Strings go through wellFormed(): google-protobuf refuses to encode a string with an unpaired
// surrogate (throws), and text from an application (an exception's message, a log line cut at
// a character count) may hold one. It becomes U+FFFD, as TextEncoder would write it.

const { v1 } = require('./proto');

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function wellFormed(text) {
  return typeof text.toWellFormed === 'function' ? text.toWellFormed() : text.replace(LONE_SURROGATE, '\uFFFD');
}

// [{name, value: Buffer}] (rules.toHeaderList) as Header messages.
function headerList(headers) {
  return headers.map((h) => new v1.Header().setName(h.name).setValue(h.value));
}

function ready(concurrency, info) {
  return new v1.FromWorker().setReady(new v1.Ready().setProtocol(1).setConcurrency(concurrency).setInfo(wellFormed(info)));
}

function log(level, message, id) {
  return new v1.FromWorker().setLog(new v1.Log().setLevel(level).setMessage(wellFormed(message)).setId(id));
}

function capacity(concurrency) {
  return new v1.FromWorker().setCapacity(new v1.Capacity().setConcurrency(concurrency));
}

// headers: [{name, value}]; body: a Buffer. Both may be omitted (an empty 200 after a cancel).
function response(id, status, headers = [], body = undefined) {
  const r = new v1.Response().setId(id).setStatus(status).setHeadersList(headerList(headers));
  if (body !== undefined) r.setBody(body);
  return new v1.FromWorker().setResponse(r);
}

function streamStart(id, status, headers) {
  return new v1.FromWorker().setStreamStart(new v1.StreamStart().setId(id).setStatus(status).setHeadersList(headerList(headers)));
}

function streamData(id, data) {
  return new v1.FromWorker().setStreamData(new v1.StreamData().setId(id).setData(data));
}

// error: '' for a clean end, else why the stream was cut short.
function streamEnd(id, error) {
  return new v1.FromWorker().setStreamEnd(new v1.StreamEnd().setId(id).setError(wellFormed(error)));
}

function keepAlive(id) {
  return new v1.FromWorker().setKeepAlive(new v1.KeepAlive().setId(id));
}

module.exports = { ready, log, capacity, response, streamStart, streamData, streamEnd, keepAlive, wellFormed };
