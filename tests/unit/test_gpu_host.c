/* The GPU backend's host logic, on the CPU: the top-k selection scheme of
 * the kernels (index/cuda/select.h, replayed here pass by pass with the same
 * functions and checked against a full sort), the IVF list arena and
 * grouping, the seq -> slot map and the scratch plans (index/cuda/layout.h).
 * Needs no device and no nvcc. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "index/cuda/layout.h"
#include "index/cuda/select.h"
#include "omnidex.h"
#include "testlib.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rndf(void) { return (float)((double)(rnd() >> 11) / (double)(1ull << 53)) * 2.f - 1.f; }

static void test_key_order(void)
{
    float v[] = {-INFINITY, -3e38f, -1.5f, -1e-40f, -0.0f, 0.0f, 1e-40f, 1e-3f, 0.5f, 1.f, 7.f, 3e38f, INFINITY};
    size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++) {
        for (int lb = 0; lb < 2; lb++) {
            uint32_t key = odx_gsel_key(v[i], lb);
            float back = odx_gsel_value(key, lb);
            CHECK(memcmp(&back, &v[i], 4) == 0, "round trip of %g (larger_better=%d)", v[i], lb);
            CHECK(key != ODX_GSEL_WORST, "%g maps to the empty key", v[i]);
        }
        for (size_t j = i + 1; j < n; j++) {
            /* ascending floats: ascending keys for distances, descending for similarities */
            CHECK(odx_gsel_key(v[i], 0) < odx_gsel_key(v[j], 0), "%g vs %g (distance)", v[i], v[j]);
            CHECK(odx_gsel_key(v[i], 1) > odx_gsel_key(v[j], 1), "%g vs %g (similarity)", v[i], v[j]);
        }
    }
    for (int t = 0; t < 100000; t++) {
        float a = rndf() * 100, b = rndf() * 100;
        CHECK((a < b) == (odx_gsel_key(a, 0) < odx_gsel_key(b, 0)), "%g < %g", a, b);
    }
}

/* One block of the selection kernel, replayed on the host: keys of a chunk
 * in, k survivors (padded with WORST / -1) out, in kernel order (the kernel's
 * compaction order is arbitrary; index order is one of its outcomes). */
static void host_block(const uint32_t *key, const int32_t *id, uint32_t len, uint32_t k, uint32_t *ok, int32_t *oi)
{
    for (uint32_t i = 0; i < k; i++) { ok[i] = ODX_GSEL_WORST; oi[i] = -1; }
    if (len <= k) {
        for (uint32_t i = 0; i < len; i++) { ok[i] = key[i]; oi[i] = key[i] == ODX_GSEL_WORST ? -1 : id[i]; }
        return;
    }
    uint32_t prefix = 0, mask = 0, rank = k, hist[256];
    for (int shift = 24; shift >= 0; shift -= 8) {
        memset(hist, 0, sizeof hist);
        for (uint32_t i = 0; i < len; i++)
            if ((key[i] & mask) == prefix) hist[(key[i] >> shift) & 255u]++;
        uint32_t b = odx_gsel_pick_bin(hist, &rank);
        prefix |= b << shift;
        mask |= 255u << shift;
    }
    uint32_t nless = k - rank, cl = 0, ce = 0;
    for (uint32_t i = 0; i < len; i++) {
        int slot = -1;
        if (key[i] < prefix) slot = (int)cl++;
        else if (key[i] == prefix && ce < rank) slot = (int)(nless + ce++);
        if (slot >= 0) { ok[slot] = key[i]; oi[slot] = key[i] == ODX_GSEL_WORST ? -1 : id[i]; }
    }
    if (cl != nless) { printf("# block: %u keys below the threshold, expected %u\n", cl, nless); ok[0] = 0; oi[0] = -7; }
}

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

