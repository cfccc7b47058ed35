'use strict';
// The stdio guard. fd 1 carries protocol frames and nothing else may write there: one stray
// console.log is a protocol error, and uhw kills the worker with every request it holds. Nor
// may anything but the SDK read fd 0, or it would steal requests.
//
// Where Linux lets us (fds 0 and 1 are pipes, as uhw gives them, and fd 2 can be reopened),
// the guard works at the file-descriptor level: the SDK reopens the two pipes through
// /proc/self/fd as private descriptors, then points fd 0 at /dev/null and fd 1 at stderr
// (close, then open: open returns the lowest free descriptor; Node has no dup2). After that,
// console.log, process.stdout, native code and child processes spawned with stdio 'inherit'
// all write to the log, and a stray read of stdin sees EOF.
//
// Elsewhere (a socket, not a pipe; no /proc) the guard is at the JavaScript level only:
// process.stdout becomes process.stderr and console writes to stderr.

const fs = require('fs');

let claimed = null;

function fdIs(fd, test) {
  try {
    return test(fs.fstatSync(fd));
  } catch {
    return false;
  }
}

function openOr(path, flags) {
  try {
    return fs.openSync(path, flags);
  } catch {
    return -1;
  }
}

function closeQuietly(fd) {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

// Moves the protocol off fds 0 and 1 if it can; returns {inFd, outFd, mode: 'fd' | 'js'}.
function privateDescriptors() {
  const { O_RDONLY, O_WRONLY, O_APPEND, O_NONBLOCK } = fs.constants;
  if (process.platform !== 'linux' || !fdIs(0, (s) => s.isFIFO()) || !fdIs(1, (s) => s.isFIFO())) return { inFd: 0, outFd: 1, mode: 'js' };
  // fd 2 must be reopenable (a pipe, a file or a terminal; not a socket) to take fd 1's place.
  const probe = openOr('/proc/self/fd/2', O_WRONLY | O_APPEND | O_NONBLOCK);
  if (probe < 0) return { inFd: 0, outFd: 1, mode: 'js' };
  closeQuietly(probe);
  // O_NONBLOCK: opening a named FIFO must not wait for its other end (libuv makes the fds
  // non-blocking anyway). One cost, for named FIFOs only: one opened this way after its last
  // writer left never reports EOF to epoll. uhw's pipes are anonymous, where that cannot happen.
  const inFd = openOr('/proc/self/fd/0', O_RDONLY | O_NONBLOCK);
  const outFd = openOr('/proc/self/fd/1', O_WRONLY | O_NONBLOCK);
  if (inFd < 0 || outFd < 0) {
    if (inFd >= 0) closeQuietly(inFd);
    if (outFd >= 0) closeQuietly(outFd);
    return { inFd: 0, outFd: 1, mode: 'js' };
  }
  fs.closeSync(0);
  const nul = fs.openSync('/dev/null', O_RDONLY);
  fs.closeSync(1);
  const err = fs.openSync('/proc/self/fd/2', O_WRONLY | O_APPEND);
  if (nul !== 0 || err !== 1) {
    // Another thread took a descriptor in between (nothing should be running yet). The
    // protocol is safe on its private fds; say that fds 0/1 are not where they should be.
    process.stderr.write(`uhw-worker: stdio guard: /dev/null got fd ${nul}, stderr got fd ${err} (wanted 0 and 1)\n`);
  }
  return { inFd, outFd, mode: 'fd' };
}

// Claims the protocol descriptors for the SDK (once per process) and redirects JavaScript's
// stdout to stderr. Returns {inFd, outFd, mode}.
function claimStdio() {
  if (claimed) return claimed;
  claimed = privateDescriptors();
  const stderr = process.stderr;
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => stderr });
  // The global console binds process.stdout on first use and keeps it; `_stdout` is where it
  // keeps it (a setter since Node 10). Repoint it in case something logged before the guard.
  try {
    console._stdout = stderr;
  } catch {
    // not assignable in this Node: the console has not been used yet, or logs to stderr already
  }
  return claimed;
}

module.exports = { claimStdio };
