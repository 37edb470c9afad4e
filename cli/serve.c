/* `omnidex serve`: option parsing, signal handling and the lifetime of one
 * server over one data directory.
 *
 *   omnidex serve [--data DIR] [--listen 127.0.0.1:7600] [--workers N]
 *                 [--token-file F] [--tls-cert F --tls-key F [--tls-client-ca F]]
 *                 [--max-message-mb N]
 *
 * Prints "omnidex: listening on HOST:PORT" on stdout once the port is bound
 * (the real port when --listen asks for port 0), serves until SIGTERM or
 * SIGINT, then shuts down gracefully and exits 0. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "omnidex_util.h"
#include "omnidex_rpc.h"

#define MAX_FILE_BYTES (1 << 20)

static const char usage[] =
    "usage: omnidex serve [--data DIR] [--listen HOST:PORT] [--workers N]\n"
    "                     [--token-file F] [--tls-cert F --tls-key F [--tls-client-ca F]]\n"
    "                     [--max-message-mb N] [--gpu]\n"
    "                     [--fetch-allow-private] [--file-root DIR]... [--fetch-max-mb N]\n"
    "                     [--fetch-timeout-s N]\n"
    "  --data DIR          data directory (default ./omnidex-data; created if missing)\n"
    "  --listen HOST:PORT  address to serve on (default 127.0.0.1:7600; port 0 picks one; a HOST\n"
    "                      alone means port 7600; IPv6 in brackets: [::1]:7600); an address\n"
    "                      another process listens on is refused\n"
    "  --workers N         worker threads (default 4)\n"
    "  --token-file F      require 'authorization: Bearer <token>' (first line of F) on every\n"
    "                      method except grpc.health.v1.Health\n"
    "  --tls-cert F        PEM certificate chain; serve TLS (needs --tls-key)\n"
    "  --tls-key F         PEM private key\n"
    "  --tls-client-ca F   PEM CA: require client certificates it signed (mutual TLS)\n"
    "  --max-message-mb N  largest request or reply in MiB (default 64, 1..1024)\n"
    "  --gpu               search collections that opted in (collection create --gpu) on a GPU;\n"
    "                      needs a make GPU=1 build; without a usable device the CPU answers\n"
    "media by URL (Media.uri in requests):\n"
    "  http(s) URLs are fetched only from public addresses: loopback, private, link-local\n"
    "  (cloud metadata), CGNAT, multicast and reserved targets are refused, checked on every\n"
    "  resolved address and pinned for the connection; redirects are checked the same way\n"
    "  --fetch-allow-private  also fetch from those addresses (trusted networks only)\n"
    "  --file-root DIR        allow file:// URIs under DIR (repeatable; default: none)\n"
    "  --fetch-max-mb N       largest media body fetched (default 256)\n"
    "  --fetch-timeout-s N    time limit of one fetch (default 30)\n";

/* Reads a whole small file (a token, a PEM) into a NUL-terminated string. */
static int read_file(const char *path, char **out)
{
    size_t len;
    return odx_read_file(path, MAX_FILE_BYTES, out, &len);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return odx_error(ODX_EINVAL, "%s wants an integer %ld..%ld, not '%s'", opt, lo, hi, s);
    *out = v;
    return 0;
}

/* Applies the media-by-URL policy options to the opened database. */
static int odx_cli_fetch_options(odx_db *db, int allow_private, const char *const *roots, int nroots,
                                 long max_mb, long timeout_s)
{
    char num[32];
    int rc = 0;
    if (allow_private) rc = odx_db_set_option(db, "fetch.allow_private", "1");
    for (int i = 0; i < nroots && !rc; i++) rc = odx_db_set_option(db, "fetch.file_root", roots[i]);
    if (!rc && max_mb) {
        snprintf(num, sizeof num, "%lld", (long long)max_mb << 20);
        rc = odx_db_set_option(db, "fetch.max_bytes", num);
    }
    if (!rc && timeout_s) {
        snprintf(num, sizeof num, "%ld", timeout_s * 1000);
        rc = odx_db_set_option(db, "fetch.timeout_ms", num);
    }
    return rc;
}

