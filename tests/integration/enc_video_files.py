"""Video decoding (encoders/media/video.c through video-tool) on real files made
here by the ffmpeg command line: MP4/H.264 (+AAC, B-frames, faststart),
MOV (+PCM), MKV (+FLAC), WebM VP8 (+Vorbis) and VP9 (+Opus), odd sizes,
4:4:4, full range BT.709, rotation metadata, variable frame rate, streamed
WebM without a duration, animated and one-frame GIF.

Independent references:
- which frames: ffprobe's frame timestamps and stream timing, with the
  contract's rule (docs/modalities.md "Video") implemented here in Python:
  t_i = start + ceil((2i + 1) * D / 2N), first frame with timestamp >= t_i;
- the pixels: the ffmpeg CLI's own rgb24 output of every frame
  (`-vsync passthrough -f rawvideo -pix_fmt rgb24`, autorotate on), indexed
  by the chosen frame number. Tolerance: mean |diff| <= 2 per channel (the
  brief's bar; swscale flags and the order of rotation vs chroma
  upsampling may differ), and the chosen frame must be closer than its
  neighbours (so picking a wrong frame fails);
- the audio: ffmpeg CLI with the same settings (channel mean by `pan`, soxr
  through aresample, 16 kHz): max |diff| <= 1e-5 and the same length.
Broken inputs (truncated at 10/50/90%, zero bytes, garbage behind each magic,
audio-only files, a clip declaring 10 hours, limits) must give a clean error
(exit 1, a message), never a crash; damaged copies of real files
(OMNIDEX_VIDEO_MUTATIONS per file, default 40) a result or a clean error."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from enc_common import BUILD, finish, report  # noqa: E402

import numpy as np  # noqa: E402

TOOL = os.path.join(BUILD, "video-tool")
UNIT = os.path.join(BUILD, "tests", "unit", "test_enc_video")
TMP = tempfile.mkdtemp(prefix="odx-video-")
MEAN_TOL = 2.0
AUDIO_TOL = 1e-5
RATE = 16000


def run(args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, **kw)


def ff(*args):
    r = run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y"] + list(args))
    if r.returncode != 0:
        raise RuntimeError("ffmpeg %s: %s" % (" ".join(map(str, args)), r.stderr.decode(errors="replace")))


def src(w=160, h=120, fps=25, d=4):
    return ["-f", "lavfi", "-i", "testsrc2=size=%dx%d:rate=%s:duration=%s" % (w, h, fps, d)]


# Two different channels, so that a wrong downmix shows.
STEREO = ["-f", "lavfi", "-i", "aevalsrc=sin(440*2*PI*t)|0.5*sin(660*2*PI*t):s=44100:d=4"]
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


def make_clips():
    p = lambda n: os.path.join(TMP, n)  # noqa: E731
    ff(*src(), *STEREO, *X264, "-g", "25", "-c:a", "aac", "-b:a", "96k", p("h264_aac.mp4"))
    ff(*src(d=10), *X264, "-g", "50", "-bf", "3", "-movflags", "+faststart", p("h264_bframes_faststart.mp4"))
    ff(*src(), *STEREO, *X264, "-g", "30", "-c:a", "pcm_s16le", p("h264_pcm.mov"))
    ff(*src(fps=30), *STEREO, *X264, "-c:a", "flac", p("h264_flac.mkv"))
    # Audio outlasting the video: the segment duration is not the video's.
    ff(*src(d=3), "-f", "lavfi", "-i", "sine=duration=5", "-c:v", "libvpx", "-b:v", "300k", "-c:a", "libopus",
       p("longer_audio.webm"))
    ff(*src(d=3), "-f", "lavfi", "-i", "sine=duration=5", *X264, "-c:a", "aac", p("longer_audio.mp4"))
    ff(*src(), *STEREO, "-c:v", "libvpx", "-b:v", "300k", "-c:a", "libvorbis", p("vp8_vorbis.webm"))
    ff(*src(), "-f", "lavfi", "-i", "sine=frequency=440:duration=4:sample_rate=48000", "-c:v", "libvpx-vp9",
       "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus", p("vp9_opus.webm"))
    ff(*src(161, 97), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", p("odd_161x97_vp9.webm"))
    ff(*src(161, 97), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv444p", p("odd_161x97_444.mp4"))
    ff(*src(), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuvj420p", "-colorspace", "bt709",
       "-color_primaries", "bt709", "-color_trc", "bt709", p("fullrange_bt709.mp4"))
    for deg in (90, 180, 270):
        ff("-i", p("h264_bframes_faststart.mp4"), "-t", "3", "-c", "copy", "-metadata:s:v:0", "rotate=%d" % deg,
           p("rot%d.mp4" % deg))
    # Variable frame rate: drop frames irregularly and keep the timestamps.
    ff(*src(), "-vf", "select='lt(mod(n\\,7)\\,3)+eq(n\\,50)'", "-vsync", "vfr", *X264, p("vfr.mp4"))
    ff(*src(fps=10, d=2), "-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse", p("anim.gif"))
    ff(*src(d=1), "-frames:v", "1", p("one_frame.gif"))
    # Streamed WebM (written to a pipe): no duration in the header.
    r = run(["ffmpeg", "-nostdin", "-v", "error"] + src() + ["-c:v", "libvpx", "-b:v", "300k", "-f", "webm", "-"])
    assert r.returncode == 0, r.stderr
    with open(p("streamed.webm"), "wb") as f:
        f.write(r.stdout)
    # Audio only.
    ff(*STEREO, "-c:a", "aac", p("audio_only.m4a"))
    ff(*STEREO, "-c:a", "libopus", p("audio_only.webm"))
    # Ten hours at one tiny frame per second (a real file, 0.5 MB).
    ff("-f", "lavfi", "-i", "color=c=blue:s=16x16:r=1:d=36000", "-c:v", "libx264", "-preset", "ultrafast",
       "-g", "3600", p("ten_hours.mp4"))


def probe(path):
    info = {}
    for what in (["-show_streams", "-show_format"], ["-show_frames"], ["-show_packets"]):
        r = run(["ffprobe", "-v", "error", "-select_streams", "v:0"] + what + ["-of", "json", path])
        assert r.returncode == 0, r.stderr
        info.update(json.loads(r.stdout))
    info.setdefault("frames", [])
    info.setdefault("packets", [])
    return info


def expected_picks(info, n):
    """The contract's sampling on ffprobe's view of the file: [(frame index, seconds)]."""
    st = info["streams"][0]
    tb = Fraction(st["time_base"])
    frames = info["frames"]
    ts = [int(f["best_effort_timestamp"]) for f in frames]
    start = int(st["start_pts"]) if "start_pts" in st else 0
    dur = int(st.get("duration_ts", 0) or 0)
    if dur <= 0:  # no stream duration (Matroska): measured from the video packets
        pk = [(int(p["pts"]), int(p.get("duration", 0) or 0)) for p in info["packets"] if "pts" in p]
        start = min(t for t, _ in pk)
        dur = max(t + d for t, d in pk) - start
    picks = []
    for i in range(n):
        target = start + -((-(2 * i + 1) * dur) // (2 * n))  # ceil
        idx = next((k for k, t in enumerate(ts) if t >= target), None)
        if idx is None:
            last = frames[-1]
            fd = int(last.get("pkt_duration", 0) or 0)
            assert ts[-1] + fd >= target, "the reference says this file is truncated"
            idx = len(ts) - 1
        if not picks or picks[-1][0] != idx:
            picks.append((idx, float((ts[idx] - start) * tb)))
    return picks, float(dur * tb)


def cli_frames(path):
    """Every frame as the ffmpeg CLI outputs it in rgb24 (autorotated)."""
    r = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-vsync", "passthrough",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    assert r.returncode == 0, r.stderr
    return np.frombuffer(r.stdout, np.uint8)


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, dims, maxv, pix = data.split(b"\n", 3)
    assert magic == b"P6" and maxv == b"255"
    w, h = map(int, dims.split())
    return np.frombuffer(pix, np.uint8).reshape(h, w, 3)


def check_frames(name, n):
    path = os.path.join(TMP, name)
    info = probe(path)
    try:
        picks, dur = expected_picks(info, n)
    except AssertionError as e:
        report("%s N=%d: reference" % (name, n), False, str(e))
        return
    out = os.path.join(TMP, "frames-%s-%d" % (name, n))
    os.makedirs(out, exist_ok=True)
    r = run([TOOL, "frames", path, n, out])
    if r.returncode != 0:
        report("%s N=%d: decodes" % (name, n), False, r.stderr.decode(errors="replace"))
        return
    got = json.loads(r.stdout)
    times = [f["t"] for f in got["frames"]]
    want_t = [t for _, t in picks]
    ok_t = len(times) == len(want_t) and all(abs(a - b) < 2e-6 for a, b in zip(times, want_t))
    report("%s N=%d: %d frames at the contract's times (duration %.3f s)" % (name, n, len(want_t), dur),
           ok_t and abs(got["duration"] - dur) < 2e-6,
           "got %s (duration %s)\nwant %s (duration %s)" % (times, got["duration"], want_t, dur) if not ok_t else "")
    if not ok_t:
        return
    allf = cli_frames(path)
    worst, worst_max, sens_ok, detail = 0.0, 0, True, []
    for k, (idx, _) in enumerate(picks):
        img = read_ppm(os.path.join(out, "frame_%03d.ppm" % k))
        fsz = img.size
        nref = allf.size // fsz
        if allf.size % fsz or nref != len(info["frames"]):
            report("%s N=%d: reference frame size" % (name, n), False,
                   "CLI gave %d bytes, frame %s, %d probed frames" % (allf.size, img.shape, len(info["frames"])))
            return
        ref = allf[idx * fsz:(idx + 1) * fsz].reshape(img.shape)
        d = np.abs(img.astype(np.int16) - ref.astype(np.int16))
        worst = max(worst, float(d.mean()))
        worst_max = max(worst_max, int(d.max()))
        # Sensitivity: a neighbouring frame must be further away than ours.
        for j in (idx - 1, idx + 1):
            if 0 <= j < nref:
                dn = float(np.abs(img.astype(np.int16) - allf[j * fsz:(j + 1) * fsz].reshape(img.shape)).mean())
                if dn <= d.mean():
                    sens_ok = False
                    detail.append("frame %d: neighbour %d is as close (%.3f vs %.3f)" % (idx, j, dn, d.mean()))
    report("%s N=%d: pixels vs ffmpeg CLI (mean |diff| %.4f <= %.1f, max %d)" % (name, n, worst, MEAN_TOL, worst_max),
           worst <= MEAN_TOL and sens_ok, "\n".join(detail))


def check_audio(name):
    path = os.path.join(TMP, name)
    r = run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of", "json",
             path])
    ch = json.loads(r.stdout)["streams"][0]["channels"]
    # In float before the mean, as the decoder does (an s16 pan rounds).
    pan = "aformat=sample_fmts=flt|fltp,pan=mono|c0=" + "+".join("%.17g*c%d" % (1.0 / ch, c) for c in range(ch))
    ref = run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-af",
               pan + ",aresample=resampler=soxr", "-ar", RATE, "-f", "f32le", "-"])
    assert ref.returncode == 0, ref.stderr
    want = np.frombuffer(ref.stdout, np.float32)
    outp = os.path.join(TMP, name + ".f32")
    r = run([TOOL, "audio", path, RATE, outp])
    if r.returncode != 0:
        report("%s: audio decodes" % name, False, r.stderr.decode(errors="replace"))
        return
    got = np.fromfile(outp, np.float32)
    n = min(got.size, want.size)
    diff = float(np.abs(got[:n] - want[:n]).max()) if n else float("inf")
    report("%s: audio (%d ch) vs ffmpeg CLI: %d vs %d samples, max |diff| %.2e <= %.0e" %
           (name, ch, got.size, want.size, diff, AUDIO_TOL), got.size == want.size and diff <= AUDIO_TOL and
           float(np.abs(want).max()) > 0.1)


def expect_error(name, path, args=(), want=("bad media",), must_fail=True):
    r = run([TOOL, "probe", path] + list(args))
    err = r.stderr.decode(errors="replace").strip()
    crashed = r.returncode < 0 or r.returncode > 1
    if must_fail:
        ok = r.returncode == 1 and err.startswith("video-tool: ") and any(w in err for w in want)
    else:  # a valid result or a clean error
        ok = not crashed and (r.returncode == 0 or (err.startswith("video-tool: ") and any(w in err for w in want)))
    report(name, ok, "exit %d: %s" % (r.returncode, err or r.stdout.decode(errors="replace")[:200]))


def hostile():
    p = lambda n: os.path.join(TMP, n)  # noqa: E731
    rng = np.random.default_rng(5)
    for src_name, strict in (("h264_aac.mp4", True), ("h264_bframes_faststart.mp4", False),
                             ("vp8_vorbis.webm", True), ("anim.gif", False)):
        data = open(p(src_name), "rb").read()
        for frac in (0.1, 0.5, 0.9):
            cut = p("cut%d_%s" % (frac * 100, src_name))
            with open(cut, "wb") as f:
                f.write(data[:int(len(data) * frac)])
            # moov at the end: every cut loses the index, so it must fail;
            # elsewhere a cut may still hold every sampled frame.
            expect_error("truncated %s at %d%%: %s" % (src_name, frac * 100, "error" if strict else "clean"),
                         cut, must_fail=strict)
    open(p("zero.mp4"), "wb").close()
    expect_error("zero bytes", p("zero.mp4"))
    magics = {"mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "webm": b"\x1a\x45\xdf\xa3",
              "gif": b"GIF89a"}
    for k, m in magics.items():
        g = p("garbage." + k)
        with open(g, "wb") as f:
            f.write(m + rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
        expect_error("garbage behind the %s magic" % k, g)
    with open(p("text.mp4"), "wb") as f:
        f.write(b"hello, this is not a video\n" * 10)
    expect_error("unknown magic", p("text.mp4"), want=("unknown magic",))
    expect_error("audio-only MP4: no video stream", p("audio_only.m4a"), want=("no video stream in MP4",))
    expect_error("audio-only WebM: no video stream", p("audio_only.webm"), want=("no video stream in WebM",))
    expect_error("a clip declaring 10 hours: over the limit", p("ten_hours.mp4"), want=("over a limit", "36000"))
    expect_error("--max-seconds 3 on a 4 s clip", p("h264_aac.mp4"), ["--max-seconds", "3"], want=("over a limit",))
    expect_error("--max-pixels 19199 on 160x120", p("h264_aac.mp4"), ["--max-pixels", "19199"],
                 want=("over a limit",))
    r = run([TOOL, "probe", p("h264_aac.mp4"), "--max-pixels", "19200"])
    report("--max-pixels 19200 on 160x120 passes", r.returncode == 0, r.stderr.decode(errors="replace"))
    r = run([TOOL, "probe", p("ten_hours.mp4"), "--max-seconds", "40000", "--frames", "4"])
    report("the 10-hour clip with the limit raised decodes 4 frames",
           r.returncode == 0 and len(json.loads(r.stdout)["frames"]) == 4, r.stderr.decode(errors="replace"))


def mutations(rounds=40):
    """Deterministic byte-level damage to real files: every result is a
    decode or a clean error within a time bound, never a crash or a hang."""
    rng = np.random.default_rng(11)
    for name, cmd in (("h264_aac.mp4", "audio"), ("vp8_vorbis.webm", "audio"), ("vp9_opus.webm", "audio"),
                      ("h264_pcm.mov", "probe"), ("anim.gif", "probe"), ("h264_flac.mkv", "audio")):
        data = bytearray(open(os.path.join(TMP, name), "rb").read())
        bad, decoded, errors = [], 0, 0
        for k in range(rounds):
            m = bytearray(data)
            kind = k % 3
            if kind == 0:  # flip bytes
                for _ in range(int(rng.integers(1, 20))):
                    m[int(rng.integers(0, len(m)))] = int(rng.integers(0, 256))
            elif kind == 1:  # cut a chunk out
                a = int(rng.integers(0, len(m)))
                del m[a:a + int(rng.integers(1, 4096))]
            else:  # overwrite a run in the first 4 KiB (headers, sample tables)
                a = int(rng.integers(0, min(4096, len(m))))
                m[a:a + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
            path = os.path.join(TMP, "mut_" + name)
            with open(path, "wb") as f:
                f.write(m)
            args = [TOOL, "audio", path, RATE, path + ".f32"] if cmd == "audio" else [TOOL, "probe", path]
            try:
                r = run(args + ["--frames", "4"], timeout=60)
            except subprocess.TimeoutExpired:
                bad.append("round %d: timeout" % k)
                continue
            err = r.stderr.decode(errors="replace")
            if r.returncode == 0:
                decoded += 1
            elif r.returncode == 1 and err.startswith("video-tool: "):
                errors += 1
            else:
                bad.append("round %d: exit %d: %s" % (k, r.returncode, err[:300]))
        report("%d damaged copies of %s: %d decoded, %d clean errors, %d crashes or hangs" %
               (rounds, name, decoded, errors, len(bad)), not bad, "\n".join(bad[:5]))


def main():
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        print("ok - skipped (no ffmpeg)")
        return
    make_clips()
    for name in ("h264_aac.mp4", "h264_bframes_faststart.mp4", "h264_pcm.mov", "h264_flac.mkv", "vp8_vorbis.webm",
                 "vp9_opus.webm", "odd_161x97_vp9.webm", "odd_161x97_444.mp4", "fullrange_bt709.mp4", "rot90.mp4",
                 "rot180.mp4", "rot270.mp4", "vfr.mp4", "anim.gif", "streamed.webm", "longer_audio.webm",
                 "longer_audio.mp4"):
        check_frames(name, 8)
    for name, n in (("h264_bframes_faststart.mp4", 3), ("h264_bframes_faststart.mp4", 37), ("anim.gif", 40),
                    ("vfr.mp4", 29), ("h264_aac.mp4", 1)):
        check_frames(name, n)
    # One frame: returned once, whatever N.
    r = run([TOOL, "probe", os.path.join(TMP, "one_frame.gif")])
    got = json.loads(r.stdout) if r.returncode == 0 else {}
    report("one-frame GIF: one frame returned (not replicated)", len(got.get("frames", [])) == 1,
           r.stderr.decode(errors="replace"))
    check_frames("one_frame.gif", 8)
    for name in ("h264_aac.mp4", "h264_pcm.mov", "h264_flac.mkv", "vp8_vorbis.webm", "vp9_opus.webm"):
        check_audio(name)
    r = run([TOOL, "probe", os.path.join(TMP, "h264_bframes_faststart.mp4")])
    report("has_audio false without an audio stream", r.returncode == 0 and not json.loads(r.stdout)["has_audio"])
    hostile()
    mutations(int(os.environ.get("OMNIDEX_VIDEO_MUTATIONS", "40")))
    # Allocation failure at every allocation of a decode (C unit test given a clip).
    if os.path.exists(UNIT):
        r = run([UNIT, os.path.join(TMP, "h264_aac.mp4")])
        out = r.stdout.decode(errors="replace")
        report("test_enc_video with a clip (allocation failure sweep)", r.returncode == 0 and "not ok" not in out,
               out[-2000:])


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    finish()
