# encoders: the neural runtime (safetensors, ops), CLIP towers, tokenizer and
# image path. See docs/encoders.md.
LIB_SRCS += encoders/runtime/safetensors.c encoders/runtime/arena.c \
            encoders/runtime/ops.c encoders/runtime/half.c \
            encoders/models/clip_config.c encoders/models/transformer.c \
            encoders/models/clip.c encoders/models/hub.c \
            encoders/tokenizer/clip_bpe.c \
            encoders/media/image_decode.c encoders/media/exif.c \
            encoders/media/image_preprocess.c encoders/space.c \
            encoders/space_verify.c
# audio path (docs/modalities.md "Audio"): decode, Kaldi fbank, generic ViT, audio tower
LIB_SRCS += encoders/models/vit.c encoders/media/audio.c encoders/media/fbank.c \
            encoders/models/audio_tower.c
TEST_SRCS += tests/unit/test_enc_audio.c
TEST_SCRIPTS += tests/integration/enc_audio_parity.py
LDLIBS += -lsndfile -lsoxr -lfftw3f
TEST_SRCS += tests/unit/test_enc_safetensors.c tests/unit/test_enc_ops.c \
             tests/unit/test_enc_tokenizer.c tests/unit/test_enc_image.c \
             tests/unit/test_enc_fuzz.c tests/unit/test_enc_model.c
TEST_SCRIPTS += tests/integration/enc_clip_parity.py tests/integration/enc_tokenizer_parity.py \
                tests/integration/enc_image_parity.py tests/integration/enc_space.py \
                tests/integration/enc_hub.py tests/integration/enc_space_media.py
# omni-tiny: C == PyTorch on the shipped model, and the demo's P@10 floors
TEST_SCRIPTS += tools/omni_tiny/check_c.py tests/integration/omni_demo.py
LDLIBS += -ljpeg -lpng -lwebp -lgif -lunistring -lcurl -lcrypto

# Encoder throughput vs PyTorch; writes the "## Encoders" and "## Media
# encoders (audio, video, 3D)" sections of bench/RESULTS.md.
.PHONY: enc-bench
BENCH_TARGETS += enc-bench
enc-bench: $(B)/enc-tool $(B)/audio-tool $(B)/video-tool $(B)/mesh-tool
	OMNIDEX_BUILD=$(B) /usr/bin/python3 bench/encoders/run.py --build $(B)
	OMNIDEX_BUILD=$(B) /usr/bin/python3 bench/encoders/media_bench.py --build $(B)

# 3D path (docs/modalities.md "3D"): mesh decoding (own PLY/OFF parsers,
# libassimp for OBJ/STL/glTF), point sampling + grouping, multi-view depth
# rendering, the point tower (mesh-tool, tools/enc/, is a thin program over it).
LIB_SRCS += encoders/media/mesh.c encoders/media/mesh_ply.c encoders/media/mesh_off.c \
            encoders/media/mesh_stl.c encoders/media/mesh_assimp.c encoders/media/points.c encoders/media/render.c \
            encoders/models/point_tower.c
TEST_SRCS += tests/unit/test_enc_mesh.c
TEST_SCRIPTS += tests/integration/enc_point_parity.py tests/integration/enc_mesh_files.py
LDLIBS += -lassimp

# video path (docs/modalities.md "Video"): decoding from memory by libav*,
# frame sampling, RGB conversion, audio track (video-tool, tools/enc/).
LIB_SRCS += encoders/media/video.c
# odx_media_sniff: the one format detection the CLI shares with the decoders
LIB_SRCS += encoders/media/sniff.c
TEST_SRCS += tests/unit/test_enc_video.c
TEST_SCRIPTS += tests/integration/enc_video_files.py
LDLIBS += -lavformat -lavcodec -lswscale -lswresample -lavutil
