'use strict';
// uhw-worker: write uhw workers in Node.js.
//
//   const { serve } = require('uhw-worker');
//   serve(async (req) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'hello\n' }));
//
// See README.md. Under uhw (UHW_PROTOCOL set) the stdio guard is set up as soon as this module
// loads, so that even set-up code running before serve() cannot write to the protocol pipe;
// elsewhere (say, an application's own tests requiring its handler) only serve() sets it up.

const { Worker, sendLog, openOutput } = require('./worker');
const { UhwCancelError } = require('./response');
const { sseEvent, ndjsonLine } = require('./format');

if (process.env.UHW_PROTOCOL) openOutput();

let worker = null;

function current(what) {
  if (worker === null) throw new Error(`uhw-worker: ${what}() before serve()`);
  return worker;
}

// Runs the worker: announces Ready, then calls handler(req, res) for every request, up to
// `concurrency` (default 64) at once. Options: concurrency, info (shown by uhw status),
// onConfigure(settings), onShutdown(graceMs) (may return a promise; the process exits when it
// and every open request are done). Returns the worker; call it once per process.
function serve(handler, options) {
  if (worker !== null) throw new Error('uhw-worker: serve() was already called');
  worker = new Worker(handler, options);
  return worker.start();
}

module.exports = {
  serve,
  // log(level, message): a log line through uhw. level: 'debug', 'info', 'warning', 'error', 'critical'.
  log: (level, message) => sendLog(level, message, 0),
  // The settings of the pool's `settings:` (Configure frames), as a frozen object.
  settings: () => (worker === null ? Object.freeze({}) : worker.settings),
  // Whether Shutdown (or EOF) arrived: long streams may want to end early.
  stopping: () => worker !== null && worker.stopping,
  setCapacity: (n) => current('setCapacity').setCapacity(n),
  pause: () => current('pause').pause(),
  resume: () => current('resume').resume(),
  UhwCancelError,
  format: { sseEvent, ndjsonLine },
};
