# tools/enc: the encoder tools, programs over the encoder modules (they are
# not library code) that the parity tests and the encoder benchmarks run:
#   enc-tool    embed token ids / pixel tensors / files, print vectors
#   audio-tool  the audio path (decode, fbank, embed)
#   video-tool  the video path (decode, frame sampling, embed)
#   mesh-tool   the 3D path (decode, sample, group, render, embed)
# They use the encoders' own headers, so they link the whole libomnidex.a.
ENC_TOOLS := $(B)/enc-tool $(B)/audio-tool $(B)/video-tool $(B)/mesh-tool
PROGS += $(ENC_TOOLS)
$(B)/enc-tool: $(B)/tools/enc/enc_tool.o
$(B)/audio-tool: $(B)/tools/enc/audio_tool.o
$(B)/video-tool: $(B)/tools/enc/video_tool.o
$(B)/mesh-tool: $(B)/tools/enc/mesh_tool.o
$(ENC_TOOLS): $(B)/tools/enc/tool_io.o $(B)/libomnidex.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libomnidex.a $(LDLIBS)
-include $(wildcard $(B)/tools/enc/*.d)
