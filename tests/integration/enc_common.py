"""Shared helpers for the encoder integration tests (TAP output, enc-tool)."""
import os
import subprocess
import sys

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("OMNIDEX_BUILD", "build/rel")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(TOP, BUILD)
TOOL = os.path.join(BUILD, "enc-tool")
sys.path.insert(0, os.path.join(TOP, "tools"))

failed = 0


def report(name, ok, detail=""):
    global failed
    if detail:
        for line in str(detail).splitlines():
            print("# " + line)
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        failed += 1


def tool(*args, stdin=None, check=True):
    r = subprocess.run([TOOL] + [str(a) for a in args], input=stdin, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError("enc-tool %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r


def finish():
    sys.exit(1 if failed else 0)
