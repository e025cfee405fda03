"""A web service that blocks its own loop: every GET /block runs a handler
that calls time.sleep(0.1) on the loop thread. Prints "ready <pid> <port>"
and serves until killed (at most --seconds).

    web_block.py --framework fastapi|aiohttp [--seconds S]

fastapi: FastAPI on uvicorn with uvloop and httptools; aiohttp: aiohttp's
own server. Debian's packages (python3-fastapi, python3-uvicorn,
python3-uvloop, python3-httptools, python3-aiohttp); CPython 3.14+ from
Debian sid's root, where uvloop exists for 3.14 only (elsewhere uvicorn
runs asyncio's loop).
"""
import argparse
import os
import socket
import threading
import time

SLEEP_S = 0.1


def blocking_work():
    time.sleep(SLEEP_S)  # @mark:web_sleep


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_fastapi(port):
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/block")
    async def block():
        blocking_work()  # @mark:fastapi_handler
        return {"ok": True}

    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uvicorn.run(app, host="127.0.0.1", port=port, loop=loop, http="httptools",
                log_level="warning")


def serve_aiohttp(port):
    from aiohttp import web

    async def block(request):
        blocking_work()  # @mark:aiohttp_handler
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/block", block)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=("fastapi", "aiohttp"), required=True)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    port = free_port()
    # the test must not outlive it: exit after --seconds whatever happens
    threading.Timer(args.seconds, os._exit, (0,)).start()
    print("ready %d %d" % (os.getpid(), port), flush=True)
    (serve_fastapi if args.framework == "fastapi" else serve_aiohttp)(port)


if __name__ == "__main__":
    main()