/* The whole row: passes until one chunk remains, as gpu.cu runs them. */
static int host_select(const uint32_t *key, uint64_t n, uint32_t k, uint32_t chunk, uint32_t *outk, int32_t *outi)
{
    uint32_t *ck = odx_malloc(n * 4 + 4);
    int32_t *ci = odx_malloc(n * 4 + 4);
    for (uint64_t i = 0; i < n; i++) { ck[i] = key[i]; ci[i] = (int32_t)i; }
    int passes = 0;
    for (;;) {
        uint64_t nch = odx_gsel_nchunks(n, chunk);
        uint32_t *nk = odx_malloc(nch * k * 4);
        int32_t *ni = odx_malloc(nch * k * 4);
        for (uint64_t c = 0; c < nch; c++) {
            uint64_t st = c * chunk, len = n - st < chunk ? n - st : chunk;
            host_block(ck + st, ci + st, (uint32_t)len, k, nk + c * k, ni + c * k);
        }
        passes++;
        odx_free(ck);
        odx_free(ci);
        ck = nk;
        ci = ni;
        n = nch * k;
        if (nch == 1) break;
    }
    /* the final sort, by the kernel's order */
    uint64_t *pairs = odx_malloc(k * 8);
    for (uint32_t i = 0; i < k; i++) pairs[i] = ((uint64_t)ck[i] << 32) | (uint32_t)ci[i];
    qsort(pairs, k, 8, cmp_pair);
    for (uint32_t i = 0; i < k; i++) {
        outk[i] = (uint32_t)(pairs[i] >> 32);
        outi[i] = (int32_t)(uint32_t)pairs[i];
        if (i > 0)
            CHECK(!odx_gsel_before(outk[i], outi[i], outk[i - 1], outi[i - 1]), "sort order differs from odx_gsel_before");
    }
    odx_free(pairs);
    odx_free(ck);
    odx_free(ci);
    return passes;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void check_select(uint64_t n, uint32_t k, uint32_t chunk, int distinct_values, double excluded)
{
    uint32_t *key = odx_malloc(n * 4), *ref = odx_malloc(n * 4), *ok = odx_malloc(k * 4);
    int32_t *oi = odx_malloc(k * 4);
    for (uint64_t i = 0; i < n; i++) {
        float v = distinct_values ? (float)(rnd() % (uint64_t)distinct_values) : rndf();
        key[i] = (double)(rnd() % 1000) < excluded * 1000 ? ODX_GSEL_WORST : odx_gsel_key(v, (int)(i & 1));
        ref[i] = key[i];
    }
    qsort(ref, n, 4, cmp_u32);
    int passes = host_select(key, n, k, chunk, ok, oi);
    CHECK(passes == odx_gsel_passes(n, k, chunk), "n=%llu k=%u: %d passes, plan says %d", (unsigned long long)n, k,
          passes, odx_gsel_passes(n, k, chunk));
    char *seen = calloc(n, 1);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t want = i < n ? ref[i] : ODX_GSEL_WORST;
        CHECK(ok[i] == want, "n=%llu k=%u chunk=%u: rank %u has key %08x, sort says %08x", (unsigned long long)n, k,
              chunk, i, ok[i], want);
        if (want == ODX_GSEL_WORST) {
            CHECK(oi[i] == -1, "rank %u: an empty slot carries id %d", i, oi[i]);
        } else if (oi[i] >= 0 && (uint64_t)oi[i] < n) {
            CHECK(key[oi[i]] == ok[i], "rank %u: id %d has key %08x, reported %08x", i, oi[i], key[oi[i]], ok[i]);
            CHECK(!seen[oi[i]], "id %d reported twice", oi[i]);
            seen[oi[i]] = 1;
        } else {
            CHECK(0, "rank %u: id %d out of range", i, oi[i]);
        }
        if (t_failed_checks > 5) break;
    }
    free(seen);
    odx_free(key);
    odx_free(ref);
    odx_free(ok);
    odx_free(oi);
}

static void test_select_scheme(void)
{
    static const uint64_t ns[] = {1, 9, 1000, 8192, 8193, 50000, 200000};
    static const uint32_t ks[] = {1, 7, 100, 1024};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
            check_select(ns[a], ks[b], ODX_GSEL_CHUNK, 0, 0.0);
            check_select(ns[a], ks[b], ODX_GSEL_CHUNK, 3, 0.2);   /* mostly ties */
            check_select(ns[a], ks[b], 2048, 0, 0.9);             /* mostly excluded, smaller chunks */
        }
    check_select(5000, 10, 64, 50, 0.5); /* many passes */
    CHECK(odx_gsel_passes(1000000, 10, ODX_GSEL_CHUNK) == 2, "1M, k=10: %d passes", odx_gsel_passes(1000000, 10, ODX_GSEL_CHUNK));
    CHECK(odx_gsel_passes(1000000, 1024, ODX_GSEL_CHUNK) == 4, "1M, k=1024: %d passes",
          odx_gsel_passes(1000000, 1024, ODX_GSEL_CHUNK));
}

static void test_pick_bin(void)
{
    uint32_t hist[256] = {0};
    hist[3] = 5;
    hist[10] = 2;
    hist[200] = 1;
    uint32_t r = 1;
    CHECK(odx_gsel_pick_bin(hist, &r) == 3 && r == 1, "rank 1");
    r = 5;
    CHECK(odx_gsel_pick_bin(hist, &r) == 3 && r == 5, "rank 5");
    r = 6;
    CHECK(odx_gsel_pick_bin(hist, &r) == 10 && r == 1, "rank 6 -> bin 10 rank 1 (r=%u)", r);
    r = 8;
    CHECK(odx_gsel_pick_bin(hist, &r) == 200 && r == 1, "rank 8 -> bin 200");
}

