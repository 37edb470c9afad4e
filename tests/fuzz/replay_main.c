/* A tiny main for fuzz targets built without libFuzzer: replays every file
 * named on the command line (directories are read one level deep) through
 * LLVMFuzzerTestOneInput, and prints one TAP line per argument. Under the
 * sanitizer build a memory error aborts the program, which the test runner
 * counts as a failure. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    /* An exactly sized copy, so that ASan sees a read one byte past the end. */
    unsigned char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        long count = 0, fail = 0;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            char **names = NULL;
            size_t nn = 0;
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                names = realloc(names, (nn + 1) * sizeof *names);
                names[nn++] = strdup(e->d_name);
            }
            if (d) closedir(d);
            qsort(names, nn, sizeof *names, cmp);
            for (size_t k = 0; k < nn; k++) {
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[i], names[k]);
                if (replay_file(p)) fail++;
                else count++;
                free(names[k]);
            }
            free(names);
        } else if (replay_file(argv[i])) {
            fail++;
        } else {
            count++;
        }
        if (count == 0 || fail) bad++;
        printf("%s - %s replays %ld inputs of %s\n", count && !fail ? "ok" : "not ok", name, count, argv[i]);
        fflush(stdout);
    }
    return bad ? 1 : 0;
}
