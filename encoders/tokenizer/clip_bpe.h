/* CLIP's byte-level BPE tokenizer from vocab.json + merges.txt.
 *
 * Rules (those of Hugging Face's CLIPTokenizerFast, which equal OpenAI's
 * simple_tokenizer without ftfy's mojibake repair): Unicode NFC, every run
 * of whitespace becomes one space, lowercase (full Unicode), then words split
 * by CLIP's regex
 *   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
 * each word's UTF-8 bytes mapped through GPT-2's byte-to-unicode table, the
 * last symbol marked with "</w>", merged by merge rank; the sequence wrapped
 * in <|startoftext|> ... <|endoftext|> and truncated to max_len keeping the
 * end token. Text must be valid UTF-8 (ODX_EINVAL otherwise).
 *
 * An odx_bpe is immutable after open: threads may share it. */
#ifndef ODX_ENC_CLIP_BPE_H
#define ODX_ENC_CLIP_BPE_H
#include <stddef.h>
#include <stdint.h>

#define ODX_BPE_MAX_TEXT (1u << 20) /* bytes of input text accepted */

typedef struct odx_bpe odx_bpe;

int odx_bpe_open(const char *vocab_path, const char *merges_path, odx_bpe **out);
int odx_bpe_open_bytes(const char *vocab, size_t vocab_len, const char *merges,
                       size_t merges_len, odx_bpe **out);
void odx_bpe_close(odx_bpe *b);

int32_t odx_bpe_bos(const odx_bpe *b); /* id of <|startoftext|> */
int32_t odx_bpe_eos(const odx_bpe *b); /* id of <|endoftext|> */
size_t odx_bpe_vocab_size(const odx_bpe *b);

/* Encodes text[0..len) into ids (capacity max_len >= 2): bos, tokens, eos,
 * truncated to max_len. Writes the count to *n. No padding. */
int odx_bpe_encode(const odx_bpe *b, const char *text, size_t len, int32_t *ids, int max_len,
                   int *n);

#endif
