// Node.js target: a setInterval callback busy-waits 200 ms every ~500 ms.
// Usage: node busy.js [SECONDS]   (exits after SECONDS, default 60)
// Prints "ready <pid>" once the loop runs. Every stall is a ~200 ms busy
// interval of the libuv loop thread: the tool must report lag.max_ns >= 190 ms.
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

const timer = setInterval(() => busyWait(BUSY_MS), PERIOD_MS);

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
