'use strict';
// One value of every uhw.v1 message with every field set to something other than its default
// (so that each is on the wire), as plain objects for messages.js's build(). ids near 2^53
// check that uint64 stays exact as a JavaScript number up to there.

const BIG_ID = 2 ** 53 - 1;
const bytes = (s) => Buffer.from(s, 'latin1');

const header = { name: 'x-h', value: bytes('v\xff\x00') };
const request = {
  id: BIG_ID, method: 'POST', path: '/p/é', query: 'q=1', headers: [header, { name: 'host', value: bytes('h') }],
  body: bytes('\x00body\xff'), remoteAddr: '10.0.0.1', remotePort: 65535, scheme: 'https', httpVersion: 'HTTP/2',
  pool: 'api', timeoutMs: 4294967295, target: '/p/%C3%A9?q=1',
};
const cancel = { id: 3, reason: 2 };
const shutdown = { graceMs: 1500 };
const setting = { key: 'k', value: 'v' };
const configure = { settings: [setting, { key: 'n', value: '3' }] };
const ready = { protocol: 1, concurrency: 64, info: 'node ✓' };
const response = { id: BIG_ID - 1, status: 201, headers: [header], body: bytes('ok\n') };
const streamStart = { id: 7, status: 200, headers: [header] };
const streamData = { id: 7, data: bytes('\x01\x02') };
const streamEnd = { id: 7, error: 'handler failed' };
const keepAlive = { id: 8 };
const log = { level: 4, message: 'line 😀', id: 9 };
const capacity = { concurrency: 2 };
const requestFailed = { id: 10, status: 504, reason: 'timeout', exitCode: -1, signal: 9, detail: 'killed by SIGKILL', pid: 4242 };

// [class name, [values]]: the oneof wrappers once per member.
const EVERY_FIELD = [
  ['Header', [header]],
  ['Request', [request]],
  ['Cancel', [cancel]],
  ['Shutdown', [shutdown]],
  ['Setting', [setting]],
  ['Configure', [configure]],
  ['ToWorker', [{ request }, { cancel }, { shutdown }, { configure }]],
  ['Ready', [ready]],
  ['Response', [response]],
  ['StreamStart', [streamStart]],
  ['StreamData', [streamData]],
  ['StreamEnd', [streamEnd]],
  ['KeepAlive', [keepAlive]],
  ['Log', [log]],
  ['Capacity', [capacity]],
  ['RequestFailed', [requestFailed]],
  ['FromWorker', [{ ready }, { response }, { streamStart }, { streamData }, { streamEnd }, { keepAlive }, { log }, { capacity }, { requestFailed }]],
];

module.exports = { EVERY_FIELD };
