/* Shared by every fuzz target: the libFuzzer entry points, and the rule
 * each target follows. A target takes any bytes and must either accept
 * them or refuse them with a status; it aborts (FUZZ_ASSERT) only when an
 * invariant that holds for every accepted input is broken, so that the
 * fuzzer reports it. The same sources build two ways: with clang and
 * -fsanitize=fuzzer (make fuzz), or with replay_main.c as a plain program
 * that replays saved corpora (make test). */
#ifndef ODX_FUZZ_H
#define ODX_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond, ...)                                                  \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__,   \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* The source tree (for fixtures): $OMNIDEX_TOP, else the build's cwd. */
static inline const char *fuzz_top(void)
{
    const char *t = getenv("OMNIDEX_TOP");
    return t && *t ? t : ODX_FUZZ_TOP;
}

#endif
