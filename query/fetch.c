/* Media payloads by URL under an SSRF policy (see fetch.h). libcurl is
 * needed here, so this file is built into libomnidex.a only, with the
 * encoders it fetches for; the policy itself (fetch_policy.c) is core. */
#include "query/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"

/* ---- address classes ---------------------------------------------------- */

static const char *v4_class(uint32_t a)
{
    static const struct { uint32_t net; int bits; const char *what; } blocked[] = {
        {0x00000000u, 8, "this-network"},     {0x0a000000u, 8, "private"},
        {0x64400000u, 10, "carrier-grade NAT"}, {0x7f000000u, 8, "loopback"},
        {0xa9fe0000u, 16, "link-local"},      {0xac100000u, 12, "private"},
        {0xc0000000u, 24, "IETF protocol assignment"}, {0xc0000200u, 24, "documentation"},
        {0xc0a80000u, 16, "private"},         {0xc6120000u, 15, "benchmarking"},
        {0xc6336400u, 24, "documentation"},   {0xcb007100u, 24, "documentation"},
        {0xe0000000u, 4, "multicast"},        {0xf0000000u, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        uint32_t mask = blocked[i].bits ? ~0u << (32 - blocked[i].bits) : 0;
        if ((a & mask) == blocked[i].net) return blocked[i].what;
    }
    return NULL;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static const char *v6_class(const unsigned char *b)
{
    static const unsigned char zero[16];
    if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) return b[15] ? "loopback" : "unspecified";
    /* IPv4 carried inside IPv6: mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d,
     * 6to4 2002:AABB:CCDD:: (the IPv4 address is reachable through them). */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12)) {
        const char *c = v4_class(be32(b + 12));
        return c ? c : NULL;
    }
    if (b[0] == 0x20 && b[1] == 0x02) return v4_class(be32(b + 2));
    if (!memcmp(b, zero, 12)) return "IPv4-compatible (deprecated)";
    if ((b[0] & 0xfe) == 0xfc) return "unique local (private)";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
    if (b[0] == 0xff) return "multicast";
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation";
    if (b[0] == 0x01 && !memcmp(b + 1, zero, 7)) return "discard-only";
    return NULL;
}

const char *odx_fetch_addr_class(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_class(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) return v6_class(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return "non-IP";
}

/* ---- file:// -------------------------------------------------------------- */

static int under_root(const odx_fetch_policy *p, const char *real)
{
    for (int i = 0; i < p->nroots; i++) {
        size_t n = strlen(p->roots[i]);
        if (!strncmp(real, p->roots[i], n) && (real[n] == '/' || (n == 1 && p->roots[i][0] == '/')))
            return 1;
    }
    return 0;
}

static int fetch_file(const odx_fetch_policy *p, CURLU *u, void **data, size_t *len)
{
    char *host = NULL, *path = NULL;
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    int rc = 0;
    if (host && *host && strcmp(host, "localhost") != 0)
        rc = odx_error(ODX_EINVAL, "file:// URI names host '%.100s'; only local files can be read", host);
    else if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK || !path || !*path)
        rc = odx_error(ODX_EINVAL, "file:// URI without a path");
    else if (memchr(path, 0, strlen(path) + 1) != path + strlen(path))
        rc = odx_error(ODX_EINVAL, "file:// path holds a NUL byte");
    if (!rc && p->nroots == 0)
        rc = odx_error(ODX_EINVAL, "file:// URIs are disabled: the operator allows none (serve --file-root DIR)");
    char real[PATH_MAX];
    if (!rc && !realpath(path, real))
        rc = errno == ENOENT ? odx_error(ODX_ENOTFOUND, "file:// %.200s: no such file", path)
                             : odx_error(ODX_EINVAL, "file:// %.200s: %s", path, strerror(errno));
    if (!rc && !under_root(p, real))
        rc = odx_error(ODX_EINVAL, "file:// %.200s resolves outside the allowed file roots", path);
    if (!rc) {
        int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) rc = odx_error(ODX_EIO, "file:// %.200s: %s", path, strerror(errno));
        else {
            char *buf;
            if ((rc = odx_read_fd(fd, path, p->max_bytes, &buf, len)) == 0) *data = buf;
            close(fd);
        }
    }
    curl_free(host);
    curl_free(path);
    return rc;
}

