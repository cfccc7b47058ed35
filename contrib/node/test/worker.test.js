'use strict';
// The SDK as uhw sees it: a worker process on pipes, driven frame by frame.
const test = require('node:test');
const assert = require('node:assert/strict');
const { WorkerProcess, frame, header } = require('./helpers');

const LOG_ERROR = 3;

// Starts `code` as a worker, runs fn(w), and always stops the worker and cleans up.
async function withWorker(code, opts, fn) {
  if (typeof opts === 'function') [fn, opts] = [opts, {}];
  const w = new WorkerProcess(code, opts);
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

const ECHO = `
const { serve } = require(SDK);
serve(async (req) => ({
  status: 200,
  headers: { 'content-type': 'application/json', 'x-id': String(req.id) },
  json: { id: req.id, method: req.method, path: req.path, query: req.query, url: req.url,
          headers: req.headers, host: req.header('HOST'), all: req.headerValues('x-rep'),
          body: req.text(), remote: req.remoteAddr + ':' + req.remotePort, scheme: req.scheme,
          version: req.httpVersion, pool: req.pool, timeoutMs: req.timeoutMs, q: req.searchParams.get('q') },
}));`;

test('Ready comes first: protocol 1, concurrency 64 by default, or as asked', async () => {
  await withWorker(ECHO, async (w) => {
    const ready = await w.next('ready');
    assert.equal(w.messages[0].msg, 'ready');
    assert.equal(ready.protocol, 1);
    assert.equal(ready.concurrency, 64);
    assert.match(ready.info, /^node v\d+/);
  });
  await withWorker(`require(SDK).serve(async () => ({}), { concurrency: 3, info: 'mine' })`, async (w) => {
    const ready = await w.next('ready');
    assert.equal(ready.concurrency, 3);
    assert.equal(ready.info, 'mine');
  });
});

test('a request reaches the handler whole and its answer comes back', async () => {
  await withWorker(ECHO, async (w) => {
    w.request(9, {
      method: 'POST', path: '/p', query: 'q=%C3%A9&x=1', body: Buffer.from('body!'),
      headers: [['host', 'h.test'], ['x-rep', 'a'], ['x-rep', 'b'], ['cookie', 'a=1'], ['cookie', 'b=2']].map(([name, v]) => ({ name, value: Buffer.from(v) })),
      remoteAddr: '10.0.0.1', remotePort: 5555, scheme: 'https', httpVersion: 'HTTP/2', pool: 'api', timeoutMs: 1234,
    });
    const res = await w.next('response');
    assert.equal(res.id, 9);
    assert.equal(res.status, 200);
    assert.equal(header(res, 'content-type'), 'application/json');
    assert.equal(header(res, 'x-id'), '9');
    assert.deepEqual(JSON.parse(res.body), {
      id: 9, method: 'POST', path: '/p', query: 'q=%C3%A9&x=1', url: '/p?q=%C3%A9&x=1',
      headers: { host: 'h.test', 'x-rep': 'a, b', cookie: 'a=1; b=2' }, host: 'h.test', all: ['a', 'b'],
      body: 'body!', remote: '10.0.0.1:5555', scheme: 'https', version: 'HTTP/2', pool: 'api', timeoutMs: 1234, q: 'é',
    });
  });
});

test('a frame split at every byte offset, each half in its own pipe write', async () => {
  await withWorker(ECHO, async (w) => {
    await w.next('ready');
    const bytes = frame({ request: { id: 1, method: 'GET', path: '/split', headers: [{ name: 'host', value: Buffer.from('x') }] } });
    for (let i = 1; i < bytes.length; ++i) {
      const f = frame({ request: { id: 1000 + i, method: 'GET', path: '/split', query: `i=${i}` } });
      const cut = Math.min(i, f.length - 1);
      w.stdin.write(f.subarray(0, cut));
      // Give the worker time to read the first part on its own (if it reads both at once the
      // split is just not exercised; the answer must be right either way).
      await new Promise((r) => setTimeout(r, 5));
      w.stdin.write(f.subarray(cut));
      const res = await w.next('response', (r) => r.id === 1000 + i);
      assert.equal(JSON.parse(res.body).query, `i=${i}`);
    }
  });
});

test('many frames in one write are all answered, each once', async () => {
  await withWorker(ECHO, async (w) => {
    await w.next('ready');
    const n = 200;
    w.stdin.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame({ request: { id: i + 1, method: 'GET', path: `/m${i + 1}` } }))));
    await w.until(() => (w.messages.filter((m) => m.msg === 'response').length === n ? true : undefined), `${n} responses`);
    const ids = w.messages.filter((m) => m.msg === 'response').map((m) => m.response.id);
    assert.deepEqual([...ids].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
    for (const m of w.messages.filter((x) => x.msg === 'response')) assert.equal(JSON.parse(m.response.body).path, `/m${m.response.id}`);
  });
});

