// Node.js target: a setInterval callback busy-waits 200 ms every ~500 ms.
// Usage: node busy.js [SECONDS] [block]   (exits after SECONDS, default 60)
// Prints "ready <pid>" once the loop runs. Every stall is a ~200 ms busy
// interval of the libuv loop thread: the tool must report lag.max_ns >= 190 ms.
// With "block", the callback instead waits 150 ms in Atomics.wait (a futex
// on the loop thread): a blocking call as well as the lag.
'use strict';

const BUSY_MS = 200;
const PERIOD_MS = 500;
const seconds = Number(process.argv[2] || 60);

function busyWait(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

const BLOCK_MS = 150;
const cell = new Int32Array(new SharedArrayBuffer(4));
const stall = process.argv[3] === 'block'
  ? () => Atomics.wait(cell, 0, 0, BLOCK_MS)
  : () => busyWait(BUSY_MS);
const timer = setInterval(stall, PERIOD_MS);

setTimeout(() => {
  clearInterval(timer);
}, seconds * 1000);

process.on('SIGTERM', () => {
  clearInterval(timer);
  process.exit(0);
});

setImmediate(() => {
  process.stdout.write(`ready ${process.pid}\n`);
});
