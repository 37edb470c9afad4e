"""The audio path in C vs independent references, on real sounds:

- decoding (libsndfile in C) vs ffmpeg's own decoders (`ffmpeg -f f32le`,
  channels averaged by numpy, and `-ac 1`) on espeak-ng speech as WAV /
  FLAC / MP3 / Ogg-Opus and on freedesktop's Ogg/Vorbis sounds;
- resampling (libsoxr SOXR_HQ) vs ffmpeg's soxr resampler at the same
  precision;
- the Kaldi fbank front end vs torchaudio.compliance.kaldi.fbank
  (tools/ref_audio.py) on the same 16 kHz samples, default and non-default
  configs (windows, frame sizes, mel counts, padding, cutting);
- the tower vs PyTorch (tools/ref_audio.py) on random weights: ImageBind's
  default size and a small config (64 mels, stride 16), features in,
  then whole waveforms in (clip split + pooling on a 6 s clip, a short
  clip, silence), then files in;
- truncated files of each format fail with an error naming the format;
  damaged copies decode or fail cleanly; broken model directories fail
  naming the tensor or key.

Tolerances (docs/modalities.md): towers 1e-4 max abs on embeddings; fbank
1e-3 absolute on normalised features. Decode tolerances are per codec and
stated below (lossless formats must match to float rounding).
OMNIDEX_ENC_FULL=0 skips the ImageBind-size model (86M parameters);
OMNIDEX_AUDIO_MUTATIONS sets the damaged copies per file (default 30)."""
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch

from enc_common import BUILD, report, finish
import ref_audio
import safetensors_io

torch.set_num_threads(2)
TOOL = os.path.join(BUILD, "audio-tool")
TOL_TOWER = 1e-4
TOL_FBANK = 1e-3
SOUNDS = "/usr/share/sounds/freedesktop/stereo"
SPEECH = ("The quick brown fox jumps over the lazy dog. "
          "Omnidex stores vectors and finds the nearest ones.")
LONG_SPEECH = SPEECH + " Sound is cut into three clips of two seconds, embedded, and averaged."


def run(*args, check=True):
    r = subprocess.run([str(a) for a in args], capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (args[0], r.stderr.decode(errors="replace")))
    return r


def tool(*args, check=True):
    return run(TOOL, *args, check=check)


def ffmpeg(*args):
    run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args)


def ff_decode(path, mono=False, rate=None, pre=()):
    """ffmpeg's decoding as float32: [frames, channels] (or [frames] with -ac 1)."""
    args = ["ffmpeg", "-nostdin", "-loglevel", "error"] + list(pre) + ["-i", path]
    if rate:
        args += ["-af", "aresample=resampler=soxr:precision=20", "-ar", str(rate)]
    if mono:
        args += ["-ac", "1"]
    args += ["-f", "f32le", "-"]
    raw = np.frombuffer(run(*args).stdout, dtype=np.float32)
    if mono:
        return raw
    ch = int(run("ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels",
                 "-of", "csv=p=0", path).stdout.decode().strip())
    return raw.reshape(-1, ch)


def c_decode(path, tmp, rate=0):
    out = os.path.join(tmp, "dec.f32")
    r = tool("decode", path, "--rate", rate, "--raw", out)
    info = json.loads(r.stdout)
    return info, np.fromfile(out, dtype=np.float32)


def write_model(d, cfg, proj, seed):
    os.makedirs(d, exist_ok=True)
    w = ref_audio.random_weights(cfg, proj, seed=seed)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"projection_dim": proj, "audio_config": cfg}, f)
    safetensors_io.save(w, os.path.join(d, "model.safetensors"))
    return w