test('concurrency: requests run at once (each waits until all have arrived)', async () => {
  const code = `
const { serve } = require(SDK);
const N = 10;
let arrived = 0, release;
const all = new Promise((r) => (release = r));
serve(async (req) => {
  if (++arrived === N) release();
  await all; // with one request at a time this never resolves
  return { status: 200, body: 'in flight together: ' + arrived };
});`;
  await withWorker(code, async (w) => {
    for (let id = 1; id <= 10; ++id) w.request(id);
    for (let id = 1; id <= 10; ++id) {
      const [res] = await w.exchange(id);
      assert.equal(res.response.body.toString(), 'in flight together: 10');
    }
  });
});

test('streaming: start, writes, end; then SSE and NDJSON helpers', async () => {
  const code = `
const { serve } = require(SDK);
serve(async (req, res) => {
  if (req.path === '/raw') {
    res.start(201, { 'content-type': 'text/plain', 'x-a': ['1', '2'] });
    assert(await res.write('one '));
    await res.write(Buffer.from('two '));
    await res.write(new Uint8Array([116, 104, 114, 101, 101]));
    res.end();
    return;
  }
  if (req.path === '/sse') {
    await res.sse({ event: 'greet', id: '1', data: 'hello\\nworld' });
    await res.sse({ data: { n: 2 }, retry: 3000 });
    return; // the handler settling ends the stream
  }
  await res.ndjson({ a: 1 });
  await res.ndjson(['b']);
});
function assert(x) { if (!x) throw new Error('write did not resolve to true'); }`;
  await withWorker(code, async (w) => {
    w.request(1, { path: '/raw' });
    const raw = await w.exchange(1);
    assert.deepEqual(raw.map((m) => m.msg), ['streamStart', 'streamData', 'streamData', 'streamData', 'streamEnd']);
    assert.equal(raw[0].streamStart.status, 201);
    assert.deepEqual(raw[0].streamStart.headers.map((h) => `${h.name}=${h.value}`), ['content-type=text/plain', 'x-a=1', 'x-a=2']);
    assert.equal(raw.slice(1, 4).map((m) => m.streamData.data.toString()).join(''), 'one two three');
    assert.equal(raw[4].streamEnd.error, '');

    w.request(2, { path: '/sse' });
    const sse = await w.exchange(2);
    assert.equal(header(sse[0].streamStart, 'content-type'), 'text/event-stream');
    assert.equal(header(sse[0].streamStart, 'cache-control'), 'no-cache');
    assert.equal(sse.slice(1, -1).map((m) => m.streamData.data.toString()).join(''), 'event: greet\nid: 1\ndata: hello\ndata: world\n\nretry: 3000\ndata: {"n":2}\n\n');

    w.request(3, { path: '/nd' });
    const nd = await w.exchange(3);
    assert.equal(header(nd[0].streamStart, 'content-type'), 'application/x-ndjson');
    assert.equal(nd.slice(1, -1).map((m) => m.streamData.data.toString()).join(''), '{"a":1}\n["b"]\n');
  });
});

test('a body from an async iterable (a Readable) is streamed', async () => {
  const code = `
const { serve } = require(SDK);
const { Readable } = require('stream');
serve(async () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Readable.from(['a', 'b', 'c']) }));`;
  await withWorker(code, async (w) => {
    w.request(1);
    const frames = await w.exchange(1);
    assert.deepEqual(frames.map((m) => m.msg), ['streamStart', 'streamData', 'streamData', 'streamData', 'streamEnd']);
    assert.equal(frames.slice(1, 4).map((m) => m.streamData.data.toString()).join(''), 'abc');
  });
});

