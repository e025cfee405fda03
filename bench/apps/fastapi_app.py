"""Workload (b): a FastAPI app on uvicorn with uvloop and httptools.

Usage: fastapi_app.py PORT [TICK_S]   (Debian's python3.11 with python3-fastapi,
python3-uvicorn, python3-uvloop, python3-httptools). Prints "ready <pid>"
once the app has started; serves GET / until SIGINT or SIGTERM. With
TICK_S, prints every TICK_S seconds "tick <CLOCK_MONOTONIC s> <requests
so far> <process CPU s>" for bench/paired.py.
"""
import asyncio
import os
import sys
import time

import uvicorn
from fastapi import FastAPI

app = FastAPI()
served = [0]  # one increment a request: nothing next to the request's ~130 µs


@app.get("/")
async def root():
    served[0] += 1
    return {"hello": "world"}


async def ticker(every):
    while True:
        print("tick %.6f %d %.6f" % (time.monotonic(), served[0], time.process_time()),
              flush=True)
        await asyncio.sleep(every)


@app.on_event("startup")
async def ready():
    print("ready", os.getpid(), flush=True)
    if len(sys.argv) > 2:
        app.state.ticker = asyncio.get_running_loop().create_task(ticker(float(sys.argv[2])))


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False)