def check_decoding(tmp, media):
    # Lossless: WAV and FLAC samples are the 16-bit values / 32768 in both.
    # Lossy: the decoders differ (libvorbis vs ffmpeg's own vorbis, mpg123 vs
    # ffmpeg's mp3float; libopus in both), so a looser bound. ffmpeg's -ac 1
    # is printed for information only: its stereo downmix is not the mean.
    tols = {"WAV": 1e-7, "FLAC": 1e-7, "Ogg/Vorbis": 1e-4, "MP3": 1e-4}
    worst = {}
    for path, fmt in media:
        info, c = c_decode(path, tmp)
        # libsndfile asks libopus for the stream's input rate (16 kHz here);
        # ffmpeg always decodes Opus at 48 kHz, so its output goes through
        # ffmpeg's soxr to that rate and the bar is relative: the rms of
        # the difference under 3% of the signal's rms (measured 1.6%).
        opus = fmt == "Ogg/Opus"
        ff = ff_decode(path, rate=info["rate"] if opus else None)
        ref = ff.mean(axis=1, dtype=np.float32)
        ff1 = ff_decode(path, mono=True, rate=info["rate"] if opus else None)
        ok = info["format"] == fmt and len(c) == len(ref)
        d = float(np.abs(c - ref).max()) if ok and len(c) else float("inf")
        if opus and ok:
            rel = float(np.sqrt(np.mean((c - ref) ** 2)) / np.sqrt(np.mean(ref ** 2)))
            report("decode %s (Ogg/Opus, %d Hz, %d samples) vs ffmpeg (48 kHz + soxr)"
                   % (os.path.basename(path), info["rate"], len(c)), rel < 0.03,
                   "rms of the difference / rms of the signal %.4f (tol 0.03), max abs %.3g" % (rel, d))
            continue
        d1 = float(np.abs(c - ff1).max()) if len(c) == len(ff1) else float("inf")
        worst[fmt] = max(worst.get(fmt, 0.0), d)
        report("decode %s (%s, %d ch, %d Hz, %d samples) vs ffmpeg" % (os.path.basename(path), fmt, ff.shape[1],
                                                                       info["rate"], len(c)),
               ok and d <= tols[fmt],
               "C %d samples, ffmpeg %d; max abs vs ffmpeg+numpy mean %.3g (tol %g), vs ffmpeg -ac 1 %.3g"
               % (len(c), len(ref), d, tols[fmt], d1))
    return worst


def check_resample(tmp, path):
    # C: libsoxr SOXR_HQ (20-bit); ffmpeg: aresample with its soxr backend at
    # precision 20. Same library and quality: the outputs agree closely but
    # not necessarily bit for bit (ffmpeg resamples each channel, numpy then
    # averages; C averages first): tolerance 1e-5, equal lengths.
    for rate in (16000, 48000, 8000):
        info, c = c_decode(path, tmp, rate)
        ff = ff_decode(path, rate=rate).mean(axis=1)
        n = min(len(c), len(ff))
        d = float(np.abs(c[:n] - ff[:n]).max())
        rms = float(np.sqrt(np.mean((c[:n] - ff[:n]) ** 2)))
        report("resample %s -> %d Hz vs ffmpeg soxr" % (os.path.basename(path), rate),
               len(c) == len(ff) and d <= 1e-5,
               "C %d samples, ffmpeg %d; max abs %.3g, rms %.3g" % (len(c), len(ff), d, rms))


def c_fbank(tmp, wave, cfg):
    wp, cp, op = (os.path.join(tmp, x) for x in ("w.f32", "cfg.json", "fb.f32"))
    wave.astype(np.float32).tofile(wp)
    with open(cp, "w") as f:
        json.dump({"audio_config": cfg}, f)
    tool("fbank", wp, cp, op)
    c = ref_audio.config(cfg)
    return np.fromfile(op, dtype=np.float32).reshape(c["num_mel_bins"], c["target_length"])


