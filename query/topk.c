/* Top-k selection for exact search (see topk.h). */
#include "query/topk.h"

static int worse(const odx_topk *t, float a, float b) { return t->lower_better ? a > b : a < b; }

void odx_topk_init(odx_topk *t, float *s, uint64_t *id, size_t k, int lower_better)
{
    t->s = s;
    t->id = id;
    t->n = 0;
    t->k = k;
    t->lower_better = lower_better;
}

/* Places (s, id) at slot i and moves it down until both children are better. */
static void sift_down(odx_topk *t, size_t i, float s, uint64_t id)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float ms = s;
        if (l < t->n && worse(t, t->s[l], ms)) { m = l; ms = t->s[l]; }
        if (r < t->n && worse(t, t->s[r], ms)) m = r;
        if (m == i) break;
        t->s[i] = t->s[m];
        t->id[i] = t->id[m];
        i = m;
    }
    t->s[i] = s;
    t->id[i] = id;
}

void odx_topk_push(odx_topk *t, float s, uint64_t id)
{
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(t, s, t->s[p])) break;
            t->s[i] = t->s[p];
            t->id[i] = t->id[p];
            i = p;
        }
        t->s[i] = s;
        t->id[i] = id;
        return;
    }
    if (t->k && worse(t, t->s[0], s)) sift_down(t, 0, s, id);
}

size_t odx_topk_drain(odx_topk *t, float *s, uint64_t *id)
{
    size_t n = t->n;
    for (size_t j = n; j-- > 0;) {
        s[j] = t->s[0];
        id[j] = t->id[0];
        t->n--;
        if (t->n) sift_down(t, 0, t->s[t->n], t->id[t->n]);
    }
    return n;
}
