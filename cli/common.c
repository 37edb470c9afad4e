/* The CLI's shared helpers: error and usage lines, number parsing, and
 * opening the database a command works on (a local data directory, or a
 * server with --server). Commands and main() use these; nothing here calls
 * back into a command, so cli/ has no cycle through main.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "omnidex_rpc.h"
#include "omnidex_util.h"

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    progress_interrupt(); /* never on the progress bar's line */
    fprintf(stderr, "omnidex: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

int cli_fail_rc(int rc, const char *what)
{
    const char *m = odx_last_error();
    size_t n = strlen(what);
    if (m && !strncmp(m, what, n) && m[n] == ':') return cli_fail("%s", m); /* the engine said it already */
    if (m && *m) return cli_fail("%s: %s", what, m);
    return cli_fail("%s: %s", what, odx_strerror(rc));
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "omnidex %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'omnidex %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Client mode: a database handle backed by the server (omnidex_rpc.h). */
static int open_remote(const struct cli *g, odx_db **db)
{
    odx_rpc_client_options o;
    odx_rpc_client_options_init(&o);
    char *token = NULL;
    size_t len;
    int rc;
    if (g->token_file) {
        /* The token is the file's first line, as `omnidex serve --token-file` reads it. */
        if ((rc = odx_read_file(g->token_file, 64 << 10, &token, &len))) return cli_fail_rc(rc, "--token-file");
        token[strcspn(token, "\r\n")] = 0;
        o.token = token;
    }
    rc = odx_rpc_db_open(g->server, &o, db);
    odx_free(token); /* the client copied it into its call metadata */
    if (rc) return cli_fail_rc(rc, g->server);
    return 0;
}

int cli_open(const struct cli *g, int write, odx_db **db)
{
    if (g->server) return open_remote(g, db);
    int rc = odx_db_open(g->data, write ? ODX_OPEN_CREATE : ODX_OPEN_READONLY, db);
    if (rc == ODX_ENOTFOUND && !write) {
        /* Reading a directory that was never created: say so plainly. */
        return cli_fail("%s", odx_last_error());
    }
    if (rc) return cli_fail_rc(rc, "opening data directory");
    /* Media by URL in the embedded CLI: the same policy as the server's,
     * configured from the environment (see omnidex --help). */
    const char *ap = getenv("OMNIDEX_FETCH_ALLOW_PRIVATE"), *roots = getenv("OMNIDEX_FILE_ROOTS");
    if (ap && *ap && (rc = odx_db_set_option(*db, "fetch.allow_private", ap))) goto bad_opt;
    for (const char *r = roots; r && *r;) {
        const char *e = strchr(r, ':');
        size_t n = e ? (size_t)(e - r) : strlen(r);
        char dir[4096];
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, r, n);
            dir[n] = 0;
            if ((rc = odx_db_set_option(*db, "fetch.file_root", dir))) goto bad_opt;
        }
        r = e ? e + 1 : r + n;
    }
    return 0;
bad_opt:
    odx_db_close(*db);
    *db = NULL;
    return cli_fail_rc(rc, "media-by-URL settings from the environment");
}