def check_fbank(tmp, waves):
    configs = [
        ("default", {}),
        ("64 mels hamming", {"num_mel_bins": 64, "window": "hamming"}),
        ("povey 20/8 ms 40 mels", {"window": "povey", "frame_length_ms": 20.0, "frame_shift_ms": 8.0,
                                   "num_mel_bins": 40, "low_freq": 60.0, "high_freq": -400.0}),
        ("rectangular 300 frames", {"window": "rectangular", "target_length": 300, "mean": 0.0, "std": 1.0}),
    ]
    worst = 0.0
    for cname, cfg in configs:
        for wname, wave in waves:
            ref = ref_audio.fbank(torch.from_numpy(wave), cfg).numpy()
            c = c_fbank(tmp, wave, cfg)
            d = float(np.abs(c - ref).max())
            worst = max(worst, d)
            report("fbank %s on %s vs torchaudio" % (cname, wname), d <= TOL_FBANK,
                   "max abs %.3g (tol %g)" % (d, TOL_FBANK))
    return worst


def check_tower(tmp, name, cfg, proj, waves, files, seed):
    d = os.path.join(tmp, name)
    w = write_model(d, cfg, proj, seed)
    worst = 0.0
    # 1. Features in: random and real fbanks, a batch of 4.
    c = ref_audio.config(cfg)
    g = torch.Generator().manual_seed(seed + 7)
    x = torch.randn(4, 1, c["num_mel_bins"], c["target_length"], generator=g)
    x[1] = ref_audio.fbank(torch.from_numpy(waves[0][1]), cfg)
    x.numpy().astype(np.float32).tofile(os.path.join(tmp, "feats.f32"))
    tool("embed-features", d, os.path.join(tmp, "feats.f32"), 4, os.path.join(tmp, "emb.f32"))
    got = np.fromfile(os.path.join(tmp, "emb.f32"), dtype=np.float32).reshape(4, proj)
    with torch.no_grad():
        ref = ref_audio.audio_features(cfg, w, x).numpy()
    diff = float(np.abs(got - ref).max())
    worst = max(worst, diff)
    report("%s tower: 4 feature inputs vs PyTorch" % name, diff <= TOL_TOWER, "max abs %.3g (tol %g)" % (diff, TOL_TOWER))
    # 2. Waveforms in: the clip split and pooling.
    for wname, wave in waves:
        wp = os.path.join(tmp, "pcm.f32")
        wave.astype(np.float32).tofile(wp)
        got = np.array(json.loads(tool("embed-pcm", d, wp).stdout)["vector"], dtype=np.float32)
        with torch.no_grad():
            ref = ref_audio.embed_wave(cfg, w, torch.from_numpy(wave)).numpy()
        diff = float(np.abs(got - ref).max())
        worst = max(worst, diff)
        starts = ref_audio.clip_starts(len(wave), cfg)
        report("%s tower: %s (%d samples, clips at %s) vs PyTorch" % (name, wname, len(wave), starts),
               diff <= TOL_TOWER and abs(float(np.linalg.norm(got)) - 1) < 1e-5,
               "max abs %.3g (tol %g)" % (diff, TOL_TOWER))
    # 3. Files in: C decodes (checked above against ffmpeg) and resamples;
    # the reference embeds the C-decoded samples.
    for path in files:
        info, pcm = c_decode(path, tmp, c["sample_rate"])
        got = np.array(json.loads(tool("embed", d, path).stdout)["vector"], dtype=np.float32)
        with torch.no_grad():
            ref = ref_audio.embed_wave(cfg, w, torch.from_numpy(pcm)).numpy()
        diff = float(np.abs(got - ref).max())
        worst = max(worst, diff)
        report("%s tower: file %s (%s) vs PyTorch" % (name, os.path.basename(path), info["format"]),
               diff <= TOL_TOWER, "max abs %.3g (tol %g)" % (diff, TOL_TOWER))
    return worst


