/* omnidex: the command-line program. Every command runs on a local data
 * directory through the embedded C API (omnidex.h). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "omnidex_rpc.h"
#include "common/log.h"
#include "common/util.h"

static const char *usage_text =
    "usage: omnidex [--data DIR | --server HOST:PORT [--token-file F]] [--quiet] COMMAND [ARGS]\n"
    "\n"
    "A multimodal retrieval database: vectors and records in LMDB, FAISS indexes.\n"
    "\n"
    "Commands:\n"
    "  collection create NAME (--dim D | --space SPACE) [--metric cosine|ip|l2] [--index SPEC|auto]\n"
    "  collection list [--json]\n"
    "  collection info NAME [--json]\n"
    "  collection drop NAME\n"
    "  collection compact NAME        rebuild the index from LMDB, dropping deleted vectors\n"
    "  collection checkpoint NAME     write the index checkpoint now\n"
    "  put NAME (--fvecs FILE | --jsonl FILE) [--ids-start N] [--batch N]\n"
    "  search NAME (--vector \"f,f,..\" | --fvecs QUERIES | --text STR | --item ID |\n"
    "              --image|--audio|--video|--mesh FILE|URL)   (parts combine, --weight W each)\n"
    "         [--k 10] [--filter EXPR]\n"
    "         [--param efSearch=64] [--modality M] [--exact] [--meta] [--json]\n"
    "  get NAME ID [--json]\n"
    "  delete NAME ID...\n"
    "  ingest NAME FILE|DIR|URL...    embed files with the collection's space and store them\n"
    "  embed (--model DIR | --space NAME) (--text STR | --file FILE) [--json]\n"
    "  models list|info NAME|verify NAME|pull REPO   embedding spaces (pull: from a model hub)\n"
    "  demo [--corpus DIR] [--json] [--html FILE]   cross-modal P@10 on the demo corpus (make demo)\n"
    "  serve [--listen 127.0.0.1:7600] ...   the gRPC server (omnidex serve --help)\n"
    "  version\n"
    "  help [COMMAND]                 this text, or a command's options\n"
    "\n"
    "Options:\n"
    "  --data DIR   data directory (default $OMNIDEX_DATA or ./omnidex-data)\n"
    "  --quiet      only errors on stderr\n"
    "  --server HOST:PORT   client mode: the same commands against an 'omnidex serve'\n"
    "  --token-file F       bearer token for --server\n"
    "\n"
    "Environment:\n"
    "  OMNIDEX_DATA\n"
    "  OMNIDEX_MODELS=DIR[:DIR]        where spaces are looked up (default ~/.omnidex/models, then\n"
    "                                  the spaces shipped with omnidex: 'omnidex models --help')\n"
    "  OMNIDEX_FETCH_ALLOW_PRIVATE=1   media URLs may name loopback/private hosts (embedded mode)\n"
    "  OMNIDEX_FILE_ROOTS=DIR[:DIR]    directories file:// URLs may read (embedded mode)\n"
    "\n"
    "Filters: label = \"sneaker\" AND price < 100 AND NOT (tag IN (\"a\",\"b\"))\n"
    "Run 'omnidex help COMMAND' or 'omnidex COMMAND --help' for a command's options.\n";

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
    char token[4096];
    if (g->token_file) {
        FILE *f = fopen(g->token_file, "r");
        if (!f) return cli_fail("cannot read --token-file %s", g->token_file);
        size_t n = fread(token, 1, sizeof token - 1, f);
        fclose(f);
        token[n] = 0;
        while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ')) token[--n] = 0;
        o.token = token;
    }
    int rc = odx_rpc_db_open(g->server, &o, db);
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

static int cmd_version(const struct cli *g, int argc, char **argv)
{
    (void)g;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: omnidex version\nPrints omnidex's version.");
        return 0;
    }
    printf("omnidex %s\n", odx_version());
    return 0;
}

/* The command table: a new command is a row here and its handler. */
static const struct command {
    const char *name;
    int (*run)(const struct cli *g, int argc, char **argv);
} commands[] = {
    {"collection", cmd_collection}, {"put", cmd_put},       {"search", cmd_search},   {"get", cmd_get},
    {"delete", cmd_delete},         {"ingest", cmd_ingest}, {"embed", cmd_embed},     {"models", cmd_models},
    {"demo", cmd_demo},             {"serve", cmd_serve},   {"version", cmd_version},
};

int main(int argc, char **argv)
{
    struct cli g = {NULL, NULL, NULL, 0};
    g.data = getenv("OMNIDEX_DATA");
    if (!g.data || !*g.data) g.data = "./omnidex-data";
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) g.data = argv[++i];
        else if (!strncmp(argv[i], "--data=", 7)) g.data = argv[i] + 7;
        else if (!strcmp(argv[i], "--server") && i + 1 < argc) g.server = argv[++i];
        else if (!strcmp(argv[i], "--token-file") && i + 1 < argc) g.token_file = argv[++i];
        else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) g.quiet = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage_text, stdout); return 0; }
        else if (!strcmp(argv[i], "--version")) { printf("omnidex %s\n", odx_version()); return 0; }
        else if (argv[i][0] == '-' && strcmp(argv[i], "-")) {
            fprintf(stderr, "omnidex: unknown option '%s'\n\n%s", argv[i], usage_text);
            return 2;
        } else break;
    }
    if (g.quiet) odx_log_set_level(ODX_LOG_ERROR);
    if (i >= argc) { fputs(usage_text, stderr); return 2; }
    const char *cmd = argv[i];
    int cargc = argc - i;
    char **cargv = argv + i;
    if (!strcmp(cmd, "help")) {
        /* omnidex help [COMMAND]: the command's own --help. */
        if (cargc < 2) { fputs(usage_text, stdout); return 0; }
        static char help_flag[] = "--help";
        char *hv[3] = {cargv[1], help_flag, NULL};
        for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
            if (!strcmp(cargv[1], commands[k].name)) return commands[k].run(&g, 2, hv);
        fprintf(stderr, "omnidex: no command '%s'\n\n%s", cargv[1], usage_text);
        return 2;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(cmd, commands[k].name)) return commands[k].run(&g, cargc, cargv);
    fprintf(stderr, "omnidex: unknown command '%s'\n\n%s", cmd, usage_text);
    return 2;
}