/* The IVF arena against a model: each list's content must survive moves. */
static void test_ivf_layout(void)
{
    enum { NL = 37, OPS = 4000 };
    odx_ivf_layout L;
    REQUIRE_OK(odx_ivf_layout_init(&L, NL));
    uint64_t cap_slots = 1 << 16, *arena = malloc(cap_slots * 8);
    uint64_t *model[NL] = {0}, mlen[NL] = {0}, mcap[NL] = {0}, next = 1;
    for (int op = 0; op < OPS; op++) {
        uint32_t l = (uint32_t)(rnd() % (op < OPS / 2 ? NL : 3)); /* later, a few lists grow a lot */
        uint64_t n = 1 + rnd() % 40, dst, from;
        int moved;
        uint64_t old_off = L.off[l], old_len = L.len[l];
        REQUIRE_OK(odx_ivf_layout_append(&L, l, n, &dst, &moved, &from));
        while (L.end > cap_slots) {
            arena = realloc(arena, cap_slots * 2 * 8);
            cap_slots *= 2;
        }
        CHECK(L.len[l] == old_len + n, "len");
        CHECK(L.len[l] <= L.cap[l], "len %llu > cap %llu", (unsigned long long)L.len[l], (unsigned long long)L.cap[l]);
        CHECK(L.off[l] + L.cap[l] <= L.end, "list past the arena end");
        if (moved) {
            CHECK(from == old_off && L.off[l] != old_off, "move reported without moving");
            memmove(arena + L.off[l], arena + from, old_len * 8);
        } else {
            CHECK(L.off[l] == old_off || old_len == 0, "list moved silently");
        }
        CHECK(dst == L.off[l] + old_len, "dst slot");
        if (mlen[l] + n > mcap[l]) { mcap[l] = (mlen[l] + n) * 2; model[l] = realloc(model[l], mcap[l] * 8); }
        for (uint64_t j = 0; j < n; j++) { arena[dst + j] = next; model[l][mlen[l]++] = next++; }
    }
    uint64_t sumcap = 0, maxlen = 0;
    for (uint32_t l = 0; l < NL; l++) {
        sumcap += L.cap[l];
        if (L.len[l] > maxlen) maxlen = L.len[l];
        CHECK(L.len[l] == mlen[l], "list %u length", l);
        for (uint64_t j = 0; j < mlen[l]; j++)
            if (arena[L.off[l] + j] != model[l][j]) { CHECK(0, "list %u entry %llu lost", l, (unsigned long long)j); break; }
        for (uint32_t m = l + 1; m < NL; m++)
            CHECK(L.off[l] + L.cap[l] <= L.off[m] || L.off[m] + L.cap[m] <= L.off[l], "lists %u and %u overlap", l, m);
        free(model[l]);
    }
    CHECK(sumcap + L.holes == L.end, "capacity %llu + holes %llu != end %llu", (unsigned long long)sumcap,
          (unsigned long long)L.holes, (unsigned long long)L.end);
    CHECK(L.maxlen == maxlen, "maxlen");
    CHECK(L.holes <= L.end / 2 + 64, "holes %llu of %llu slots", (unsigned long long)L.holes, (unsigned long long)L.end);
    CHECK(odx_ivf_layout_append(&L, NL, 1, &next, &(int){0}, &next) == ODX_EINVAL, "list out of range");
    free(arena);
    odx_ivf_layout_free(&L);
}

static void test_ivf_group(void)
{
    enum { N = 1000, NL = 13 };
    int32_t assign[N];
    size_t order[N], start[NL + 1];
    for (int i = 0; i < N; i++) assign[i] = (int32_t)(rnd() % NL);
    REQUIRE_OK(odx_ivf_group(NL, N, assign, order, start));
    CHECK(start[0] == 0 && start[NL] == N, "bounds");
    char seen[N] = {0};
    for (uint32_t l = 0; l < NL; l++)
        for (size_t j = start[l]; j < start[l + 1]; j++) {
            CHECK(assign[order[j]] == (int32_t)l, "item %zu in list %u", order[j], l);
            CHECK(j == start[l] || order[j] > order[j - 1], "order inside a list is not the input order");
            seen[order[j]]++;
        }
    for (int i = 0; i < N; i++) CHECK(seen[i] == 1, "item %d placed %d times", i, seen[i]);
    assign[5] = NL;
    CHECK(odx_ivf_group(NL, N, assign, order, start) == ODX_EINTERNAL, "bad assignment accepted");
}