def check_broken_models(tmp, wave_path):
    """Model directories that must be refused with a message naming the
    tensor or key."""
    small = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
             "num_mel_bins": 32, "patch_stride": 16}
    w = ref_audio.random_weights(small, 16, seed=3)
    pos = "audio_model.embeddings.position_embedding.weight"
    cases = [
        ("position embedding for another grid", dict(w, **{pos: w[pos][:-1]}), small, pos),
        ("no audio_projection.weight", {k: v for k, v in w.items() if k != "audio_projection.weight"}, small,
         "audio_projection.weight"),
        ("patch embedding with 3 channels", dict(w, **{"audio_model.embeddings.patch_embedding.weight":
                                                     torch.zeros(32, 3, 16, 16)}), small, "patch_embedding"),
        ("a layer missing", {k: v for k, v in w.items() if ".layers.0.mlp.fc2.weight" not in k}, small, "fc2"),
        ("num_mel_bins 2", w, dict(small, num_mel_bins=2), "num_mel_bins"),
        ("window 'kaiser'", w, dict(small, window="kaiser"), "window"),
    ]
    for name, weights, cfg, needle in cases:
        d = os.path.join(tmp, "broken")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"projection_dim": 16, "audio_config": cfg}, f)
        safetensors_io.save(weights, os.path.join(d, "model.safetensors"))
        r = tool("embed", d, wave_path, check=False)
        err = r.stderr.decode(errors="replace").strip()
        code = "invalid argument" if "config" in err else "data corrupt"
        report("broken model refused: %s" % name, r.returncode != 0 and needle in err and code in err, err)


