'use strict';
// The request a handler sees: the fields of the Request frame under JavaScript names, plus
// conveniences computed on first use (headers as an object, URLSearchParams, JSON body).

const { asBuffer } = require('./bytes');

class UhwRequest {
  // `msg` is the v1.Request; its id (uint64) is a number, exact: ids stay far below 2^53.
  constructor(msg, res) {
    this.id = msg.getId();
    this.method = msg.getMethod();
    this.path = msg.getPath();     // without the query string
    this.query = msg.getQuery();   // without the '?', not decoded
    this.body = asBuffer(msg.getBody_asU8()); // Buffer (empty when there is none)
    this.remoteAddr = msg.getRemoteAddr();
    this.remotePort = msg.getRemotePort();
    this.scheme = msg.getScheme(); // "http" | "https"
    this.httpVersion = msg.getHttpVersion();
    this.pool = msg.getPool();
    this.timeoutMs = msg.getTimeoutMs(); // time left before uhw answers 504 (KeepAlive resets it)
    this.res = res;
    this._headerList = msg.getHeadersList();
    this._raw = null;
    this._headers = null;
  }

  // [[name, value], ...] in the order received, repeated names repeated; names lower case,
  // values decoded as latin1 (one byte, one character, as Node's http module does).
  get rawHeaders() {
    if (this._raw === null) {
      this._raw = this._headerList.map((h) => [h.getName().toLowerCase(), asBuffer(h.getValue_asU8()).toString('latin1')]);
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

module.exports = { UhwRequest };