static void test_slotmap(void)
{
    odx_gpu_slotmap m = {0};
    CHECK(odx_gpu_slotmap_get(&m, 0) == ODX_GPU_NO_SLOT, "empty map");
    REQUIRE_OK(odx_gpu_slotmap_set(&m, 5, 1));
    REQUIRE_OK(odx_gpu_slotmap_set(&m, 100000, 2));
    CHECK(odx_gpu_slotmap_get(&m, 5) == 1 && odx_gpu_slotmap_get(&m, 100000) == 2, "get");
    CHECK(odx_gpu_slotmap_get(&m, 6) == ODX_GPU_NO_SLOT && odx_gpu_slotmap_get(&m, 1u << 30) == ODX_GPU_NO_SLOT, "absent");
    CHECK(odx_gpu_slotmap_set(&m, ODX_GPU_MAX_SEQ, 1) == ODX_EINVAL, "huge seq accepted");
    odx_gpu_slotmap_free(&m);
}

static void test_plans(void)
{
    static const uint64_t ns[] = {1, 100, 8192, 100000, 1000000, 10000000};
    static const uint32_t ks[] = {1, 10, 1024};
    static const uint64_t nqs[] = {1, 8, 1000, 4096};
    static const uint64_t scratch[] = {16ull << 20, 256ull << 20, 2ull << 30};
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 4; c++)
                for (size_t d = 0; d < 3; d++) {
                    odx_gpu_plan p;
                    uint64_t maxqb = nqs[c] <= 8 ? 8 : 1024;
                    int rc = odx_gpu_plan_flat(ns[a], 512, ks[b], nqs[c], maxqb, 1, 1, ns[a] / 64 + 1, scratch[d], &p);
                    if (rc) {
                        CHECK(rc == ODX_ELIMIT, "plan rc %d", rc);
                        continue;
                    }
                    uint64_t sum = 0;
                    for (int i = 0; i < ODX_GP_COUNT; i++) sum += odx_gpu_align(p.piece[i]);
                    CHECK(sum == p.total && p.total <= scratch[d], "total %llu", (unsigned long long)p.total);
                    CHECK(p.qb >= 1 && p.qb <= maxqb && p.qb <= nqs[c], "qb %llu", (unsigned long long)p.qb);
                    CHECK(p.tile * p.ntiles >= ns[a] && (p.ntiles - 1) * p.tile < ns[a], "tiles do not cover n");
                    CHECK(p.tile % ODX_GSEL_CHUNK == 0 || p.ntiles == 1, "tile %llu", (unsigned long long)p.tile);
                    CHECK(p.piece[ODX_GP_SELA] >= odx_gpu_sel_bytes(p.qb, p.tile, ks[b]), "select buffer too small");
                    if (p.ntiles > 1) {
                        CHECK(p.piece[ODX_GP_SELA] >= odx_gpu_sel_bytes(p.qb, p.ntiles * ks[b], ks[b]), "merge buffer");
                        CHECK(p.piece[ODX_GP_RES] >= p.qb * p.ntiles * ks[b] * 8, "tile survivors");
                    }
                    CHECK(p.piece[ODX_GP_TILE] >= p.qb * p.tile * 4, "tile buffer");
                }
    odx_gpu_plan p;
    CHECK(odx_gpu_plan_flat(1000000, 512, 1024, 1, 8, 0, 0, 0, 4096, &p) == ODX_ELIMIT, "4 KiB of scratch accepted");
    REQUIRE_OK(odx_gpu_plan_ivf(1024, 32, 3000, 512, 100, 4096, 0, 256ull << 20, &p));
    CHECK(p.total <= 256ull << 20 && p.qb >= 1, "ivf plan");
    CHECK(p.piece[ODX_GP_SCANV] == p.qb * 32 * 3000 * 4 && p.piece[ODX_GP_PROBE] == p.qb * 32 * 8, "ivf pieces");
    CHECK(p.piece[ODX_GP_SELA] >= odx_gpu_sel_bytes(p.qb, 32 * 3000, 100), "ivf select buffer");
    CHECK(odx_gpu_data_bytes(1000, 512, 2) == 1000 * (1024 + 12), "data bytes");
}

int main(void)
{
    RUN(test_key_order);
    RUN(test_pick_bin);
    RUN(test_select_scheme);
    RUN(test_ivf_layout);
    RUN(test_ivf_group);
    RUN(test_slotmap);
    RUN(test_plans);
    TEST_EXIT();
}