test('no frame exceeds UHW_MAX_FRAME: a large body goes out as a stream of chunks', async () => {
  const code = `
const { serve } = require(SDK);
serve(async (req, res) => {
  if (req.path === '/write') { await res.write(Buffer.alloc(10000, 98)); return; }
  return { status: 200, body: Buffer.alloc(10000, 97) };
});`;
  await withWorker(code, { env: { UHW_MAX_FRAME: '2048' } }, async (w) => {
    w.request(1);
    const frames = await w.exchange(1);
    assert.equal(frames[0].msg, 'streamStart');
    assert.equal(frames.filter((m) => m.msg === 'streamData').map((m) => m.streamData.data.toString()).join(''), 'a'.repeat(10000));
    w.request(2, { path: '/write' });
    const written = await w.exchange(2);
    assert.ok(written.length > 5);
    assert.equal(written.filter((m) => m.msg === 'streamData').map((m) => m.streamData.data.toString()).join(''), 'b'.repeat(10000));
    assert.ok(Math.max(...w.frameSizes) <= 2048, `largest frame ${Math.max(...w.frameSizes)}`);
  });
});

test('Cancel aborts the request signal with its reason; later output is dropped but the request still ends', async () => {
  const code = `
const { serve, log } = require(SDK);
serve(async (req, res) => {
  await res.write('before');
  await new Promise((resolve) => req.signal.addEventListener('abort', resolve));
  log('info', 'aborted: ' + req.signal.reason.code + ' ' + req.signal.reason.name + ' cancelled=' + req.cancelled);
  const sent = await res.write('after'); // dropped
  log('info', 'write after cancel resolved to ' + sent);
});`;
  await withWorker(code, async (w) => {
    w.request(5);
    await w.next('streamData', (d) => d.id === 5);
    w.send({ cancel: { id: 5, reason: 1 } });
    const frames = await w.exchange(5);
    assert.deepEqual(frames.map((m) => m.msg), ['streamStart', 'streamData', 'streamEnd']);
    const logs = w.messages.filter((m) => m.msg === 'log').map((m) => m.log.message);
    assert.deepEqual(logs, ['aborted: TIMEOUT AbortError cancelled=true', 'write after cancel resolved to false']);
  });
});

test('a handler that rejects on abort (timers/promises) ends quietly, as does one cancelled before it answers', async () => {
  const code = `
const { serve } = require(SDK);
const { setTimeout: sleep } = require('timers/promises');
serve(async (req) => {
  await sleep(600000, null, { signal: req.signal }); // rejects with an AbortError on Cancel
  return { status: 200, body: 'never' };
});`;
  await withWorker(code, async (w) => {
    w.request(1);
    w.request(2);
    await w.next('ready');
    w.send({ cancel: { id: 1, reason: 0 } });
    w.send({ cancel: { id: 2, reason: 2 } });
    for (const id of [1, 2]) {
      const [end] = await w.exchange(id);
      assert.equal(end.msg, 'response');
      assert.equal(end.response.body.length, 0, 'nothing but the end is sent for a cancelled request');
    }
    assert.equal(w.messages.filter((m) => m.msg === 'log' && m.log.level === LOG_ERROR).length, 0);
  });
});

