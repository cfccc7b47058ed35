'use strict';
// The request a handler sees: the fields of the Request frame under JavaScript names, plus
// conveniences computed on first use (headers as an object, URLSearchParams, JSON body).

// uint64 fields decode as Long objects when protobufjs has `long` (it does); request ids are
// counters far below 2^53, so a number is exact.
function toNumber(v) {
  return typeof v === 'number' ? v : v.toNumber();
}

class UhwRequest {
  constructor(msg, res) {
    this.id = toNumber(msg.id);
    this.method = msg.method;
    this.path = msg.path;          // without the query string
    this.query = msg.query;        // without the '?', not decoded
    this.body = msg.body;          // Buffer (empty when there is none)
    this.remoteAddr = msg.remoteAddr;
    this.remotePort = msg.remotePort;
    this.scheme = msg.scheme;      // "http" | "https"
    this.httpVersion = msg.httpVersion;
    this.pool = msg.pool;
    this.timeoutMs = msg.timeoutMs; // time left before uhw answers 504 (KeepAlive resets it)
    this.res = res;
    this._headerList = msg.headers;
    this._raw = null;
    this._headers = null;
  }

  // [[name, value], ...] in the order received, repeated names repeated; names lower case,
  // values decoded as latin1 (one byte, one character, as Node's http module does).
  get rawHeaders() {
    if (this._raw === null) {
      this._raw = this._headerList.map((h) => [h.name.toLowerCase(), h.value.toString('latin1')]);
    }
    return this._raw;
  }

  // {name: value}: lower-case names; a repeated header's values joined with ", " ("; " for
  // cookie), as HTTP allows. headerValues(name) gives them one by one.
  get headers() {
    if (this._headers === null) {
      const h = Object.create(null);
      for (const [name, value] of this.rawHeaders) {
        if (h[name] === undefined) h[name] = value;
        else h[name] += (name === 'cookie' ? '; ' : ', ') + value;
      }
      this._headers = h;
    }
    return this._headers;
  }

  // The first value of header `name` (any case), or undefined.
  header(name) {
    const lower = name.toLowerCase();
    const found = this.rawHeaders.find((pair) => pair[0] === lower);
    return found === undefined ? undefined : found[1];
  }

  // Every value of header `name` (any case), in order.
  headerValues(name) {
    const lower = name.toLowerCase();
    return this.rawHeaders.filter((pair) => pair[0] === lower).map((pair) => pair[1]);
  }

  get url() {
    return this.query === '' ? this.path : `${this.path}?${this.query}`;
  }

  get searchParams() {
    return new URLSearchParams(this.query);
  }

  text() {
    return this.body.toString('utf8');
  }

  json() {
    return JSON.parse(this.text());
  }

  // Aborted when uhw cancels the request (client gone, timeout, shutdown); signal.reason is an
  // UhwCancelError whose `code` says which.
  get signal() {
    return this.res.signal;
  }

  get cancelled() {
    return this.res.cancelled;
  }

  // Logs through uhw, tagged with this request's id.
  log(level, message) {
    this.res.log(level, message);
  }
}

module.exports = { UhwRequest, toNumber };