static int serve_main(int argc, char **argv)
{
    const char *data = "./omnidex-data", *token_file = NULL, *cert = NULL, *key = NULL, *ca = NULL;
    odx_rpc_options o;
    odx_rpc_options_init(&o);
    unsigned open_flags = 0;
    const char *roots[16];
    int nroots = 0, allow_private = 0;
    long fetch_mb = 0, fetch_s = 0;
    int i = (argc > 0 && strcmp(argv[0], "serve") == 0) ? 1 : 0;
    int rc = 0;
    for (; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "omnidex serve: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
        if (strcmp(a, "--gpu") == 0) { /* options without a value */
            open_flags |= ODX_OPEN_GPU;
            continue;
        }
        if (strcmp(a, "--fetch-allow-private") == 0) {
            allow_private = 1;
            continue;
        }
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
            if (i + 1 >= argc) {
                fprintf(stderr, "omnidex serve: %s needs a value\n", a);
                return 2;
            }
            val = argv[++i];
        }
        long v;
        if (strcmp(name, "--data") == 0) data = val;
        else if (strcmp(name, "--listen") == 0) {
            char host[256];
            int port;
            if ((rc = odx_rpc_listen_parse(val, host, sizeof host, &port)) != 0) goto bad;
            o.listen = val;
        }
        else if (strcmp(name, "--token-file") == 0) token_file = val;
        else if (strcmp(name, "--tls-cert") == 0) cert = val;
        else if (strcmp(name, "--tls-key") == 0) key = val;
        else if (strcmp(name, "--tls-client-ca") == 0) ca = val;
        else if (strcmp(name, "--workers") == 0) {
            if ((rc = parse_int(name, val, 1, 256, &v)) != 0) goto bad;
            o.workers = (int)v;
        } else if (strcmp(name, "--file-root") == 0) {
            if (nroots >= (int)(sizeof roots / sizeof roots[0])) {
                fprintf(stderr, "omnidex serve: at most %d --file-root options\n", (int)(sizeof roots / sizeof roots[0]));
                return 2;
            }
            roots[nroots++] = val;
        } else if (strcmp(name, "--fetch-max-mb") == 0) {
            if ((rc = parse_int(name, val, 1, 65536, &v)) != 0) goto bad;
            fetch_mb = v;
        } else if (strcmp(name, "--fetch-timeout-s") == 0) {
            if ((rc = parse_int(name, val, 1, 3600, &v)) != 0) goto bad;
            fetch_s = v;
        } else if (strcmp(name, "--max-message-mb") == 0) {
            if ((rc = parse_int(name, val, 1, 1024, &v)) != 0) goto bad;
            o.max_message_bytes = (size_t)v << 20;
        } else {
            fprintf(stderr, "omnidex serve: unknown option '%s'\n%s", name, usage);
            return 2;
        }
    }
    if (!cert != !key) {
        fprintf(stderr, "omnidex serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (ca && !cert) {
        fprintf(stderr, "omnidex serve: --tls-client-ca needs --tls-cert and --tls-key\n");
        return 2;
    }

    char *token = NULL, *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL;
    odx_db *db = NULL;
    odx_rpc_server *srv = NULL;
    int exit_code = 1;
    if (token_file) {
        if ((rc = read_file(token_file, &token)) != 0) goto out;
        size_t n = strcspn(token, "\r\n");
        token[n] = '\0';
        while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t')) token[--n] = '\0';
        if (n == 0) {
            rc = odx_error(ODX_EINVAL, "token file '%s' is empty", token_file);
            goto out;
        }
        o.token = token;
    }
    if (cert && ((rc = read_file(cert, &cert_pem)) != 0 || (rc = read_file(key, &key_pem)) != 0)) goto out;
    if (ca && (rc = read_file(ca, &ca_pem)) != 0) goto out;
    o.tls_cert_pem = cert_pem;
    o.tls_key_pem = key_pem;
    o.tls_client_ca_pem = ca_pem;

    /* Block the stop signals before any thread exists (the engine starts
     * background threads in odx_db_open, gRPC in server start): every
     * thread inherits the mask, so only sigwait below receives them, and a
     * second SIGTERM during the drain stays pending instead of killing. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = odx_db_open(data, ODX_OPEN_CREATE | open_flags, &db)) != 0) {
        odx_error_wrap(rc, "opening '%s'", data);
        goto out;
    }
    if ((rc = odx_cli_fetch_options(db, allow_private, roots, nroots, fetch_mb, fetch_s)) != 0) goto out;
    if ((rc = odx_rpc_server_start(db, &o, &srv)) != 0) goto out;

    char host[256];
    int port;
    odx_rpc_listen_parse(o.listen, host, sizeof host, &port); /* checked above */
    printf("omnidex: listening on %s:%d\n", host, odx_rpc_server_port(srv));
    fflush(stdout);
    odx_log(ODX_LOG_INFO, "serving %s on %s:%d with %d workers%s%s", data, host,
            odx_rpc_server_port(srv), o.workers, token ? ", token required" : "",
            cert_pem ? (ca_pem ? ", mutual TLS" : ", TLS") : "");
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    odx_log(ODX_LOG_INFO, "signal %d: shutting down (draining calls in flight)", sig);
    odx_rpc_server_stop(srv);
    srv = NULL;
    exit_code = 0;
out:
    if (rc) fprintf(stderr, "omnidex serve: %s\n", odx_last_error()[0] ? odx_last_error() : odx_strerror(rc));
    odx_rpc_server_stop(srv);
    odx_db_close(db);
    if (token) memset(token, 0, strlen(token));
    odx_free(token);
    odx_free(cert_pem);
    if (key_pem) memset(key_pem, 0, strlen(key_pem));
    odx_free(key_pem);
    odx_free(ca_pem);
    if (exit_code == 0) odx_log(ODX_LOG_INFO, "stopped cleanly");
    return exit_code;
bad:
    fprintf(stderr, "omnidex serve: %s\n", odx_last_error());
    return 2;
}

/* omnidex serve: the global --data is passed on unless serve has its own. */
int cmd_serve(const struct cli *g, int argc, char **argv)
{
    char *sv[256];
    int sc = 0;
    sv[sc++] = argv[0];
    int has_data = 0;
    for (int k = 1; k < argc; k++) if (!strcmp(argv[k], "--data") || !strncmp(argv[k], "--data=", 7)) has_data = 1;
    if (!has_data) { sv[sc++] = "--data"; sv[sc++] = (char *)g->data; }
    for (int k = 1; k < argc && sc < 255; k++) sv[sc++] = argv[k];
    sv[sc] = NULL;
    return serve_main(sc, sv);
}
