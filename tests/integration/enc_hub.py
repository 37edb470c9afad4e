"""`models pull` (odx_hub_pull, via enc-tool pull) against a local HTTP
server on 127.0.0.1 that serves a generated model with the Hugging Face URL
layout ({hub}/{repo}/resolve/{rev}/{file}), a redirect to a "CDN" path
carrying X-Linked-Etag (sha256) as the HF hub does, HTTP Range, and
injected faults: a connection dropped mid-file (the rerun must resume with
a Range request and end with identical bytes), a wrong checksum, a missing
required file, a bad hub URL."""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading

from enc_common import TOOL, finish
import enc_common


def report(name, ok, detail=""):
    enc_common.report(name, ok, "" if ok else detail)
import ref_clip

STATE = {"drop_after": None, "ranges": [], "bad_sum": False, "missing": set(), "requests": 0}


class Hub(http.server.BaseHTTPRequestHandler):
    root = None

    def log_message(self, *a):
        pass

    def do_GET(self):
        STATE["requests"] += 1
        parts = self.path.split("/")
        # /owner/name/resolve/rev/file  -> redirect to /cdn/rev/file (X-Linked-Etag on the redirect)
        if len(parts) == 6 and parts[3] == "resolve":
            name = parts[5]
            path = os.path.join(self.root, name)
            if not os.path.exists(path) or name in STATE["missing"]:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(302)
            self.send_header("Location", f"/cdn/{parts[4]}/{name}")
            if name.endswith(".safetensors"):
                s = hashlib.sha256(open(path, "rb").read()).hexdigest()
                if STATE["bad_sum"]:
                    s = "0" * 64
                self.send_header("X-Linked-Etag", f'"{s}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if len(parts) == 4 and parts[1] == "cdn":
            data = open(os.path.join(self.root, parts[3]), "rb").read()
            start = 0
            rng = self.headers.get("Range")
            if rng:
                STATE["ranges"].append((parts[3], rng))
                start = int(rng.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')  # git-style, not sha256
            self.end_headers()
            cut = STATE["drop_after"]
            if cut is not None and parts[3].endswith(".safetensors") and not rng:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                STATE["drop_after"] = None
                self.close_connection = True
                import socket
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)
            return
        self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()


def pull(hub, dest, repo="openai/tiny-clip", rev="main"):
    return subprocess.run([TOOL, "pull", repo, dest, hub, rev], capture_output=True)


def main():
    tmp = tempfile.mkdtemp(prefix="enc_hub_")
    srv = None
    try:
        src = os.path.join(tmp, "src")
        ref_clip.write_model(src, ref_clip.TINY, seed=4)
        json.dump({"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}},
                  open(os.path.join(src, "preprocessor_config.json"), "w"))
        Hub.root = src
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        hub = f"http://127.0.0.1:{srv.server_address[1]}"
        same = lambda d, f: open(os.path.join(src, f), "rb").read() == open(os.path.join(d, f), "rb").read()

        d1 = os.path.join(tmp, "d1")
        r = pull(hub, d1)
        ok = r.returncode == 0 and all(same(d1, f) for f in ("config.json", "model.safetensors", "preprocessor_config.json"))
        report("pull: files identical to the hub's, optional files absent are skipped", ok and not os.path.exists(
            os.path.join(d1, "vocab.json")), r.stderr.decode(errors="replace")[-500:])
        r2 = subprocess.run([TOOL, "pixels", d1, "/dev/null", "1", os.path.join(tmp, "o")], capture_output=True)
        report("pull: the pulled directory opens as a model", b"wrong size" in r2.stderr, r2.stderr.decode())

        size = os.path.getsize(os.path.join(src, "model.safetensors"))
        STATE["drop_after"] = size // 3
        d2 = os.path.join(tmp, "d2")
        r = pull(hub, d2)
        part = os.path.join(d2, "model.safetensors.part")
        kept = os.path.exists(part) and os.path.getsize(part) == size // 3
        report("pull: a dropped connection fails and keeps the partial file", r.returncode != 0 and kept,
               r.stderr.decode(errors="replace")[-300:])
        STATE["ranges"].clear()
        r = pull(hub, d2)
        resumed = ("model.safetensors", f"bytes={size // 3}-") in STATE["ranges"]
        report("pull: the rerun resumes with a Range request and ends identical, checksum verified",
               r.returncode == 0 and resumed and same(d2, "model.safetensors") and not os.path.exists(part),
               f"ranges seen: {STATE['ranges']}\n" + r.stderr.decode(errors="replace")[-300:])

        STATE["bad_sum"] = True
        d3 = os.path.join(tmp, "d3")
        r = pull(hub, d3)
        STATE["bad_sum"] = False
        report("pull: a checksum mismatch fails and removes the partial file",
               r.returncode != 0 and b"does not match" in r.stderr and not os.path.exists(
                   os.path.join(d3, "model.safetensors.part")) and not os.path.exists(os.path.join(d3, "model.safetensors")),
               r.stderr.decode(errors="replace")[-300:])

        STATE["missing"] = {"model.safetensors"}
        r = pull(hub, os.path.join(tmp, "d4"))
        STATE["missing"] = set()
        report("pull: a missing required file is a clear not-found error",
               r.returncode != 0 and b"not found" in r.stderr, r.stderr.decode(errors="replace")[-300:])

        # A sharded checkpoint: index + shards instead of model.safetensors.
        import safetensors_io
        sh = os.path.join(tmp, "sharded")
        shutil.copytree(src, sh)
        w = safetensors_io.load(os.path.join(sh, "model.safetensors"))
        os.remove(os.path.join(sh, "model.safetensors"))
        names = sorted(w)
        wmap = {}
        for k in range(2):
            fn = f"model-{k + 1:05d}-of-00002.safetensors"
            safetensors_io.save({n: w[n] for n in names[k::2]}, os.path.join(sh, fn))
            wmap.update({n: fn for n in names[k::2]})
        json.dump({"weight_map": wmap}, open(os.path.join(sh, "model.safetensors.index.json"), "w"))
        Hub.root = sh
        d6 = os.path.join(tmp, "d6")
        r = pull(hub, d6)
        Hub.root = src
        ok = r.returncode == 0 and all(open(os.path.join(sh, f), "rb").read() == open(os.path.join(d6, f), "rb").read()
                                       for f in ("model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors"))
        r2 = subprocess.run([TOOL, "pixels", d6, "/dev/null", "1", os.path.join(tmp, "o")], capture_output=True)
        report("pull: a sharded checkpoint brings its index and every shard, and opens",
               ok and b"wrong size" in r2.stderr, r.stderr.decode(errors="replace")[-300:] + r2.stderr.decode())

        for bad_hub, repo, needle in (("file:///etc", "a/b", b"http://"), (hub, "../etc", b"repository"),
                                      (hub, "a/b/c", b"repository"), ("http://127.0.0.1:1", "a/b", b"run again")):
            r = pull(bad_hub, os.path.join(tmp, "d5"), repo=repo)
            report(f"pull: refused ({bad_hub[:20]}, {repo})", r.returncode != 0 and needle in r.stderr,
                   r.stderr.decode(errors="replace")[-300:])
    finally:
        if srv:
            srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