test('a handler that throws gets 500 and an ERROR log with the stack; so does a missing response', async () => {
  const code = `
const { serve } = require(SDK);
serve(async (req, res) => {
  if (req.path === '/sync') return syncThrow();
  if (req.path === '/none') return;
  if (req.path === '/mid') { await res.write('part'); throw new Error('mid-stream'); }
  throw new TypeError('kaboom');
});
function syncThrow() { throw new RangeError('sync'); }`;
  await withWorker(code, async (w) => {
    for (const [id, path] of [[1, '/'], [2, '/sync'], [3, '/none']]) {
      w.request(id, { path });
      const [res] = await w.exchange(id);
      assert.equal(res.response.status, 500, path);
      assert.equal(res.response.body.toString(), 'Internal Server Error\n');
    }
    w.request(4, { path: '/mid' });
    const mid = await w.exchange(4);
    assert.equal(mid[mid.length - 1].streamEnd.error, 'handler failed');
    const errors = w.messages.filter((m) => m.msg === 'log' && m.log.level === LOG_ERROR);
    assert.equal(errors.length, 4);
    assert.match(errors[0].log.message, /^GET \/: handler failed: TypeError: kaboom\n\s+at /);
    assert.match(errors[1].log.message, /RangeError: sync\n\s+at syncThrow/);
    assert.match(errors[2].log.message, /returned undefined/);
    assert.match(errors[3].log.message, /Error: mid-stream/);
    assert.deepEqual(errors.map((m) => m.log.id), [1, 2, 3, 4]);
  });
});

test('invalid status and headers are refused in the SDK: 500 and an ERROR log, never the bad frame', async () => {
  const code = `
const { serve } = require(SDK);
serve(async (req, res) => {
  switch (req.path) {
    case '/crlf': return { status: 200, headers: { 'x-a': 'v\\r\\nset-cookie: evil=1' }, body: 'x' };
    case '/hop': return { status: 200, headers: { Connection: 'close' } };
    case '/name': return { status: 200, headers: { 'bad name': 'x' } };
    case '/status': return { status: 99 };
    case '/start':
      try { res.start(200, { 'transfer-encoding': 'chunked' }); } catch (e) { return { status: 200, body: 'refused: ' + e.message }; }
  }
});`;
  await withWorker(code, async (w) => {
    let id = 0;
    for (const path of ['/crlf', '/hop', '/name', '/status']) {
      w.request(++id, { path });
      const [res] = await w.exchange(id);
      assert.equal(res.response.status, 500, path);
      assert.equal(res.response.headers.length, 1, path); // only the SDK's own content-type
    }
    w.request(++id, { path: '/start' });
    const [res] = await w.exchange(id);
    assert.match(res.response.body.toString(), /^refused: .*hop-by-hop/);
    const errors = w.messages.filter((m) => m.msg === 'log' && m.log.level === LOG_ERROR).map((m) => m.log.message);
    assert.equal(errors.length, 4);
    assert.match(errors[0], /control character/);
    assert.match(errors[1], /hop-by-hop/);
    assert.match(errors[2], /not an HTTP token/);
    assert.match(errors[3], /invalid status 99/);
  });
});

const GUARD = `
require(SDK); // under uhw (UHW_PROTOCOL set) the guard is up as soon as the SDK loads
console.log('console.log before serve');
const { serve } = require(SDK);
const { execFileSync, spawnSync } = require('child_process');
serve(async () => {
  console.log('console.log in a handler');
  console.info('console.info');
  process.stdout.write('process.stdout.write\\n');
  if (process.env.CHILD) spawnSync('sh', ['-c', 'echo child with inherited stdout'], { stdio: 'inherit' });
  return { status: 200, body: 'fine' };
});`;

for (const [name, opts, lines] of [
  ['pipes (the fd-level guard, as under uhw)', { env: { CHILD: '1' } }, ['child with inherited stdout']],
  ['sockets (the JavaScript-level guard)', { sockets: true }, []],
]) {
  test(`stdout guard on ${name}: stray output goes to stderr, frames stay intact`, async () => {
    await withWorker(GUARD, opts, async (w) => {
      w.request(1);
      w.request(2);
      for (const id of [1, 2]) {
        const [res] = await w.exchange(id);
        assert.equal(res.response.body.toString(), 'fine');
      }
      const expected = ['console.log before serve', 'console.log in a handler', 'console.info', 'process.stdout.write', ...lines];
      await w.until(() => (expected.every((l) => w.stderrText.includes(l)) ? true : undefined), 'stray lines on stderr');
      assert.equal(w.buf.length, 0, 'no bytes left over on stdout');
      assert.ok(w.messages.every((m) => ['ready', 'response'].includes(m.msg)), JSON.stringify(w.messages.map((m) => m.msg)));
    });
  });
}

