"""Shared helpers for omnidex's Python integration tests: TAP output, running
the omnidex binary, fvecs files."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

OMNIDEX = os.environ.get("OMNIDEX_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "rel", "omnidex")

_failed = 0
# Client mode: when set, run() talks to this server instead of --data DIR.
SERVER = os.environ.get("OMNIDEX_TEST_SERVER")
PREFIX = os.environ.get("OMNIDEX_TEST_PREFIX", "")


def ok(cond, name, detail=""):
    """Prints one TAP line; returns cond."""
    global _failed
    if cond:
        print(f"ok - {PREFIX}{name}", flush=True)
    else:
        _failed += 1
        print(f"not ok - {PREFIX}{name}", flush=True)
        for line in str(detail).splitlines()[:20]:
            print(f"# {line}", flush=True)
    return cond


def done():
    sys.exit(1 if _failed else 0)


def run(data, *args, input=None, timeout=300):
    """Runs omnidex --data DATA ARGS; returns (rc, stdout, stderr)."""
    where = ["--server", SERVER] if SERVER else ["--data", data]
    p = subprocess.run([OMNIDEX, *where, *args], input=input, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write_fvecs(path, rows):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)))
            f.write(struct.pack(f"<{len(r)}f", *r))


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))


def jlines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def free_port():
    """A loopback port that was free a moment ago (for --listen)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
