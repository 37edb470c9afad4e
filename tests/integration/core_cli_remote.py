"""The CLI contract again in client mode: the same checks as core_cli.py, but
every command runs as `omnidex --server 127.0.0.1:PORT ...` against a real
`omnidex serve` on loopback, so output and errors must match the embedded
mode line for line. Then the bearer token path with --token-file."""
import os
import shutil
import socket
import subprocess
import sys
import time

from core_tap import OMNIDEX, done, free_port, ok, tmpdir

here = os.path.dirname(os.path.abspath(__file__))
d = tmpdir("omnidex-remote-")


def serve(data, *extra):
    port = free_port()
    p = subprocess.Popen([OMNIDEX, "--data", data, "serve", "--listen", f"127.0.0.1:{port}", *extra],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start: " + p.stderr.read())


srv, addr = serve(os.path.join(d, "db"))
try:
    env = dict(os.environ, OMNIDEX_TEST_SERVER=addr, OMNIDEX_TEST_PREFIX="client mode: ")
    r = subprocess.run([sys.executable, os.path.join(here, "core_cli.py")], env=env, capture_output=True, text=True,
                       timeout=600)
    sys.stdout.write(r.stdout)
    ok(r.returncode == 0, "client mode: every CLI check passed", r.stderr[-2000:])
finally:
    srv.terminate()
    srv.wait(timeout=30)
ok(srv.returncode == 0, "server exits 0 on SIGTERM")

# Bearer token: wrong/missing tokens are refused with a clear message.
tok = os.path.join(d, "token")
with open(tok, "w") as f:
    f.write("s3cret-token\n")
srv, addr = serve(os.path.join(d, "db2"), "--token-file", tok)
try:
    base = [OMNIDEX, "--server", addr]
    r = subprocess.run(base + ["collection", "list"], capture_output=True, text=True)
    ok(r.returncode == 1 and "omnidex: error:" in r.stderr, "missing token refused", r.stderr)
    bad = os.path.join(d, "bad")
    with open(bad, "w") as f:
        f.write("nope\n")
    r = subprocess.run(base + ["--token-file", bad, "collection", "list"], capture_output=True, text=True)
    ok(r.returncode == 1, "wrong token refused", r.stderr)
    r = subprocess.run(base + ["--token-file", tok, "collection", "create", "c", "--dim", "2"], capture_output=True, text=True)
    ok(r.returncode == 0 and "created collection 'c'" in r.stdout, "right token accepted", r.stdout + r.stderr)
finally:
    srv.terminate()
    srv.wait(timeout=30)
shutil.rmtree(d, ignore_errors=True)
done()
