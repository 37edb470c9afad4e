/* Fuzz target: the filter language (common/filter.c). Any text either
 * parses or is refused with ODX_EFILTER/ODX_ENOMEM; a filter that parses
 * prints to text that parses again and prints identically (round trip). */
#include <string.h>

#include "common/alloc.h"
#include "common/filter.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 70000) return 0;
    char *expr = malloc(size + 1);
    memcpy(expr, data, size);
    expr[size] = '\0';
    odx_filter *f = NULL;
    int rc = odx_filter_parse(expr, &f);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EFILTER || rc == ODX_ENOMEM, "parse returned %d (%s)", rc, odx_strerror(rc));
        FUZZ_ASSERT(odx_last_error()[0] != '\0', "refusal without a message");
        free(expr);
        return 0;
    }
    /* Chains of one operator add no nesting: the tree may be deeper than
     * 64, up to the node cap, but the language's nesting may not. */
    FUZZ_ASSERT(odx_filter_nesting(f) <= ODX_FILTER_MAX_DEPTH, "nesting %d", odx_filter_nesting(f));
    FUZZ_ASSERT(odx_filter_depth(f) <= ODX_FILTER_MAX_NODES, "depth %d", odx_filter_depth(f));
    char *s1 = NULL, *s2 = NULL;
    rc = odx_filter_to_string(f, &s1);
    FUZZ_ASSERT(rc == 0, "print failed: %s", odx_last_error());
    odx_filter *g = NULL;
    rc = odx_filter_parse(s1, &g);
    FUZZ_ASSERT(rc == 0, "printed filter does not parse again: [%s] -> %s (input [%s])", s1, odx_last_error(), expr);
    rc = odx_filter_to_string(g, &s2);
    FUZZ_ASSERT(rc == 0, "second print failed");
    FUZZ_ASSERT(strcmp(s1, s2) == 0, "round trip differs: [%s] vs [%s]", s1, s2);
    odx_free(s1);
    odx_free(s2);
    odx_filter_free(f);
    odx_filter_free(g);
    free(expr);
    return 0;
}