def check_damaged(tmp, media, rounds):
    """Deterministic byte damage to real files (flips, cut-out runs, runs
    overwritten in the headers): every result is a decode or a clean error
    (exit 1 with a message) within a time bound, never a crash or a hang."""
    rng = np.random.default_rng(5)
    for path, fmt in media:
        data = bytearray(open(path, "rb").read())
        bad, decoded, errors = [], 0, 0
        for k in range(rounds):
            m = bytearray(data)
            kind = k % 3
            if kind == 0:
                for _ in range(int(rng.integers(1, 20))):
                    m[int(rng.integers(0, len(m)))] = int(rng.integers(0, 256))
            elif kind == 1:
                a = int(rng.integers(0, len(m)))
                del m[a:a + int(rng.integers(1, 2048))]
            else:
                a = int(rng.integers(0, min(512, len(m))))
                m[a:a + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
            mp = os.path.join(tmp, "damaged.bin")
            with open(mp, "wb") as f:
                f.write(m)
            try:
                r = subprocess.run([TOOL, "decode", mp, "--rate", "16000"], capture_output=True, timeout=60)
            except subprocess.TimeoutExpired:
                bad.append("round %d: timeout" % k)
                continue
            err = r.stderr.decode(errors="replace").strip().splitlines()
            if r.returncode == 0:
                decoded += 1
            elif r.returncode == 1 and err and err[-1].startswith("audio-tool: "):
                errors += 1
            else:
                bad.append("round %d: exit %d: %s" % (k, r.returncode, " | ".join(err[-3:])[:300]))
        report("%d damaged copies of %s (%s): %d decoded, %d clean errors, %d crashes or hangs"
               % (rounds, os.path.basename(path), fmt, decoded, errors, len(bad)), not bad, "\n".join(bad[:5]))


def check_truncated(tmp, media):
    for path, fmt in media:
        data = open(path, "rb").read()
        for frac in (0.5, 0.9):
            cut = os.path.join(tmp, "cut.bin")
            with open(cut, "wb") as f:
                f.write(data[:int(len(data) * frac)])
            r = tool("decode", cut, check=False)
            err = r.stderr.decode(errors="replace").strip().splitlines()
            err = err[-1] if err else ""
            report("truncated %s (%d%%) refused, naming %s" % (os.path.basename(path), frac * 100, fmt),
                   r.returncode != 0 and "bad media" in err and fmt in err, err)


def main():
    tmp = tempfile.mkdtemp(prefix="enc_audio_")
    try:
        sp = os.path.join(tmp, "speech.wav")
        run("espeak-ng", "-w", sp, SPEECH)
        sp16 = os.path.join(tmp, "speech16.wav")
        ffmpeg("-i", sp, "-ar", "16000", sp16)
        lng = os.path.join(tmp, "long.wav")
        run("espeak-ng", "-w", lng, LONG_SPEECH)
        lng16 = os.path.join(tmp, "long16.wav")
        ffmpeg("-i", lng, "-ar", "16000", lng16)
        flac, mp3, opus, st = (os.path.join(tmp, x) for x in ("speech.flac", "speech.mp3", "speech.opus", "stereo.wav"))
        ffmpeg("-i", sp16, flac)
        ffmpeg("-i", sp16, "-c:a", "libmp3lame", "-q:a", "4", mp3)
        ffmpeg("-i", sp16, "-c:a", "libopus", opus)
        # A real stereo file: speech left, speech delayed 10 ms right.
        ffmpeg("-i", sp16, "-af", "pan=stereo|c0=c0|c1=c0,adelay=0|10", st)
        oga = [os.path.join(SOUNDS, x) for x in ("bell.oga", "complete.oga", "dialog-warning.oga",
                                                   "audio-channel-front-left.oga")]
        oga = [p for p in oga if os.path.exists(p)]
        media = [(sp, "WAV"), (sp16, "WAV"), (st, "WAV"), (flac, "FLAC"), (mp3, "MP3"), (opus, "Ogg/Opus")]
        media += [(p, "Ogg/Vorbis") for p in oga]

        dec = check_decoding(tmp, media)
        check_resample(tmp, sp)
        check_resample(tmp, oga[0])

        # Common 16 kHz inputs for the front end and the towers: the same
        # samples go to C and to torchaudio.
        _, w16 = c_decode(sp16, tmp)
        _, wl16 = c_decode(lng16, tmp)
        _, bell16 = c_decode(oga[0], tmp, 16000)
        waves = [("speech 2 s", w16[:32000]), ("speech full", w16), ("speech 0.3 s", w16[8000:12800]),
                 ("bell at 16 kHz", bell16), ("long speech", wl16)]
        fb_worst = check_fbank(tmp, waves)

        tower_waves = [("speech", w16), ("long speech %.1f s" % (len(wl16) / 16000), wl16),
                       ("0.2 s clip", w16[4000:7200]), ("silence", np.zeros(0, dtype=np.float32))]
        report("long clip is over 6 s (3 distinct clips)", len(wl16) > 6 * 16000, "%d samples" % len(wl16))
        files = [sp, mp3, oga[0]]
        small = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2,
                 "num_mel_bins": 64, "patch_stride": 16, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
        tw = {"small": check_tower(tmp, "small", small, 32, tower_waves, files, seed=1)}
        # omni-tiny's layout: patches span every mel band (one patch row),
        # overlapping in time (kernel 32, stride 8).
        band = dict(small, num_mel_bins=32, patch_size=32, patch_stride=8)
        tw["full-band"] = check_tower(tmp, "full-band", band, 32, tower_waves, files[:1], seed=3)
        if os.environ.get("OMNIDEX_ENC_FULL", "1") != "0":
            tw["imagebind"] = check_tower(tmp, "imagebind", {}, 1024, tower_waves[:2] + tower_waves[3:], files[:1],
                                          seed=2)
        check_broken_models(tmp, sp16)
        check_damaged(tmp, [(sp16, "WAV"), (flac, "FLAC"), (mp3, "MP3"), (opus, "Ogg/Opus"), (oga[0], "Ogg/Vorbis")],
                      int(os.environ.get("OMNIDEX_AUDIO_MUTATIONS", "30")))
        check_truncated(tmp, [(sp16, "WAV"), (flac, "FLAC"), (mp3, "MP3"), (opus, "Ogg/Opus"),
                              (oga[0], "Ogg/Vorbis")])
        print("# measured: decode max abs vs ffmpeg %s" % {k: "%.3g" % v for k, v in dec.items()})
        print("# measured: fbank max abs %.3g; towers max abs %s" % (fb_worst, {k: "%.3g" % v for k, v in tw.items()}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
