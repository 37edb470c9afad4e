/* omnidex: the command-line program. Every command runs on a local data
 * directory through the embedded C API (omnidex.h). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "omnidex_util.h"

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