/* ---- http(s):// ------------------------------------------------------------- */

typedef struct body {
    unsigned char *buf;
    size_t len, cap, max;
    int over;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > b->max) { b->over = 1; return 0; }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) cap *= 2;
        if (cap > b->max) cap = b->max;
        unsigned char *nb = odx_realloc(b->buf, cap);
        if (!nb) return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, ptr, n);
    b->len += n;
    return n;
}

typedef struct pin {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int refused;
} pin;

static int same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family) return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
    return 0;
}

/* Connect only to the address that was checked. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    pin *pn = ud;
    if (purpose != CURLSOCKTYPE_IPCXN || !same_addr(&a->addr, (const struct sockaddr *)&pn->addr)) {
        pn->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Resolves host and checks every address; the first allowed one is pinned. */
static int resolve_checked(const odx_fetch_policy *p, const char *host, pin *pn, char *addrtxt, size_t cap)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int g = getaddrinfo(host, NULL, &hints, &res);
    if (g != 0) return odx_error(ODX_EUNAVAILABLE, "cannot resolve host '%.200s': %s", host, gai_strerror(g));
    int rc = 0, have = 0;
    for (struct addrinfo *ai = res; ai && !rc; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        const char *cls = odx_fetch_addr_class(ai->ai_addr);
        char txt[INET6_ADDRSTRLEN] = "?";
        const void *raw = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                   : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, raw, txt, sizeof txt);
        if (cls && !p->allow_private) {
            rc = odx_error(ODX_EINVAL, "refused to fetch from '%.200s': it resolves to %s, a %s address "
                           "(allow with serve --fetch-allow-private)", host, txt, cls);
        } else if (!have) {
            memcpy(&pn->addr, ai->ai_addr, ai->ai_addrlen);
            pn->addrlen = ai->ai_addrlen;
            snprintf(addrtxt, cap, ai->ai_family == AF_INET6 ? "[%s]" : "%s", txt);
            have = 1;
        }
    }
    freeaddrinfo(res);
    if (!rc && !have) rc = odx_error(ODX_EUNAVAILABLE, "host '%.200s' has no IP address", host);
    return rc;
}

static long remaining_ms(const struct timespec *t0, long budget)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long used = (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
    return budget - used;
}

