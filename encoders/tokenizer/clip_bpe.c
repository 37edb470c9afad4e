/* CLIP byte-level BPE (rules in clip_bpe.h).
 *
 * Unicode work (NFC, full lowercase mapping, general categories) is done by
 * GNU libunistring so that it follows the Unicode tables rather than ASCII.
 * Symbols are vocabulary ids from the start: every byte symbol and its
 * "</w>" form must be in vocab.json (true of every CLIP vocabulary), so a
 * merge is a lookup of the id pair (a, b) -> (rank, id of "ab"). */
#include "encoders/tokenizer/clip_bpe.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/util.h"

#define BPE_MAX_VOCAB (1 << 22)
#define BPE_MAX_FILE (64u << 20)
/* A word longer than this many bytes is cut before BPE: BPE is quadratic in
 * the word length and a word this long already yields more tokens than a
 * CLIP context holds. */
#define BPE_MAX_WORD 1024

typedef struct str_slot { const char *s; uint32_t len; int32_t id; } str_slot;
typedef struct pair_slot { uint64_t key; int32_t rank, merged; } pair_slot; /* key 0 = empty */

struct odx_bpe {
    char *strings;          /* vocab keys, NUL-separated, owned */
    str_slot *vocab;        /* open addressing, capacity vocab_cap (power of 2) */
    size_t vocab_cap, vocab_n;
    pair_slot *merges;
    size_t merge_cap;
    int32_t byte_id[256], byte_end_id[256]; /* "x" and "x</w>" */
    int32_t bos, eos;
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static int32_t vocab_get(const odx_bpe *b, const char *s, size_t n)
{
    size_t mask = b->vocab_cap - 1;
    for (size_t i = fnv1a(s, n) & mask;; i = (i + 1) & mask) {
        const str_slot *sl = &b->vocab[i];
        if (!sl->s) return -1;
        if (sl->len == n && memcmp(sl->s, s, n) == 0) return sl->id;
    }
}

static uint64_t pair_key(int32_t a, int32_t c) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)c) + 1; }

static const pair_slot *merge_get(const odx_bpe *b, int32_t a, int32_t c)
{
    uint64_t k = pair_key(a, c);
    size_t mask = b->merge_cap - 1;
    for (size_t i = mix64(k) & mask;; i = (i + 1) & mask) {
        const pair_slot *p = &b->merges[i];
        if (p->key == 0) return NULL;
        if (p->key == k) return p;
    }
}

/* GPT-2's reversible byte -> printable code point table. */
static uint32_t byte_cp(int byte)
{
    int n = 0;
    for (int c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        if (c == byte) return printable ? (uint32_t)c : 256u + (uint32_t)n;
        if (!printable) n++;
    }
    return 0;
}

void odx_bpe_close(odx_bpe *b)
{
    if (!b) return;
    odx_free(b->strings);
    odx_free(b->vocab);
    odx_free(b->merges);
    odx_free(b);
}

int32_t odx_bpe_bos(const odx_bpe *b) { return b->bos; }
int32_t odx_bpe_eos(const odx_bpe *b) { return b->eos; }
size_t odx_bpe_vocab_size(const odx_bpe *b) { return b->vocab_n; }

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

static int load_vocab(odx_bpe *b, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return odx_error(ODX_ECORRUPT, "vocab.json: not a JSON object");
    }
    size_t n = 0, bytes = 0;
    int rc = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= BPE_MAX_VOCAB ||
            e->valuedouble != (double)(int32_t)e->valuedouble) {
            rc = odx_error(ODX_ECORRUPT, "vocab.json: '%.64s' needs an integer id in [0, %d)", e->string, BPE_MAX_VOCAB);
            goto out;
        }
        if (++n > BPE_MAX_VOCAB) { rc = odx_error(ODX_ECORRUPT, "vocab.json: over %d entries", BPE_MAX_VOCAB); goto out; }
        bytes += strlen(e->string) + 1;
    }
    b->vocab_cap = pow2_at_least(n * 2);
    b->vocab = odx_calloc(b->vocab_cap, sizeof *b->vocab);
    b->strings = odx_malloc(bytes ? bytes : 1);
    if (!b->vocab || !b->strings) { rc = odx_error(ODX_ENOMEM, "vocab.json: out of memory"); goto out; }
    char *p = b->strings;
    for (cJSON *e = root->child; e; e = e->next) {
        size_t l = strlen(e->string);
        if (vocab_get(b, e->string, l) >= 0) continue; /* duplicate key: first wins */
        memcpy(p, e->string, l + 1);
        size_t mask = b->vocab_cap - 1, i = fnv1a(p, l) & mask;
        while (b->vocab[i].s) i = (i + 1) & mask;
        b->vocab[i].s = p;
        b->vocab[i].len = (uint32_t)l;
        b->vocab[i].id = (int32_t)e->valuedouble;
        b->vocab_n++;
        p += l + 1;
    }
out:
    cJSON_Delete(root);
    return rc;
}