test('Configure: settings reach the application and the onConfigure hook', async () => {
  const code = `
const { serve, settings, log } = require(SDK);
serve(async () => ({ status: 200, json: settings() }), { onConfigure: (s) => log('info', 'configured ' + Object.keys(s)) });`;
  await withWorker(code, async (w) => {
    w.send({ configure: { settings: [{ key: 'color', value: 'blue' }, { key: 'n', value: '3' }] } });
    w.request(1);
    const [res] = await w.exchange(1);
    assert.deepEqual(JSON.parse(res.response.body), { color: 'blue', n: '3' });
    assert.equal((await w.next('log')).message, 'configured color,n');
  });
});

test('Capacity: pause() announces 0, resume() the concurrency again', async () => {
  const code = `
const { serve, pause, resume } = require(SDK);
serve(async (req) => { if (req.path === '/pause') pause(); else resume(); return { status: 204 }; }, { concurrency: 8 });`;
  await withWorker(code, async (w) => {
    w.request(1, { path: '/pause' });
    assert.equal((await w.next('capacity')).concurrency, 0);
    w.request(2, { path: '/resume' });
    await w.exchange(2);
    const caps = w.messages.filter((m) => m.msg === 'capacity').map((m) => m.capacity.concurrency);
    assert.deepEqual(caps, [0, 8]);
  });
});

test('Shutdown: nothing new, the request in flight finishes, onShutdown runs, exit 0', async () => {
  const code = `
const { serve, stopping } = require(SDK);
let release;
const released = new Promise((r) => (release = r));
serve(async () => { await released; return { status: 200, body: 'finished after shutdown: ' + stopping() }; },
      { onShutdown: (grace) => { console.error('grace ' + grace); release(); } });`;
  await withWorker(code, async (w) => {
    w.request(1);
    await w.next('ready');
    w.send({ shutdown: { graceMs: 1500 } });
    const [res] = await w.exchange(1);
    assert.equal(res.response.body.toString(), 'finished after shutdown: true');
    assert.deepEqual(await w.exit(), { code: 0, signal: null });
    assert.match(w.stderrText, /grace 1500/);
  });
});

test('EOF on stdin: the requests in flight finish, then exit 0', async () => {
  const code = `
const { serve } = require(SDK);
serve(async (req) => { await new Promise((r) => setTimeout(r, 200)); return { status: 200, body: 'late ' + req.id }; });`;
  await withWorker(code, async (w) => {
    w.request(1);
    w.request(2);
    await w.next('ready');
    w.closeStdin();
    for (const id of [1, 2]) assert.equal((await w.exchange(id))[0].response.body.toString(), `late ${id}`);
    assert.deepEqual(await w.exit(), { code: 0, signal: null });
  });
});

test('EOF with a handler that can never finish: exit 1 and say so', async () => {
  const code = `require(SDK).serve(() => new Promise(() => {}));`;
  await withWorker(code, async (w) => {
    w.request(1);
    await w.next('ready');
    w.closeStdin();
    assert.deepEqual(await w.exit(), { code: 1, signal: null });
    assert.match(w.stderrText, /1 request\(s\) unfinished/);
  });
});

test('garbage on stdin is a protocol error: exit 1 with a message', async () => {
  await withWorker(ECHO, async (w) => {
    await w.next('ready');
    w.stdin.write(Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.deepEqual(await w.exit(), { code: 1, signal: null });
    assert.match(w.stderrText, /protocol error/);
  });
});

test('log() and req.log() send Log frames with their level and request id', async () => {
  const code = `
const { serve, log } = require(SDK);
log('warning', 'before serve');
serve(async (req) => { req.log('debug', 'about me'); log(4, new Error('an error object')); return { status: 204 }; });`;
  await withWorker(code, async (w) => {
    w.request(77);
    await w.exchange(77);
    const logs = w.messages.filter((m) => m.msg === 'log').map((m) => [m.log.level, m.log.id, m.log.message.split('\n')[0]]);
    assert.deepEqual(logs, [[2, 0, 'before serve'], [0, 77, 'about me'], [4, 0, 'Error: an error object']]);
    assert.equal(w.messages[0].msg, 'log', 'a log before serve() comes before Ready');
  });
});