/* One hop: GET url. *next receives a redirect target (curl_free) or NULL. */
static int fetch_hop(const odx_fetch_policy *p, CURLU *u, const char *url, long budget_ms, body *b, char **next)
{
    char *host = NULL, *port = NULL, *scheme = NULL;
    int rc = 0;
    *next = NULL;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)
        rc = odx_error(ODX_EINVAL, "URI '%.200s' has no host", url);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    char bare[512];
    size_t hl = host ? strlen(host) : 0;
    if (!rc && (hl == 0 || hl >= sizeof bare)) rc = odx_error(ODX_EINVAL, "URI host too long");
    if (!rc) {
        /* curl keeps IPv6 literals in brackets; the resolver wants them bare. */
        if (host[0] == '[' && host[hl - 1] == ']') { memcpy(bare, host + 1, hl - 2); bare[hl - 2] = 0; }
        else memcpy(bare, host, hl + 1);
    }
    pin pn = {0};
    char addr[INET6_ADDRSTRLEN + 2];
    if (!rc) rc = resolve_checked(p, bare, &pn, addr, sizeof addr);
    CURL *c = NULL;
    struct curl_slist *resolve = NULL;
    if (!rc && !(c = curl_easy_init())) rc = odx_error(ODX_ENOMEM, "curl_easy_init failed");
    if (!rc) {
        char entry[1024];
        snprintf(entry, sizeof entry, "%s:%s:%s", host, port ? port : "80", addr);
        if (!(resolve = curl_slist_append(NULL, entry))) rc = odx_error(ODX_ENOMEM, "out of memory");
    }
    if (!rc) {
        char err[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &pn);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, budget_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, budget_ms < 10000 ? budget_ms : 10000L);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_bytes);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "omnidex-fetch/1");
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (b->over || cc == CURLE_FILESIZE_EXCEEDED)
            rc = odx_error(ODX_ELIMIT, "%.200s: body over the fetch limit of %zu bytes", url, p->max_bytes);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            rc = odx_error(ODX_ELIMIT, "%.200s: no complete answer within %ld ms", url, p->timeout_ms);
        else if (pn.refused)
            rc = odx_error(ODX_EINVAL, "%.200s: connection to an address other than the checked one refused", url);
        else if (cc != CURLE_OK)
            rc = odx_error(ODX_EUNAVAILABLE, "%.200s: %s", url, err[0] ? err : curl_easy_strerror(cc));
        else if (status >= 300 && status < 400) {
            char *loc = NULL;
            curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
            if (!loc) rc = odx_error(ODX_EUNAVAILABLE, "%.200s: HTTP %ld without a Location", url, status);
            else if (!(*next = odx_strdup(loc))) rc = odx_error(ODX_ENOMEM, "out of memory");
        } else if (status == 404 || status == 410)
            rc = odx_error(ODX_ENOTFOUND, "%.200s: HTTP %ld", url, status);
        else if (status >= 500 || status == 408 || status == 429 || status < 200)
            rc = odx_error(ODX_EUNAVAILABLE, "%.200s: HTTP %ld", url, status); /* the remote's trouble: retry later */
        else if (status >= 300)
            rc = odx_error(ODX_EINVAL, "%.200s: HTTP %ld", url, status); /* refused: asking again will not help */
    }
    curl_slist_free_all(resolve);
    if (c) curl_easy_cleanup(c);
    curl_free(host);
    curl_free(port);
    curl_free(scheme);
    return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int odx_fetch(const odx_fetch_policy *p, const char *uri, void **data, size_t *len)
{
    if (!uri || !*uri) return odx_error(ODX_EINVAL, "empty URI");
    if (strlen(uri) > 8192) return odx_error(ODX_ELIMIT, "URI over 8192 bytes");
    pthread_once(&curl_once, curl_init);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *url = odx_strdup(uri);
    if (!url) return odx_error(ODX_ENOMEM, "out of memory");
    body b = {.max = p->max_bytes};
    int rc = 0;
    for (int hop = 0;; hop++) {
        CURLU *u = curl_url();
        char *scheme = NULL;
        if (!u) { rc = odx_error(ODX_ENOMEM, "out of memory"); break; }
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
            rc = odx_error(ODX_EINVAL, "'%.200s' is not a valid URI", url);
        } else if (!strcmp(scheme, "file")) {
            rc = hop ? odx_error(ODX_EINVAL, "redirect to a file:// URI refused")
                     : fetch_file(p, u, data, len);
            curl_free(scheme);
            curl_url_cleanup(u);
            odx_free(url);
            return rc;
        } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
            rc = odx_error(ODX_EINVAL, "URI scheme '%.20s' is not supported (http, https, file)", scheme);
        } else if (!strncmp(url + strlen(scheme), "://", 3) &&
                   (url[strlen(scheme) + 3] == '/' || url[strlen(scheme) + 3] == '\0')) {
            /* curl reads http:///x.png as host x.png; an empty host is a malformed URL */
            rc = odx_error(ODX_EINVAL, "'%.200s' is not a valid URI: it has no host", url);
        }
        char *next = NULL;
        long left = remaining_ms(&t0, p->timeout_ms);
        if (!rc && left <= 0) rc = odx_error(ODX_ELIMIT, "%.200s: no complete answer within %ld ms", uri, p->timeout_ms);
        if (!rc) {
            b.len = 0;
            rc = fetch_hop(p, u, url, left, &b, &next);
        }
        curl_free(scheme);
        curl_url_cleanup(u);
        if (rc || !next) break;
        odx_free(url);
        url = next;
        if (hop + 1 > p->max_redirects) {
            rc = odx_error(ODX_EINVAL, "%.200s: more than %d redirects", uri, p->max_redirects);
            break;
        }
    }
    odx_free(url);
    if (rc) { odx_free(b.buf); return rc; }
    *data = b.buf ? (void *)b.buf : odx_malloc(1);
    *len = b.len;
    if (!*data) return odx_error(ODX_ENOMEM, "out of memory");
    return 0;
}
