"""Run a Python script under an in-process profiler, for the comparison.

Usage: inproc.py none|yappi SCRIPT [ARGS...]
yappi: wall clock, all threads, builtins off (yappi's defaults otherwise),
started before the script runs; its results are discarded.
"""
import runpy
import sys

if __name__ == "__main__":
    mode, script = sys.argv[1], sys.argv[2]
    sys.argv = sys.argv[2:]
    if mode == "yappi":
        import yappi
        yappi.set_clock_type("wall")
        yappi.start()
    runpy.run_path(script, run_name="__main__")
