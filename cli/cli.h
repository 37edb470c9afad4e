/* The omnidex command-line program: thin commands over the public API. */
#ifndef ODX_CLI_H
#define ODX_CLI_H
#include <stdio.h>

#include "omnidex.h"

struct cli {
    const char *data;   /* --data */
    const char *server; /* --server (client mode) */
    const char *token_file; /* --token-file (client mode) */
    int quiet;
};

/* Prints "omnidex: error: ..." and returns the exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, with odx_last_error() / odx_strerror(rc) appended. */
int cli_fail_rc(int rc, const char *what);
/* Usage error: prints the message and a hint, returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_open(const struct cli *g, int write, odx_db **db);
int cli_parse_int(const char *s, long lo, long hi, long *out);

int cmd_collection(const struct cli *g, int argc, char **argv);
int cmd_put(const struct cli *g, int argc, char **argv);
int cmd_search(const struct cli *g, int argc, char **argv);
int cmd_get(const struct cli *g, int argc, char **argv);
int cmd_delete(const struct cli *g, int argc, char **argv);
int cmd_ingest(const struct cli *g, int argc, char **argv);
int cmd_embed(const struct cli *g, int argc, char **argv);
int cmd_models(const struct cli *g, int argc, char **argv);
int cmd_demo(const struct cli *g, int argc, char **argv);
int cmd_serve(const struct cli *g, int argc, char **argv);
/* Reads a whole file (capped at 256 MiB); prints the error itself. */
int cli_read_file(const char *path, void **data, size_t *len);
/* The modality to embed a file's bytes as (odx_media_sniff): the sniffed
 * one, or want ("image", "audio", "video", "mesh"; NULL = any) when the
 * format allows it. Prints an error naming the format found otherwise. */
int cli_media_modality(const char *path, const void *data, size_t len, const char *want, odx_modality *m);
/* Sets metadata key to a JSON string, number (integral: int) or bool, as
 * put --jsonl types them; ODX_EINVAL for other JSON types. */
struct cJSON;
int cli_meta_set_json(odx_meta *m, const char *key, const struct cJSON *v);

/* A progress bar on stderr when it is a terminal. */
struct progress {
    const char *what;
    unsigned long long total, done;
    double start, last;
    int tty;
};
void progress_start(struct progress *p, const char *what, unsigned long long total);
void progress_update(struct progress *p, unsigned long long done);
void progress_end(struct progress *p);
/* Before any other output on stderr or stdout: ends the bar's line, so a
 * message never shares it (the next update draws the bar again). */
void progress_interrupt(void);

#endif
