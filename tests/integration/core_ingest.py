"""`omnidex ingest` on real folders (issue 13, "Ingest a real folder"), with
the shipped omni-tiny space: which files a directory walk takes (media only
by default; text with --modality/--include), one sniffer shared with the
decoders (glTF JSON, point-cloud OBJ, OBJ starting with `g`, animated GIF as
video), explicit --image/--audio/--video/--mesh flags checked against the
content, symlink loops, symlinked files, named pipes, ids independent of how
a path is spelled, resume by content hash (and after Ctrl-C), --meta,
--manifest, the item's source, one error for a missing collection, the
progress bar never sharing a line with an error, and "empty file".
Files are generated here (PIL, espeak-ng, ffmpeg) or are Debian's
(assimp-testmodels, sound-theme-freedesktop); the expectations come from
how the files were made, not from omnidex's output."""
import base64
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import time

from PIL import Image

from core_tap import OMNIDEX, done, jlines, ok, tmpdir

TOP = os.environ.get("OMNIDEX_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
os.environ["OMNIDEX_MODELS"] = os.path.join(TOP, "models")
# The real folders below hold malformed models on purpose (assimp's
# models/invalid): under the sanitizer build, LeakSanitizer would report
# assimp's own leak on them (third party, finding F12 in tests/RELIABILITY.md)
# and end the process before stdout is flushed. Suppress the known
# third-party leaks, as the fuzz corpus replay does.
os.environ["LSAN_OPTIONS"] = ":".join(
    x for x in [os.environ.get("LSAN_OPTIONS", ""), "suppressions=" + os.path.join(TOP, "tests", "fuzz", "lsan.supp")] if x)
BIN = os.path.abspath(OMNIDEX)
d = tmpdir("omnidex-ingest-")
data = os.path.join(d, "db")


def cli(*args, cwd=None, timeout=300, db=None):
    """omnidex --data DB ARGS in cwd; (rc, stdout, stderr). A hang is rc None."""
    try:
        p = subprocess.run([BIN, "--data", db or data, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, str(e.stdout or ""), "timed out (a hang)"


def get(coll, item_id):
    rc, out, err = cli("get", coll, item_id, "--json")
    return json.loads(out) if rc == 0 else None


def count(coll):
    rc, out, err = cli("collection", "info", coll, "--json")
    return json.loads(out) if rc == 0 else {}


def create(coll):
    rc, out, err = cli("collection", "create", coll, "--dim", "128", "--space", "omni-tiny")
    return ok(rc == 0, f"collection {coll} with --space omni-tiny", err)


# ---- a folder of real media, text, and traps ----------------------------------
media = os.path.join(d, "media")
os.makedirs(os.path.join(media, "sub"))
Image.new("RGB", (48, 48), "red").save(os.path.join(media, "a.png"))
Image.new("RGB", (48, 48), "blue").save(os.path.join(media, "sub", "b.png"))
frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
frames[0].save(os.path.join(media, "anim.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
subprocess.run(["espeak-ng", "-w", os.path.join(media, "hello.wav"), "hello there"], check=True)
with open(os.path.join(media, "cube.ply"), "w") as f:
    f.write("ply\nformat ascii 1.0\nelement vertex 8\nproperty float x\nproperty float y\nproperty float z\n"
            "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
            + "".join(f"{x} {y} {z}\n" for x in (0, 1) for y in (0, 1) for z in (0, 1)) + "3 0 1 2\n3 1 3 2\n")
# docs/modalities.md: an OBJ with vertices and no faces is a point cloud.
with open(os.path.join(media, "cloud.obj"), "w") as f:
    f.write("".join(f"v {i % 5} {i // 5 % 5} {i // 25}\n" for i in range(60)))
with open(os.path.join(media, "grouped.obj"), "w") as f:
    f.write("g box\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n")
pos = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
gltf = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "scene": 0, "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(pos), "uri": "data:application/octet-stream;base64," + base64.b64encode(pos).decode()}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(pos)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}]}
with open(os.path.join(media, "tri.gltf"), "w") as f:
    json.dump(gltf, f, indent=1)
texts = {"notes.txt": "a red square and a spoken hello", "shader.glsl": "void main() { gl_FragColor = vec4(1.0); }\n",
         "index.theme": "[Icon Theme]\nName=test\n", "box.mtl": "newmtl red\nKd 1 0 0\n"}
for name, t in texts.items():
    with open(os.path.join(media, name), "w") as f:
        f.write(t)
open(os.path.join(media, "empty.png"), "wb").close()
with open(os.path.join(media, "noise.bin"), "wb") as f:
    f.write(bytes(range(256)) * 8)
Image.new("RGB", (8, 8), "white").save(os.path.join(media, ".hidden.png"))
os.symlink(".", os.path.join(media, "self"))                 # a loop
os.symlink("a.png", os.path.join(media, "link.png"))         # a second name for a.png
os.mkfifo(os.path.join(media, "pipe"))                        # would block a reader forever
ext = os.path.join(d, "elsewhere")
os.makedirs(ext)
Image.new("RGB", (48, 48), "green").save(os.path.join(ext, "c.png"))
os.symlink(ext, os.path.join(media, "ext"))                   # a symlinked directory outside the tree

MEDIA_IDS = {"media/a.png", "media/sub/b.png", "media/anim.gif", "media/hello.wav", "media/cube.ply",
             "media/cloud.obj", "media/grouped.obj", "media/tri.gltf", "media/ext/c.png"}

create("m")
rc, out, err = cli("ingest", "m", "--verbose", media, timeout=120)
ok(rc is not None, "a named pipe in the directory does not block ingest", err)
ok(rc == 0 and f"ingest: {len(MEDIA_IDS)} items" in out and ", 0 failed" in out, "directory ingest takes its media", out + err)
added = {l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("added ")}
ok(added == MEDIA_IDS, "exactly the media files, each once, ids = directory name + path below it",
   f"got {sorted(added)}\nwant {sorted(MEDIA_IDS)}")
ok(count("m").get("count") == len(MEDIA_IDS), "the collection holds one item per media file", count("m"))
ok("4 text files (--modality text takes them)" in out, "UTF-8 files in a directory are skipped as text and counted", out)
ok("1 empty" in out and "1 of unknown format" in out and "1 hidden" in out, "empty, unknown and hidden files counted", out)
ok("1 not regular file" in out and "skipped media/pipe: a named pipe" in out, "the named pipe is skipped and said so", out)
ok("2 duplicates" in out and "skipped media/link.png: the same file as an earlier one" in out
   and "skipped media/self: a symbolic link to a directory already walked" in out,
   "the symlink loop and the symlinked file are duplicates, not items", out)
for item_id, mod, fmt in [("media/tri.gltf", "mesh", "glTF"), ("media/cloud.obj", "mesh", "OBJ"),
                          ("media/grouped.obj", "mesh", "OBJ"), ("media/anim.gif", "video", "animated GIF"),
                          ("media/hello.wav", "audio", "WAV"), ("media/cube.ply", "mesh", "PLY")]:
    r = get("m", item_id)
    ok(r and r["modality"] == mod and r["metadata"]["format"] == fmt, f"{item_id} is {mod} ({fmt})", r)
r = get("m", "media/ext/c.png")
ok(r and r["source"] == os.path.realpath(os.path.join(ext, "c.png")), "source is the file's absolute path, links resolved", r)
r = get("m", "media/a.png")
ok(r and r["source"] == os.path.join(os.path.realpath(media), "a.png") and len(r["metadata"].get("sha256", "")) == 64,
   "the item records its source and sha256", r)

# ---- text only when asked ----------------------------------------------------
create("t")
rc, out, err = cli("ingest", "t", "--modality", "text", "--verbose", media)
got = {l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("added ")}
ok(rc == 0 and got == {"media/" + n for n in texts}, "--modality text takes the text files only", out + err)
create("g")
rc, out, err = cli("ingest", "g", "--include", "*.glsl", "--include", "sub/*", "--exclude", "b.png", "--verbose", media)
got = {l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("added ")}
ok(rc == 0 and got == {"media/shader.glsl"}, "--include takes matching files of any modality, --exclude wins", out + err)
r = get("g", "media/shader.glsl")
ok(r and r["modality"] == "text", "an included .glsl is a text item", r)
rc, out, err = cli("ingest", "t", os.path.join(media, "notes.txt"))
r = get("t", "notes.txt")
ok(rc == 0 and r and r["modality"] == "text", "a text file named on the command line is a text item", out + err)

# ---- ids do not depend on how a path is spelled -------------------------------
create("ids")
spellings = ["a.png", "./a.png", "self//a.png", os.path.join(os.path.realpath(media), "a.png")]
outs = [cli("ingest", "ids", p, cwd=media) for p in spellings]
ok(all(o[0] == 0 for o in outs) and count("ids").get("count") == 1 and get("ids", "a.png"),
   "a.png, ./a.png, self//a.png and the absolute path are one item 'a.png'", "\n".join(o[1] + o[2] for o in outs))
ok(all("1 unchanged" in o[1] for o in outs[1:]) and count("ids").get("tombstones") == 0,
   "the later spellings find it unchanged (no re-embedding, no tombstones)", "\n".join(o[1] for o in outs))
rc, out, err = cli("ingest", "ids", "media", cwd=d)
rc2, out2, err2 = cli("ingest", "ids", ".", cwd=media)
ok(rc == 0 and rc2 == 0 and "0 items" in out2 and f"{len(MEDIA_IDS)} unchanged" in out2,
   "a directory given as 'media' or as '.' from inside it has the same ids", out + out2 + err + err2)
os.makedirs(os.path.join(d, "x"))
os.makedirs(os.path.join(d, "y"))
Image.new("RGB", (8, 8), "red").save(os.path.join(d, "x", "same.png"))
Image.new("RGB", (8, 8), "blue").save(os.path.join(d, "y", "same.png"))
rc, out, err = cli("ingest", "ids", "x/same.png", "y/same.png", cwd=d)
ok(rc == 1 and "y/same.png: its id 'same.png' is already taken by x/same.png" in err and "1 items" in out,
   "two different files with one id: the second fails, named", out + err)

# ---- resume --------------------------------------------------------------------
before = count("m")
rc, out, err = cli("ingest", "m", media)
after = count("m")
ok(rc == 0 and "ingest: 0 items" in out and f"{len(MEDIA_IDS)} unchanged" in out, "re-running skips unchanged files", out + err)
ok(after.get("lsn") == before.get("lsn") and after.get("tombstones") == 0, "and writes nothing (same LSN, no tombstones)",
   f"{before}\n{after}")
Image.new("RGB", (48, 48), "yellow").save(os.path.join(media, "sub", "b.png"))
rc, out, err = cli("ingest", "m", media)
ok(rc == 0 and "ingest: 1 items" in out and f"{len(MEDIA_IDS) - 1} unchanged" in out, "a changed file is re-embedded", out + err)
rc, out, err = cli("ingest", "m", "--update", media)
ok(rc == 0 and f"ingest: {len(MEDIA_IDS)} items" in out, "--update re-embeds everything", out + err)

# Ctrl-C part way: what was committed stays, and re-running finishes the rest.
many = os.path.join(d, "many")
os.makedirs(many)
N = 200
for i in range(N):
    Image.new("RGB", (40, 40), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)).save(os.path.join(many, f"{i:03d}.png"))
create("int")
p = subprocess.Popen([BIN, "--data", data, "ingest", "int", "--verbose", many], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
seen = 0
for line in p.stdout:
    if line.startswith("added "):
        seen += 1
        if seen == 3:
            p.send_signal(signal.SIGINT)
            break
rest, err = p.communicate(timeout=120)
m = re.search(r"interrupted: (\d+) items committed to 'int'", err)
k = int(m.group(1)) if m else -1
ok(p.returncode == 130 and m and 3 <= k < N and "run the same command again to resume" in err,
   f"Ctrl-C stops after the file in hand and says what was committed ({k} of {N})", err + rest[-500:])
ok(count("int").get("count") == k, "the committed items are in the collection", count("int"))
rc, out, err = cli("ingest", "int", many)
ok(rc == 0 and f"ingest: {N - k} items" in out and f"{k} unchanged" in out and count("int").get("count") == N
   and count("int").get("tombstones") == 0, "re-running resumes: the rest is embedded, nothing twice", out + err)

# ---- metadata: --meta and --manifest ------------------------------------------
create("meta")
manifest = os.path.join(d, "manifest.jsonl")
with open(manifest, "w") as f:
    f.write(json.dumps({"path": "media/a.png", "metadata": {"label": "red square", "year": 2021}}) + "\n")
    f.write(json.dumps({"id": "media/hello.wav", "metadata": {"label": "speech", "ok": False}}) + "\n")
    f.write(json.dumps({"path": "elsewhere/c.png", "metadata": {"label": "green"}}) + "\n")  # reached via media/ext
    f.write(json.dumps({"id": "nothing/here.png", "metadata": {"label": "none"}}) + "\n")
rc, out, err = cli("ingest", "meta", "--meta", "batch=7", "--meta", "score=0.5", "--meta", "reviewed=true",
                   "--meta", 'code="007"', "--meta", "who=ann", "--manifest", manifest, media)
ok(rc == 0 and f"{len(MEDIA_IDS)} items" in out, "ingest with --meta and --manifest", out + err)
r = get("meta", "media/sub/b.png")
md = r["metadata"] if r else {}
ok(md.get("batch") == 7 and md.get("score") == 0.5 and md.get("reviewed") is True and md.get("code") == "007"
   and md.get("who") == "ann", "--meta values are typed like put --jsonl (int, float, bool, \"string\", bare string)", r)
r = get("meta", "media/a.png")
ok(r and r["metadata"].get("label") == "red square" and r["metadata"].get("year") == 2021 and r["metadata"].get("batch") == 7,
   "a manifest path entry adds its metadata to that file", r)
r = get("meta", "media/ext/c.png")
ok(r and r["metadata"].get("label") == "green", "a manifest path matches the file wherever the walk reaches it", r)
r = get("meta", "media/hello.wav")
ok(r and r["metadata"].get("label") == "speech" and r["metadata"].get("ok") is False, "a manifest id entry", r)
ok("manifest.jsonl: 1 line matched no ingested file (first: line 4)" in err, "an unmatched manifest line is reported", err)
rc, out, err = cli("ingest", "meta", "--meta", "batch=8", media)
ok(rc == 0 and f"{len(MEDIA_IDS)} items" in out and get("meta", "media/cube.ply")["metadata"].get("batch") == 8,
   "changed metadata is not 'unchanged'", out + err)
with open(manifest, "a") as f:
    f.write('{"path": "media/missing.png"}\n')
rc, out, err = cli("ingest", "meta", "--manifest", manifest, media)
ok(rc == 1 and "manifest.jsonl:5:" in err and "ingest:" not in out, "a bad manifest line stops before anything is ingested",
   out + err)

# ---- errors: once per collection, named formats, empty files -----------------------
rc, out, err = cli("ingest", "nope", media)
ok(rc == 1 and len(err.strip().splitlines()) == 1 and "nope" in err, "a missing collection is one error, not one per file", err)
cli("collection", "create", "plain", "--dim", "4")
rc, out, err = cli("ingest", "plain", media)
ok(rc == 1 and len(err.strip().splitlines()) == 1 and "bound to no space" in err, "a collection without a space: one error", err)
rc, out, err = cli("ingest", "m", os.path.join(media, "empty.png"))
ok(rc == 1 and "empty.png: empty file" in err and "unknown binary" not in err, "a zero-byte file is an 'empty file'", err)
rc, out, err = cli("ingest", "m", os.path.join(media, "pipe"), timeout=30)
ok(rc == 1 and "a named pipe, not a regular file" in err, "a named pipe named explicitly is refused, not read", err)

# ---- one sniffer for embed and search flags ---------------------------------------
gif = os.path.join(media, "anim.gif")
rc, out, err = cli("embed", "--space", "omni-tiny", "--video", gif, "--json")
ok(rc == 0 and json.loads(out)["modality"] == "video", "embed --video takes an animated GIF", out + err)
rc, out, err = cli("embed", "--space", "omni-tiny", "--image", gif, "--json")
ok(rc == 0 and json.loads(out)["modality"] == "image", "embed --image takes its first frame", out + err)
rc, out, err = cli("embed", "--space", "omni-tiny", "--audio", os.path.join(media, "a.png"))
ok(rc == 1 and "given as --audio but holds PNG data (image)" in err, "embed --audio on a PNG names the format", err)
rc, out, err = cli("embed", "--space", "omni-tiny", "--file", os.path.join(media, "tri.gltf"), "--json")
ok(rc == 0 and json.loads(out)["modality"] == "mesh", "embed --file of glTF JSON is a mesh", out + err)
rc, out, err = cli("search", "m", "--video", gif, "--k", "1", "--json")
ok(rc == 0 and jlines(out)[0]["hits"][0]["id"] == "media/anim.gif", "search --video with an animated GIF", out + err)
rc, out, err = cli("search", "m", "--mesh", os.path.join(media, "hello.wav"))
ok(rc == 1 and "given as --mesh but holds WAV data (audio)" in err, "search --mesh on a WAV names the format", err)
rc, out, err = cli("search", "m", "--image", os.path.join(media, "cloud.obj"))
ok(rc == 1 and "holds OBJ data (mesh)" in err, "a point-cloud OBJ is a mesh to search too", err)

# ---- the progress bar never shares a line with an error ---------------------------
bad = os.path.join(d, "bad")
os.makedirs(bad)
for i in range(6):
    Image.new("RGB", (40, 40), (i * 40, 0, 0)).save(os.path.join(bad, f"{i}.png"))
with open(os.path.join(bad, "3b-broken.png"), "wb") as f:
    f.write(open(os.path.join(bad, "3.png"), "rb").read()[:60])


def screen(raw):
    """The lines a terminal shows for raw output: \\r returns, ESC[K erases."""
    lines, cur, col = [], [], 0
    i = 0
    while i < len(raw):
        if raw.startswith("\x1b[K", i):
            del cur[col:]
            i += 3
            continue
        c = raw[i]
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = c
            else:
                cur.append(c)
            col += 1
        i += 1
    return lines + ["".join(cur)]


create("tty")
mfd, sfd = pty.openpty()
p = subprocess.Popen([BIN, "--data", data, "ingest", "tty", bad], stdout=subprocess.PIPE, stderr=sfd, text=True)
os.close(sfd)
raw = b""
while True:
    r, _, _ = select.select([mfd], [], [], 60)
    if not r:
        break
    try:
        chunk = os.read(mfd, 4096)
    except OSError:
        break
    if not chunk:
        break
    raw += chunk
p.wait(timeout=60)
os.close(mfd)
shown = screen(raw.decode(errors="replace"))
err_lines = [l for l in shown if "error" in l]
text_ = raw.decode(errors="replace")
# The bar must be up when the error comes (it draws at the first file), or
# the check below could not fail.
ok("\ringest [" in text_ and -1 < text_.find("\ringest [") < text_.find("omnidex: error:"),
   "the bar is on the terminal when the error comes", text_[-300:])
ok(err_lines and all(l.startswith("omnidex: error: ") for l in err_lines),
   "an error line never shares the bar's line", "\n".join(repr(l) for l in shown))

# ---- real folders nobody here made ---------------------------------------------
assimp = next((p for p in ("/usr/share/assimp-testmodels", "/usr/share/assimp/models") if os.path.isdir(p)), None)
if ok(assimp is not None, "assimp-testmodels is installed"):
    create("assimp")
    rc, out, err = cli("ingest", "assimp", "--verbose", assimp, timeout=600)
    base = os.path.basename(assimp)
    added = [l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("added ")]
    ntext = sum(1 for l in out.splitlines() if l.startswith("skipped ") and "(text), not taken" in l)
    ok(added and ntext > 50 and re.search(r"skipped \d+ text files", out), f"{len(added)} items; {ntext} text files skipped",
       out[-2000:] + err[-2000:])
    rc2, out2, _ = cli("search", "assimp", "--text", "a box", "--modality", "text", "--json", "--k", "5")
    ok(rc2 == 0 and jlines(out2)[0]["hits"] == [], "no text item from the models folder", out2)
    mods = {}
    for item_id in added:
        ext_ = os.path.splitext(item_id)[1].lower()
        if ext_ in (".ply", ".stl", ".off", ".obj", ".gltf", ".glb", ".png", ".jpg"):
            r = get("assimp", item_id)
            mods.setdefault(ext_, set()).add(r["modality"] if r else None)
    want = {".ply": {"mesh"}, ".stl": {"mesh"}, ".off": {"mesh"}, ".obj": {"mesh"}, ".gltf": {"mesh"}, ".png": {"image"},
            ".jpg": {"image"}}
    ok(all(mods.get(e, s) == s for e, s in want.items()) and {".ply", ".obj", ".gltf", ".png"} <= set(mods),
       "its meshes are meshes and its pictures images", mods)
    mtl = [l for l in out.splitlines() if l.startswith("skipped ") and l.split(":")[0].endswith(".mtl")]
    ok(mtl and not [a for a in added if a.endswith(".mtl")] and sum("(text)" in l for l in mtl) >= 5,
       ".mtl files are not items (UTF-8 ones are skipped as text)", "\n".join(mtl[:5]))

sounds = "/usr/share/sounds/freedesktop"
if ok(os.path.isdir(sounds), "sound-theme-freedesktop is installed"):
    create("snd")
    # Some of its sounds are symlinks to others: one item per distinct file,
    # under a name that is not a link where the file has one.
    files = {}
    for r_, _, fs in os.walk(sounds):
        for f in fs:
            if f.endswith(".oga"):
                path = os.path.join(r_, f)
                st = os.stat(path)
                files.setdefault((st.st_dev, st.st_ino), []).append(path)
    rc, out, err = cli("ingest", "snd", "--verbose", sounds, timeout=600)
    added = sorted(l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("added "))
    by_id = {os.path.join(os.path.dirname(sounds), a): a for a in added}
    right = all(sum(p_ in by_id for p_ in ps) == 1 and
                (all(os.path.islink(p_) for p_ in ps) or any(p_ in by_id and not os.path.islink(p_) for p_ in ps))
                for ps in files.values())
    ok(rc == 0 and len(added) == len(files) and right, f"each distinct .oga sound is one item ({len(files)}), "
       "under its real name", out[-1500:] + err[-1500:])
    oga = added
    r = get("snd", oga[0]) if oga else None
    ok(r and r["modality"] == "audio" and r["metadata"]["format"].startswith("Ogg"), "and an audio item", r)
    ok("text file" in out and "index.theme" in out, "index.theme is text, skipped", out[-800:])

done()
