"""Shared helpers for omnidex's gRPC integration tests (Python grpcio).

Stubs are generated at test time from proto/omnidex/v1/omnidex.proto and the
grpc-proto health.proto with protoc + grpc_python_plugin (Debian
protobuf-compiler-grpc). Servers are real `omnidex serve` processes on
127.0.0.1 port 0, always stopped at the end.
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

_tmpdirs = []


def tmpdir(prefix):
    """A temporary directory removed when the test exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


@atexit.register
def _cleanup():
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("OMNIDEX_BIN", os.path.join(TOP, "build", "rel", "omnidex"))
GRPC_PROTO = "/usr/share/grpc-proto"

_failed = 0
_passed = 0


def ok(cond, name, diag=""):
    global _failed, _passed
    if cond:
        _passed += 1
        print("ok - %s" % name, flush=True)
    else:
        _failed += 1
        print("not ok - %s" % name, flush=True)
        if diag:
            for line in str(diag).splitlines()[:20]:
                print("# " + line, flush=True)
    return bool(cond)


def done():
    print("# %d passed, %d failed" % (_passed, _failed), flush=True)
    sys.exit(1 if _failed else 0)


def gen_stubs():
    """protoc -> *_pb2.py / *_pb2_grpc.py in a temp dir on sys.path.

    health.proto is copied to odx_health/ first: its own path (grpc/...)
    would make a Python package named grpc that hides grpcio. The proto
    package, and so the service name, stays grpc.health.v1."""
    import shutil
    out = tmpdir("odx-stubs-")
    src = os.path.join(out, "src")
    os.makedirs(os.path.join(src, "odx_health"))
    shutil.copy(os.path.join(GRPC_PROTO, "grpc/health/v1/health.proto"), os.path.join(src, "odx_health"))
    plugin = "/usr/bin/grpc_python_plugin"
    cmd = ["protoc", "-I" + os.path.join(TOP, "proto"), "-I" + src,
           "--python_out=" + out, "--grpc_python_out=" + out,
           "--plugin=protoc-gen-grpc_python=" + plugin,
           "omnidex/v1/omnidex.proto", "odx_health/health.proto"]
    subprocess.run(cmd, check=True)
    for d in ("omnidex", "omnidex/v1", "odx_health"):
        p = os.path.join(out, d, "__init__.py")
        if not os.path.exists(p):
            open(p, "w").close()
    sys.path.insert(0, out)
    return out


class Server:
    """An `omnidex serve` child process on a free port."""

    def __init__(self, *args, data=None, models=None):
        self.data = data or tmpdir("odx-rpc-")
        self.args = list(args)
        # spaces come from OMNIDEX_MODELS: an empty directory unless a test
        # installs one, so results never depend on ~/.omnidex/models
        self.models = models or tmpdir("odx-models-")
        self.proc = None
        self.port = None
        self.errlog = os.path.join(tmpdir("odx-log-"), "server.stderr")

    def start(self, timeout=30):
        cmd = [BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0"] + self.args
        self.err = open(self.errlog, "w")
        env = dict(os.environ, OMNIDEX_MODELS=self.models)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True, env=env)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.wait(timeout=5)
            raise RuntimeError("server did not start: %r; stderr: %s" % (line, self.stderr()))
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.addr = "127.0.0.1:%d" % self.port
        return self

    def stderr(self):
        try:
            with open(self.errlog) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM, wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        rc = self.proc.returncode
        self.err.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def code_of(fn):
    """Runs fn; returns (grpc.StatusCode, details) of the RpcError or (OK, result)."""
    import grpc
    try:
        return grpc.StatusCode.OK, fn()
    except grpc.RpcError as e:
        return e.code(), e.details()


def structured_vectors(n, dim, seed=1, rank=8):
    """Low-rank latent + noise (FACTS: i.i.d. Gaussian is a poor ANN test)."""
    import random
    rnd = random.Random(seed)
    basis = [[rnd.gauss(0, 1) for _ in range(dim)] for _ in range(rank)]
    out = []
    for _ in range(n):
        z = [rnd.gauss(0, 1) for _ in range(rank)]
        v = [sum(z[r] * basis[r][d] for r in range(rank)) + 0.1 * rnd.gauss(0, 1) for d in range(dim)]
        out.append(v)
    return out