static int load_merges(odx_bpe *b, const char *text, size_t len)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    b->merge_cap = pow2_at_least(lines * 2);
    b->merges = odx_calloc(b->merge_cap, sizeof *b->merges);
    if (!b->merges) return odx_error(ODX_ENOMEM, "merges.txt: out of memory");
    char buf[1024];
    int32_t rank = 0;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        lineno++;
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll == 0 || (lineno == 1 && ll >= 8 && memcmp(line, "#version", 8) == 0)) continue;
        const char *sp = memchr(line, ' ', ll);
        if (!sp || sp == line || sp == line + ll - 1 || memchr(sp + 1, ' ', ll - (size_t)(sp + 1 - line)))
            return odx_error(ODX_ECORRUPT, "merges.txt:%zu: expected two symbols separated by one space", lineno);
        size_t la = (size_t)(sp - line), lb = ll - la - 1;
        if (la + lb >= sizeof buf) return odx_error(ODX_ECORRUPT, "merges.txt:%zu: line too long", lineno);
        int32_t a = vocab_get(b, line, la), c = vocab_get(b, sp + 1, lb);
        memcpy(buf, line, la);
        memcpy(buf + la, sp + 1, lb);
        int32_t m = vocab_get(b, buf, la + lb);
        int32_t r = rank++;
        if (a < 0 || c < 0 || m < 0) continue; /* can never apply to vocabulary symbols */
        uint64_t k = pair_key(a, c);
        size_t mask = b->merge_cap - 1, i = mix64(k) & mask;
        while (b->merges[i].key && b->merges[i].key != k) i = (i + 1) & mask;
        if (b->merges[i].key) continue; /* duplicate: the earlier rank wins */
        b->merges[i].key = k;
        b->merges[i].rank = r;
        b->merges[i].merged = m;
    }
    return 0;
}

int odx_bpe_open_bytes(const char *vocab, size_t vocab_len, const char *merges, size_t merges_len,
                       odx_bpe **out)
{
    odx_bpe *b = odx_calloc(1, sizeof *b);
    if (!b) return odx_error(ODX_ENOMEM, "out of memory");
    int rc = load_vocab(b, vocab, vocab_len);
    if (!rc) rc = load_merges(b, merges, merges_len);
    for (int c = 0; c < 256 && !rc; c++) {
        uint8_t u[8];
        size_t n = 0;
        uint32_t cp = byte_cp(c);
        if (cp < 0x80) u[n++] = (uint8_t)cp;
        else { u[n++] = (uint8_t)(0xC0 | (cp >> 6)); u[n++] = (uint8_t)(0x80 | (cp & 0x3F)); }
        char s[16];
        memcpy(s, u, n);
        memcpy(s + n, "</w>", 4);
        b->byte_id[c] = vocab_get(b, s, n);
        b->byte_end_id[c] = vocab_get(b, s, n + 4);
        if (b->byte_id[c] < 0 || b->byte_end_id[c] < 0)
            rc = odx_error(ODX_ECORRUPT, "vocab.json lacks the byte symbol for 0x%02x (not a CLIP vocabulary)", c);
    }
    if (!rc) {
        b->bos = vocab_get(b, "<|startoftext|>", 15);
        b->eos = vocab_get(b, "<|endoftext|>", 13);
        if (b->bos < 0 || b->eos < 0) rc = odx_error(ODX_ECORRUPT, "vocab.json lacks <|startoftext|> or <|endoftext|>");
    }
    if (rc) { odx_bpe_close(b); return rc; }
    *out = b;
    return 0;
}

int odx_bpe_open(const char *vocab_path, const char *merges_path, odx_bpe **out)
{
    char *v = NULL, *m = NULL;
    size_t vl = 0, ml = 0;
    int rc = odx_read_file(vocab_path, BPE_MAX_FILE, &v, &vl);
    if (!rc) rc = odx_read_file(merges_path, BPE_MAX_FILE, &m, &ml);
    if (!rc) rc = odx_bpe_open_bytes(v, vl, m, ml, out);
    odx_free(v);
    odx_free(m);
    return rc;
}

/* Unicode White_Space (what \s means to the regex engines CLIP's tokenizers use). */
static int is_ws(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}
static int is_letter(uint32_t c) { return uc_is_general_category(c, UC_CATEGORY_L); }
static int is_number(uint32_t c) { return uc_is_general_category(c, UC_CATEGORY_N); }

typedef struct out_buf { int32_t *ids; int cap, n; } out_buf;

static int emit(out_buf *o, int32_t id)
{
    if (o->n >= o->cap) return 1;
    o->ids[o->n++] = id;
    return o->n >= o->cap;
}

