"""Media by URL under the SSRF policy (query/fetch.c), through the embedded
CLI and through a real server driven by Python grpcio.

An HTTP server on loopback (Python's http.server) serves a PNG, redirects,
a body over the size limit, a slow answer and a 404. By default every
loopback, private, link-local (cloud metadata) or otherwise non-public
target is refused before any connection, including names that resolve to
loopback and IPv4 hidden in IPv6 or in numeric forms; with the operator's
opt-in the same URLs fetch and embed exactly like the local file. file://
reads only under the operator's roots, symlinks resolved."""
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of, tmpdir, TOP, BIN  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tools"))
from tiny_space import make_tiny_space  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

SC = grpc.StatusCode


def png(arr):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, format="PNG")
    return b.getvalue()


PNG = png(skdata.chelsea())
BIG = b"\x89PNG" + os.urandom(2 * 1024 * 1024 + 100)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client stopped reading at its size limit, as it should

    def send_body(self, body, ctype="image/png"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/cat.png":
            self.send_body(PNG)
        elif p == "/redirect.png":
            self.send_response(302)
            self.send_header("Location", "/cat.png")
            self.end_headers()
        elif p.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop%d.png" % (int(p[5:].split(".")[0] or 0) + 1))
            self.end_headers()
        elif p == "/to-file.png":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif p == "/to-gopher.png":
            self.send_response(302)
            self.send_header("Location", "gopher://127.0.0.1/x.png")
            self.end_headers()
        elif p == "/big.png":
            self.send_body(BIG)
        elif p == "/chunked-big.png":  # no Content-Length: the limit must hold while receiving
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(os.urandom(65536))
        elif p == "/down.png":  # an upstream in trouble
            self.send_response(503)
            self.end_headers()
        elif p == "/forbidden.png":
            self.send_response(403)
            self.end_headers()
        elif p == "/slow.png":
            time.sleep(4)
            self.send_body(PNG)
        else:
            self.send_response(404)
            self.end_headers()


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
httpd.daemon_threads = True
threading.Thread(target=httpd.serve_forever, daemon=True).start()
PORT = httpd.server_address[1]
U = "http://127.0.0.1:%d" % PORT

d = tmpdir("odx-fetch-")
models = os.path.join(d, "models")
_, cfg, _, _ = make_tiny_space(models)
DIM = cfg["projection_dim"]
root = os.path.join(d, "media")
outside = os.path.join(d, "secret")
os.makedirs(root)
os.makedirs(outside)
with open(os.path.join(root, "cat.png"), "wb") as f:
    f.write(PNG)
with open(os.path.join(outside, "other.png"), "wb") as f:
    f.write(png(skdata.coffee()))
os.symlink(os.path.join(outside, "other.png"), os.path.join(root, "escape.png"))


def cli(data, *args, env=None):
    e = dict(os.environ, OMNIDEX_MODELS=models)
    e.pop("OMNIDEX_FETCH_ALLOW_PRIVATE", None)
    e.pop("OMNIDEX_FILE_ROOTS", None)
    e.update(env or {})
    p = subprocess.run([BIN, "--data", data, *args], capture_output=True, text=True, timeout=120, env=e)
    return p.returncode, p.stdout, p.stderr


# ---- embedded CLI, default policy: nothing non-public is fetched ----------
data = os.path.join(d, "db")
rc, _, err = cli(data, "collection", "create", "m", "--dim", str(DIM), "--space", "tiny-clip")
ok(rc == 0, "collection bound to a tiny space", err)
rc, out, err = cli(data, "ingest", "m", os.path.join(root, "cat.png"))
ok(rc == 0, "local file ingested", err)

refused = [
    (U + "/cat.png", "loopback"),
    ("http://localhost:%d/cat.png" % PORT, "loopback"),  # a name that resolves to loopback
    ("http://[::1]:%d/cat.png" % PORT, "loopback"),
    ("http://[::ffff:127.0.0.1]:%d/cat.png" % PORT, "loopback"),  # IPv4-mapped IPv6
    ("http://2130706433:%d/cat.png" % PORT, "loopback"),  # 127.0.0.1 as one decimal number
    ("http://0x7f.1:%d/cat.png" % PORT, "loopback"),
    ("http://169.254.169.254/latest/meta-data/x.png", "link-local"),  # cloud metadata
    ("http://10.1.2.3/x.png", "private"),
    ("http://192.168.0.10/x.png", "private"),
    ("http://172.20.0.1/x.png", "private"),
    ("http://100.100.100.200/x.png", "carrier-grade NAT"),
    ("http://0.0.0.0:%d/x.png" % PORT, "this-network"),
    ("http://[fd00:ec2::254]/x.png", "unique local"),
    ("http://[fe80::1]/x.png", "link-local"),
    ("http://224.0.0.1/x.png", "multicast"),
]
for url, cls in refused:
    rc, out, err = cli(data, "ingest", "m", url)
    ok(rc != 0 and "refused" in err and cls in err, "refused by default: %s (%s)" % (url, cls), err.strip())
rc, out, err = cli(data, "search", "m", "--image", U + "/cat.png")
ok(rc != 0 and "loopback" in err, "search --image URL refused by default", err.strip())
rc, out, err = cli(data, "ingest", "m", "ftp://127.0.0.1/x.png")
ok(rc != 0 and "scheme 'ftp' is not supported" in err, "ftp:// refused as unsupported", err.strip())
rc, out, err = cli(data, "ingest", "m", "file://" + os.path.join(root, "cat.png"))
ok(rc != 0 and "file:// URIs are disabled" in err, "file:// refused without a file root", err.strip())
rc, out, err = cli(data, "collection", "info", "m", "--json")
ok(rc == 0 and json.loads(out)["count"] == 1, "nothing stored by the refused requests", out + err)

# ---- embedded CLI with the operator's opt-ins -----------------------------
allow = {"OMNIDEX_FETCH_ALLOW_PRIVATE": "1"}
rc, out, err = cli(data, "ingest", "m", U + "/cat.png", env=allow)
ok(rc == 0, "with OMNIDEX_FETCH_ALLOW_PRIVATE=1 the loopback URL is fetched", err)
rc, out, err = cli(data, "search", "m", "--item", U + "/cat.png", "--k", "2", "--json")
hits = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
flat = hits[0].get("hits", hits) if hits and isinstance(hits[0], dict) and "hits" in hits[0] else hits
ids = {h["id"]: h["score"] for h in flat}
lp = "cat.png"  # ingest's id for a file named on the command line: its name
ok(rc == 0 and lp in ids and abs(ids[lp] - 1) < 1e-5, "the fetched image embeds exactly like the local file", out + err)
rc, out, err = cli(data, "search", "m", "--image", U + "/redirect.png", "--k", "1", env=allow)
ok(rc == 0 and "cat.png" in out, "a redirect is followed (checked again)", out + err)
rc, out, err = cli(data, "ingest", "m", U + "/loop0.png", env=allow)
ok(rc != 0 and "more than 5 redirects" in err, "a redirect loop stops after 5 hops", err.strip())
rc, out, err = cli(data, "ingest", "m", U + "/missing.png", env=allow)
ok(rc != 0 and "HTTP 404" in err, "HTTP 404 named", err.strip())
# Each hop is checked again: with private hosts allowed, a redirect may still
# not leave http/https (a public first hop redirecting to a private address
# cannot be staged offline: every reachable host here is loopback).
rc, out, err = cli(data, "ingest", "m", U + "/to-file.png", env=allow)
ok(rc != 0 and "redirect to a file:// URI refused" in err, "a redirect to file:// is refused", err.strip())
rc, out, err = cli(data, "ingest", "m", U + "/to-gopher.png", env=allow)
ok(rc != 0 and "scheme 'gopher' is not supported" in err, "a redirect to gopher:// is refused", err.strip())

roots = {"OMNIDEX_FILE_ROOTS": root}
rc, out, err = cli(data, "search", "m", "--image", "file://" + os.path.join(root, "cat.png"), "--k", "1", env=roots)
ok(rc == 0 and "cat.png" in out, "file:// under an allowed root", out + err)
rc, out, err = cli(data, "search", "m", "--image", "file://" + os.path.join(outside, "other.png"), env=roots)
ok(rc != 0 and "outside the allowed file roots" in err, "file:// outside the roots refused", err.strip())
rc, out, err = cli(data, "search", "m", "--image", "file://" + root + "/../secret/other.png", env=roots)
ok(rc != 0 and "outside the allowed file roots" in err, "file:// with .. out of the root refused", err.strip())
rc, out, err = cli(data, "search", "m", "--image", "file://" + os.path.join(root, "escape.png"), env=roots)
ok(rc != 0 and "outside the allowed file roots" in err, "file:// symlink pointing out of the root refused", err.strip())
rc, out, err = cli(data, "search", "m", "--image", "file://otherhost" + os.path.join(root, "cat.png"), env=roots)
ok(rc != 0 and ("only local files" in err or "not a valid URI" in err), "file:// naming another host refused", err.strip())

# ---- over gRPC: default server, then one with the opt-ins and limits ------
def stub(srv):
    ch = grpc.insecure_channel(srv.addr)
    return pbg.OmnidexStub(ch), pbg.OmnidexStub


def upsert_uri(st, uid, uri):
    return code_of(lambda: st.Upsert(pb.UpsertRequest(collection="m", items=[
        pb.Item(id=uid, media=pb.Media(modality=pb.MODALITY_IMAGE, uri=uri))]), timeout=60))


def every_method(st, uri, want, named, what):
    """Embed, Upsert and Search with the same Media.uri answer alike."""
    media = pb.Media(modality=pb.MODALITY_IMAGE, uri=uri)
    for method, fn in [
            ("Embed", lambda: st.Embed(pb.EmbedRequest(space="tiny-clip", media=media), timeout=60)),
            ("Upsert", lambda: st.Upsert(pb.UpsertRequest(collection="m", items=[pb.Item(id="u", media=media)]),
                                         timeout=60)),
            ("Search", lambda: st.Search(pb.SearchRequest(collection="m", parts=[pb.QueryPart(media=media)]),
                                         timeout=60))]:
        code, det = code_of(fn)
        ok(code == want and named in det, "gRPC %s, %s -> %s" % (method, what, want.name), (code, det))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


srv = Server(models=models).start()
try:
    st, _ = stub(srv)
    st.CreateCollection(pb.CreateCollectionRequest(name="m", dim=DIM, space="tiny-clip"), timeout=30)
    for url, cls in [(U + "/cat.png", "loopback"), ("http://169.254.169.254/x.png", "link-local"),
                     ("http://[::ffff:10.0.0.1]/x.png", "private")]:
        code, det = upsert_uri(st, "u", url)
        ok(code == SC.INVALID_ARGUMENT and cls in det, "gRPC default policy refuses %s" % url, (code, det))
    code, det = upsert_uri(st, "u", "file://" + os.path.join(root, "cat.png"))
    ok(code == SC.INVALID_ARGUMENT and "disabled" in det, "gRPC: file:// disabled by default", (code, det))
    every_method(st, "http://nonexistent.invalid/x.png", SC.UNAVAILABLE, "nonexistent.invalid",
                 "a host that does not resolve")
    every_method(st, "gopher://example.com/x.png", SC.INVALID_ARGUMENT, "gopher", "a scheme not served")
    every_method(st, "http:///x.png", SC.INVALID_ARGUMENT, "http:///x.png", "a URL without a host")
    every_method(st, U + "/cat.png", SC.INVALID_ARGUMENT, "loopback", "a loopback URL (policy)")
    ok(srv.alive(), "server up after refused URLs")
finally:
    srv.kill()

srv = Server("--fetch-allow-private", "--fetch-max-mb", "1", "--fetch-timeout-s", "2", "--file-root", root,
             models=models).start()
try:
    st, _ = stub(srv)
    st.CreateCollection(pb.CreateCollectionRequest(name="m", dim=DIM, space="tiny-clip"), timeout=30)
    code, r = upsert_uri(st, "web", U + "/cat.png")
    ok(code == SC.OK, "gRPC with --fetch-allow-private: Media.uri fetched and embedded", r)
    code, r = upsert_uri(st, "disk", "file://" + os.path.join(root, "cat.png"))
    ok(code == SC.OK, "gRPC with --file-root: file:// read", r)
    g1 = st.Get(pb.GetRequest(collection="m", id="web"), timeout=30).item.vector.values
    g2 = st.Get(pb.GetRequest(collection="m", id="disk"), timeout=30).item.vector.values
    ok(len(g1) == DIM and np.abs(np.array(g1) - np.array(g2)).max() < 1e-6, "URL and file give the same vector")
    code, det = upsert_uri(st, "big", U + "/big.png")
    ok(code == SC.RESOURCE_EXHAUSTED and "limit" in det, "body over --fetch-max-mb -> RESOURCE_EXHAUSTED", (code, det))
    code, det = upsert_uri(st, "big2", U + "/chunked-big.png")
    ok(code == SC.RESOURCE_EXHAUSTED and "limit" in det, "chunked body over the limit stopped while receiving",
       (code, det))
    t0 = time.time()
    code, det = upsert_uri(st, "slow", U + "/slow.png")
    el = time.time() - t0
    ok(code == SC.RESOURCE_EXHAUSTED and el < 3.9, "slow server -> RESOURCE_EXHAUSTED after --fetch-timeout-s (%.1f s)" % el,
       (code, det))
    code, det = upsert_uri(st, "esc", "file://" + os.path.join(root, "escape.png"))
    ok(code == SC.INVALID_ARGUMENT and "outside" in det, "gRPC: symlink out of the file root refused", (code, det))
    code, det = upsert_uri(st, "x", "gopher://127.0.0.1/x.png")
    ok(code == SC.INVALID_ARGUMENT, "gRPC: unsupported scheme -> INVALID_ARGUMENT", (code, det))
    every_method(st, "http://127.0.0.1:%d/x.png" % closed_port(), SC.UNAVAILABLE, "127.0.0.1",
                 "connection refused")
    every_method(st, U + "/down.png", SC.UNAVAILABLE, "HTTP 503", "HTTP 503")
    every_method(st, U + "/forbidden.png", SC.INVALID_ARGUMENT, "HTTP 403", "HTTP 403")
    every_method(st, U + "/nothing.png", SC.NOT_FOUND, "HTTP 404", "HTTP 404")
    every_method(st, U + "/loop0.png", SC.INVALID_ARGUMENT, "redirects", "a redirect loop")
    r = st.Search(pb.SearchRequest(collection="m", k=2, parts=[pb.QueryPart(
        media=pb.Media(modality=pb.MODALITY_IMAGE, uri=U + "/redirect.png"))]), timeout=60)
    ok([h.id for h in r.hits][:1] in (["web"], ["disk"]) and r.hits[0].score > 0.9999,
       "gRPC search by a redirecting URL", [(h.id, h.score) for h in r.hits])
    ok(srv.alive(), "server up after every fetch failure")
finally:
    srv.kill()

# The address classifier against Python's ipaddress module on many addresses.
import ipaddress  # noqa: E402
sample = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.15.255.255",
          "172.16.0.1", "172.31.255.255", "172.32.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
          "100.127.255.255", "100.128.0.1", "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
          "0.0.0.0", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "198.20.0.1", "2606:4700::1111",
          "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "2001:db8::1", "::ffff:8.8.8.8",
          "::ffff:192.168.0.1", "2002:c0a8:0101::1", "2002:0808:0808::1", "64:ff9b::7f00:1", "64:ff9b::808:808"]
addrs = os.path.join(d, "addrs.txt")
with open(addrs, "w") as f:
    f.write("\n".join(sample) + "\n")
tool = os.path.join(os.environ.get("OMNIDEX_BUILD", os.path.join(TOP, "build", "rel")), "tests", "unit", "test_fetch")
p = subprocess.run([tool, "--classify", addrs], capture_output=True, text=True)
got = dict(line.split(" ", 1) for line in p.stdout.splitlines())
bad = []
for a in sample:
    ip = ipaddress.ip_address(a)
    inner = None
    if ip.version == 6:
        inner = ip.ipv4_mapped or ip.sixtofour or (ipaddress.ip_address(int(ip) & 0xffffffff)
                                                   if ip in ipaddress.ip_network("64:ff9b::/96") else None)
    probe = inner or ip
    expect_blocked = not probe.is_global or probe.is_multicast
    blocked = got.get(a, "?") != "public"
    if blocked != expect_blocked or a not in got:
        bad.append((a, expect_blocked, got.get(a)))
ok(p.returncode == 0 and not bad, "address classes agree with Python's ipaddress on %d addresses" % len(sample), bad)

httpd.shutdown()
shutil.rmtree(d, ignore_errors=True)
done()
