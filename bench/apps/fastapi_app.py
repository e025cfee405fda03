"""Workload (b): a FastAPI app on uvicorn with uvloop and httptools.

Usage: fastapi_app.py PORT   (Debian's python3.11 with python3-fastapi,
python3-uvicorn, python3-uvloop, python3-httptools). Prints "ready <pid>"
once the app has started; serves GET / until SIGINT or SIGTERM.
"""
import os
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root():
    return {"hello": "world"}


@app.on_event("startup")
async def ready():
    print("ready", os.getpid(), flush=True)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False)
