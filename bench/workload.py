"""Benchmark workloads, timed inside the process with perf_counter.

steps: TASKS tasks x STEPS `await asyncio.sleep(0)`: one callback per step,
       the worst case for a per-callback probe.
echo:  an asyncio TCP echo over loopback: CONNS connections x ROUNDS round
       trips, about ten syscalls per round trip: the syscall tracepoints' cost.

Usage: workload.py steps|echo [--uvloop] [--wait-file F]
Prints "ready <pid>" then, once F exists (if given), runs and prints
"result <name> <seconds>".
"""
import asyncio
import os
import sys
import time


async def steps(tasks=100, n=3000):
    async def one():
        for _ in range(n):
            await asyncio.sleep(0)
    await asyncio.gather(*(one() for _ in range(tasks)))


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


async def main(name, wait_file):
    print("ready", os.getpid(), flush=True)
    while wait_file and not os.path.exists(wait_file):
        await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    await {"steps": steps, "echo": echo}[name]()
    print("result", name, "%.4f" % (time.perf_counter() - t0), flush=True)


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
    asyncio.run(main(args[0], wait))