/* BPE on one word's bytes; appends ids. Returns 1 once the output is full. */
static int bpe_word(const odx_bpe *b, const uint8_t *w, size_t n, int32_t *sym, out_buf *o)
{
    if (n > BPE_MAX_WORD) n = BPE_MAX_WORD;
    size_t k = n;
    for (size_t i = 0; i < n; i++) sym[i] = i + 1 == n ? b->byte_end_id[w[i]] : b->byte_id[w[i]];
    while (k > 1) {
        int32_t best = INT32_MAX;
        const pair_slot *bp = NULL;
        for (size_t i = 0; i + 1 < k; i++) {
            const pair_slot *p = merge_get(b, sym[i], sym[i + 1]);
            if (p && p->rank < best) { best = p->rank; bp = p; }
        }
        if (!bp) break;
        /* Merge every occurrence of the best pair, left to right. */
        int32_t a = (int32_t)((bp->key - 1) >> 32), c = (int32_t)(uint32_t)(bp->key - 1);
        size_t j = 0;
        for (size_t i = 0; i < k;) {
            if (i + 1 < k && sym[i] == a && sym[i + 1] == c) { sym[j++] = bp->merged; i += 2; }
            else sym[j++] = sym[i++];
        }
        k = j;
    }
    for (size_t i = 0; i < k; i++)
        if (emit(o, sym[i])) return 1;
    return 0;
}

static int starts_with(const uint32_t *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (l > n) return 0;
    for (size_t i = 0; i < l; i++)
        if (s[i] != (unsigned char)lit[i]) return 0;
    return 1;
}

int odx_bpe_encode(const odx_bpe *b, const char *text, size_t len, int32_t *ids, int max_len, int *n)
{
    if (max_len < 2) return odx_error(ODX_EINVAL, "tokenizer: max_len %d < 2", max_len);
    if (len > ODX_BPE_MAX_TEXT) return odx_error(ODX_ELIMIT, "tokenizer: text of %zu bytes over the %u-byte limit", len, ODX_BPE_MAX_TEXT);
    if (!odx_utf8_valid(text, len)) return odx_error(ODX_EINVAL, "tokenizer: text is not valid UTF-8");
    int rc = 0;
    size_t cn = 0, nn = 0, ln = 0;
    uint32_t *cps = odx_malloc((len + 1) * sizeof *cps);
    uint32_t *nfc = NULL, *low = NULL;
    uint8_t *wbytes = NULL;
    int32_t *sym = NULL;
    if (!cps) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < len;) {
        ucs4_t c;
        int l = u8_mbtouc(&c, (const uint8_t *)text + i, len - i);
        cps[cn++] = c;
        i += (size_t)(l > 0 ? l : 1);
    }
    /* NFC, then whitespace runs -> one space (trimmed), then lowercase. */
    nfc = u32_normalize(UNINORM_NFC, cps, cn, NULL, &nn);
    if (!nfc && cn) { rc = odx_error(ODX_ENOMEM, "tokenizer: normalisation failed"); goto out; }
    size_t wn = 0;
    if (nn > len) { /* NFC grew the text: make room */
        odx_free(cps);
        cps = odx_malloc(nn * sizeof *cps);
        if (!cps) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    }
    for (size_t i = 0; i < nn; i++) {
        if (is_ws(nfc[i])) {
            if (wn && cps[wn - 1] != ' ') cps[wn++] = ' ';
        } else {
            cps[wn++] = nfc[i];
        }
    }
    if (wn && cps[wn - 1] == ' ') wn--;
    low = u32_tolower(cps, wn, NULL, NULL, NULL, &ln);
    if (!low && wn) { rc = odx_error(ODX_ENOMEM, "tokenizer: lowercase mapping failed"); goto out; }
    wbytes = odx_malloc(4 * ln + 4);
    sym = odx_malloc((BPE_MAX_WORD + 1) * sizeof *sym);
    if (!wbytes || !sym) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    out_buf o = {ids, max_len - 1, 0};
    emit(&o, b->bos);
    int full = 0;
    for (size_t i = 0; i < ln && !full;) {
        uint32_t c = low[i];
        size_t j = i;
        if (is_ws(c)) { i++; continue; }
        if (starts_with(low + i, ln - i, "<|startoftext|>")) { full = emit(&o, b->bos); i += 15; continue; }
        if (starts_with(low + i, ln - i, "<|endoftext|>")) { full = emit(&o, b->eos); i += 13; continue; }
        if (c == '\'' && i + 1 < ln) {
            uint32_t d = low[i + 1], e = i + 2 < ln ? low[i + 2] : 0;
            /* The regex tries 's 't 're 've 'm 'll 'd; IGNORECASE is moot after lowercasing. */
            if (d == 's' || d == 't' || d == 'm' || d == 'd') j = i + 2;
            else if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) j = i + 3;
        }
        if (j == i) {
            if (is_letter(c)) { while (j < ln && is_letter(low[j])) j++; }
            else if (is_number(c)) j = i + 1;
            else { while (j < ln && !is_ws(low[j]) && !is_letter(low[j]) && !is_number(low[j])) j++; }
        }
        size_t nb = 0;
        for (size_t k = i; k < j; k++) {
            int l = u8_uctomb(wbytes + nb, low[k], 4);
            nb += (size_t)(l > 0 ? l : 0);
        }
        full = bpe_word(b, wbytes, nb, sym, &o);
        i = j;
    }
    ids[o.n++] = b->eos;
    *n = o.n;
out:
    odx_free(cps);
    free(nfc);  /* allocated by libunistring with malloc */
    free(low);
    odx_free(wbytes);
    odx_free(sym);
    return rc;
}
