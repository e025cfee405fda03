"""Workload (c): an aiohttp server on the default asyncio loop.

Usage: aiohttp_app.py PORT   (Debian's python3.11 with python3-aiohttp).
Prints "ready <pid>" at startup; serves GET / until SIGINT or SIGTERM.
"""
import os
import sys

from aiohttp import web


async def hello(request):
    return web.json_response({"hello": "world"})


async def ready(app):
    print("ready", os.getpid(), flush=True)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/", hello)
    app.on_startup.append(ready)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
