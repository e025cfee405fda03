#!/usr/bin/env python3
"""An asyncio HTTP service with four realistic faults, for asyncprof-bpf to find.

    python3 examples/demo_service.py [--port 8080] [--seconds S]
    sudo asyncprof-bpf -o report.html -- python3 examples/demo_service.py --seconds 10

Endpoints (plain asyncio streams, standard library only):

    GET /             fast: a small JSON document
    GET /legacy       legacy_auth(): time.sleep(0.15) in an old synchronous helper
                      -> a sync sleep in a handler
    GET /quote        fetch_quote(): urllib.request to a slow upstream (80 ms)
                      -> a synchronous HTTP call on the loop thread
    GET /report       render_report(): json.dumps of a large document, 250 ms of CPU
                      -> a CPU-heavy JSON encode in a handler
    background        compact_metrics(): a thread that runs pure-Python work for
                      200 ms every second -> the loop waits for the GIL

The upstream is this file again (--upstream PORT), started as a child
process. With --seconds the service stops by itself, so a launch-mode
trace (asyncprof-bpf -- COMMAND) ends and writes its report.
"""
import argparse
import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

UPSTREAM_DELAY_S = 0.08
RENDER_CPU_S = 0.25  # render_report's CPU time: 2.5 times the slow-callback threshold


# --- the faults --------------------------------------------------------------

def legacy_auth(user):
    """An old helper that rate-limits the synchronous way."""
    time.sleep(0.15)
    return {"user": user, "ok": True}


def fetch_quote(upstream):
    """A synchronous HTTP client called from an async handler."""
    with urllib.request.urlopen("http://127.0.0.1:%d/quote" % upstream, timeout=5) as r:
        return json.loads(r.read())


def render_report():
    """Serialises a large document on the loop thread: all CPU, no syscall.

    Page after page until 250 ms of CPU, so that it is well past the 100 ms
    slow-callback threshold on a fast machine as on a slow one."""
    rows = [{"id": i, "name": "item-%d" % i, "tags": ["a", "b", "c"], "price": i * 0.5,
             "stock": {"eu": i % 7, "us": i % 11}} for i in range(6000)]
    start = time.thread_time()
    while True:
        page = json.dumps({"rows": rows}, indent=1, sort_keys=True)
        if time.thread_time() - start >= RENDER_CPU_S:
            return page


def compact_metrics(stop):
    """A background thread doing pure-Python work: it holds the GIL while it runs."""
    while not stop.wait(1.0):
        end = time.monotonic() + 0.2
        total = 0
        while time.monotonic() < end:
            for i in range(2000):
                total += i * i


# --- the service ---------------------------------------------------------------

async def respond(writer, status, body):
    data = body.encode() if isinstance(body, str) else body
    writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(data)) + data)
    await writer.drain()


async def handle(reader, writer, upstream):
    try:
        line = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        path = line.split()[1].decode() if len(line.split()) > 1 else "/"
        if path == "/legacy":
            body = json.dumps(legacy_auth("demo"))
        elif path == "/quote":
            body = json.dumps(fetch_quote(upstream))
        elif path == "/report":
            body = render_report()
        else:
            await asyncio.sleep(0.002)  # a well-behaved handler awaits its I/O
            body = json.dumps({"status": "ok", "pid": os.getpid()})
        await respond(writer, 200, body)
    except (ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def serve(port, upstream, seconds, quiet):
    server = await asyncio.start_server(lambda r, w: handle(r, w, upstream), "127.0.0.1", port)
    if not quiet:
        print("demo service listening on http://127.0.0.1:%d (pid %d)"
              % (server.sockets[0].getsockname()[1], os.getpid()), file=sys.stderr, flush=True)
    async with server:
        if seconds:
            await asyncio.sleep(seconds)
        else:
            await server.serve_forever()


# --- the slow upstream ----------------------------------------------------------

class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(UPSTREAM_DELAY_S)
        body = json.dumps({"quote": 42.0}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run_upstream(port):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Upstream)
    srv.serve_forever()


def start_upstream():
    """This file in --upstream mode, on a free port; returns (process, port)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--upstream", str(port)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p, port
        except OSError:
            time.sleep(0.02)
    p.kill()
    sys.exit("demo service: the upstream did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--seconds", type=float, default=0, help="stop after S seconds (0: never)")
    ap.add_argument("--quiet", action="store_true", help="no start-up line on stderr")
    ap.add_argument("--upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upstream:
        return run_upstream(args.upstream)
    up, port = start_upstream()
    stop = threading.Event()
    threading.Thread(target=compact_metrics, args=(stop,), name="compactor", daemon=True).start()
    try:
        asyncio.run(serve(args.port, port, args.seconds, args.quiet))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        up.terminate()
        up.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
