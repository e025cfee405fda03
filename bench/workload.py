"""Benchmark workloads, timed inside the process with perf_counter.

steps: TASKS tasks x STEPS `await asyncio.sleep(0)`: one callback per step,
       the worst case for a per-callback probe.
echo:  an asyncio TCP echo over loopback: CONNS connections x ROUNDS round
       trips, about ten syscalls per round trip: the syscall tracepoints' cost.

Usage: workload.py steps|echo [--uvloop] [--wait-file F] [--tasks N] [--each N] [--seconds S]
                   [--ticks S]
Prints "ready <pid>" then, once F exists (if given), runs and prints
"result <name> <seconds> <steps> <cpu seconds>" (steps: those run by
`steps`, else 0; CPU time of the process, probes run in it included).
With --ticks, `steps` runs until killed and prints every S seconds
"tick <CLOCK_MONOTONIC s> <steps so far> <process CPU s>", for
bench/paired.py, which attaches and detaches the tracer meanwhile.
"""
import asyncio
import os
import sys
import time


async def steps(tasks=100, n=3000, seconds=0.0, ticks=0.0):
    """n steps per task, or as many as fit in `seconds` (forever with ticks); returns the
    steps run."""
    done = [0]

    async def one():
        for _ in range(n):
            await asyncio.sleep(0)

    async def timed():
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(100):
                await asyncio.sleep(0)
            done[0] += 100

    async def ticker():
        # cumulative counts: the reader takes differences between any two ticks
        while True:
            print("tick %.6f %d %.6f" % (time.monotonic(), done[0], time.process_time()),
                  flush=True)
            await asyncio.sleep(ticks)

    if ticks:
        seconds = float("inf")
        asyncio.get_running_loop().create_task(ticker())
    await asyncio.gather(*((timed() if seconds else one()) for _ in range(tasks)))
    return done[0] if seconds else tasks * n


async def echo(conns=10, rounds=3000):
    async def handle(reader, writer):
        while True:
            data = await reader.read(64)
            if not data:
                break
            writer.write(data)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(rounds):
            writer.write(b"ping")
            await reader.readexactly(4)
        writer.close()

    await asyncio.gather(*(client() for _ in range(conns)))
    server.close()


async def main(name, wait_file, kw):
    print("ready", os.getpid(), flush=True)
    while wait_file and not os.path.exists(wait_file):
        await asyncio.sleep(0.01)
    t0, c0 = time.perf_counter(), time.process_time()
    count = await {"steps": steps, "echo": echo}[name](**kw)
    print("result", name, "%.4f" % (time.perf_counter() - t0), count or 0,
          "%.4f" % (time.process_time() - c0), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--uvloop" in args:
        import uvloop
        uvloop.install()
        args.remove("--uvloop")
    wait = None
    if "--wait-file" in args:
        i = args.index("--wait-file")
        wait = args[i + 1]
        del args[i:i + 2]
    kw = {}
    for opt, key in (("--tasks", "tasks"), ("--each", "n"), ("--seconds", "seconds"),
                     ("--ticks", "ticks")):
        if opt in args:
            i = args.index(opt)
            kw[key] = float(args[i + 1]) if key in ("seconds", "ticks") else int(args[i + 1])
            del args[i:i + 2]
    asyncio.run(main(args[0], wait, kw))
