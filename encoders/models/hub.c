/* Model download over HTTP(S) (see hub.h). */
#include "encoders/models/hub.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/util.h"
#include "omnidex_embed.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void init_curl(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int odx_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return odx_error(ODX_EIO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { rc = odx_error(ODX_EINTERNAL, "sha256 init failed"); goto out; }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) { rc = odx_error(ODX_EIO, "%s: read error", path); goto out; }
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(ctx, md, &ml);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}

int odx_model_file_name_ok(const char *s)
{
    return odx_name_valid(s, strlen(s), 255, ODX_NAME_NO_LEADING_DOT);
}

/* Repo "owner/name" and revisions: [A-Za-z0-9._-] segments, no "..". */
static int valid_ref(const char *s, int slashes_allowed)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || strstr(s, "..") || s[0] == '/' || s[n - 1] == '/') return 0;
    int slashes = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/') { if (++slashes > slashes_allowed) return 0; continue; }
        if (!odx_name_char(c)) return 0;
    }
    return 1;
}

typedef struct dl {
    FILE *f;
    const char *name;
    uint64_t start, got, total;
    char etag[80], linked[80];
    long status;
    int too_big;
    odx_hub_progress progress;
    void *ud;
} dl;

static void header_value(const char *buf, size_t len, size_t skip, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = skip; i < len && j + 1 < cap; i++)
        if (buf[i] != '"' && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n' && buf[i] != '\t') out[j++] = buf[i];
    out[j] = 0;
}

/* Remembers X-Linked-Etag (the HF hub sends it on the redirect to its CDN,
 * so it is kept across redirects) and the final response's ETag. */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) d->etag[0] = 0;
    else if (len > 14 && strncasecmp(buf, "x-linked-etag:", 14) == 0) header_value(buf, len, 14, d->linked, sizeof d->linked);
    else if (len > 5 && strncasecmp(buf, "etag:", 5) == 0) header_value(buf, len, 5, d->etag, sizeof d->etag);
    return len;
}

static size_t on_data(char *buf, size_t size, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = size * n;
    if (d->got + d->start + len > ODX_HUB_MAX_FILE) { d->too_big = 1; return 0; }
    if (fwrite(buf, 1, len, d->f) != len) return 0;
    d->got += len;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult, curl_off_t uln)
{
    (void)ult; (void)uln; (void)dlnow;
    dl *d = ud;
    if (d->progress) d->progress(d->name, d->start + d->got, dltotal > 0 ? d->start + (uint64_t)dltotal : 0, d->ud);
    return 0;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* Fetches one file; *missing = 1 on 404 (nothing written). */
static int fetch(CURL *c, const char *url, const char *dest, const char *name, const odx_hub_opts *o, int *missing)
{
    char part[4200], final[4200];
    snprintf(final, sizeof final, "%s/%s", dest, name);
    snprintf(part, sizeof part, "%s/%s.part", dest, name);
    struct stat sb;
    uint64_t have = stat(part, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    dl d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.progress = o->progress;
    d.ud = o->progress_ud;
    d.f = fopen(part, have ? "ab" : "wb");
    if (!d.f) return odx_error(ODX_EIO, "%s: %s", part, strerror(errno));
    d.start = have;
    char range[64];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "omnidex/" OMNIDEX_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->timeout_s > 0 ? o->timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
    if (have) curl_easy_setopt(c, CURLOPT_RANGE, range);
    const char *tok = getenv("HF_TOKEN");
    struct curl_slist *hdr = NULL;
    char auth[512];
    if (tok && *tok && strlen(tok) < 400) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        hdr = curl_slist_append(NULL, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d.status);
    curl_slist_free_all(hdr);
    int rc = 0;
    /* A 200 to a Range request restarts the file: the data written was appended to old bytes. */
    if (cc == CURLE_OK && have && d.status == 200) {
        fclose(d.f);
        d.f = NULL;
        unlink(part);
        return fetch(c, url, dest, name, o, missing);
    }
    if (fclose(d.f) != 0 && !rc) rc = odx_error(ODX_EIO, "%s: %s", part, strerror(errno));
    if (d.too_big) return odx_error(ODX_ELIMIT, "%s: larger than %llu bytes", name, (unsigned long long)ODX_HUB_MAX_FILE);
    if (cc == CURLE_OK && d.status == 404) {
        if (!have) unlink(part);
        *missing = 1;
        return 0;
    }
    if (cc == CURLE_OK && have && d.status == 416) {
        /* Range not satisfiable: the .part may already be complete; the checksum below decides. */
    } else if (cc != CURLE_OK) {
        if (have + d.got == 0) unlink(part);
        return odx_error(ODX_EIO, "%s: %s (%lu bytes kept in %s.part; run again to resume)", url,
                         curl_easy_strerror(cc), (unsigned long)(have + d.got), name);
    } else if (d.status != 200 && d.status != 206) {
        unlink(part);
        return odx_error(d.status == 401 || d.status == 403 ? ODX_EPRECOND : ODX_EIO, "%s: HTTP %ld", url, d.status);
    }
    const char *sum = d.linked[0] ? d.linked : d.etag;
    if (is_hex64(sum)) {
        char hex[65];
        if ((rc = odx_sha256_file(part, hex))) return rc;
        if (strcmp(hex, sum) != 0) {
            unlink(part);
            return odx_error(ODX_ECORRUPT, "%s: sha256 %s does not match the hub's %s (partial file removed)", name, hex, sum);
        }
    } else if (d.status == 416) {
        unlink(part); /* cannot verify a file we could not re-request: start over next time */
        return odx_error(ODX_EIO, "%s: server refused to resume; run again", name);
    }
    if (rename(part, final) != 0) return odx_error(ODX_EIO, "%s: %s", final, strerror(errno));
    return 0;
}

/* No model.safetensors: a sharded checkpoint needs its index and shards. */
static int pull_shards(CURL *c, const char *hub, size_t hl, const char *repo, const char *rev, const char *dest,
                       const odx_hub_opts *o)
{
    char url[1400], path[4200];
    const char *idx = "model.safetensors.index.json";
    snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)hl, hub, repo, rev, idx);
    int missing = 0;
    int rc = fetch(c, url, dest, idx, o, &missing);
    if (rc) return rc;
    if (missing) return odx_error(ODX_ENOTFOUND, "%.*s/%s: neither model.safetensors nor %s on the hub", (int)hl, hub, repo, idx);
    snprintf(path, sizeof path, "%s/%s", dest, idx);
    char *buf;
    size_t len;
    /* An index lists names only: 16 MiB is plenty. */
    if ((rc = odx_read_file(path, 16u << 20, &buf, &len)) != 0) return rc;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    odx_free(buf);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) rc = odx_error(ODX_ECORRUPT, "%s: no weight_map object", idx);
    for (const cJSON *e = map ? map->child : NULL; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || !odx_model_file_name_ok(e->valuestring)) {
            rc = odx_error(ODX_ECORRUPT, "%s: bad shard name for '%.64s'", idx, e->string);
            break;
        }
        int seen = 0;
        for (const cJSON *p = map->child; p != e && !seen; p = p->next) seen = strcmp(p->valuestring, e->valuestring) == 0;
        if (seen) continue;
        snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)hl, hub, repo, rev, e->valuestring);
        rc = fetch(c, url, dest, e->valuestring, o, &missing);
        if (!rc && missing) rc = odx_error(ODX_ENOTFOUND, "%s: not found on the hub (HTTP 404)", url);
    }
    cJSON_Delete(root);
    return rc;
}

int odx_hub_pull(const char *repo, const char *dest, const odx_hub_opts *opts)
{
    odx_hub_opts o = {0};
    if (opts) o = *opts;
    const char *env = getenv("OMNIDEX_HUB");
    const char *hub = o.hub ? o.hub : env && *env ? env : ODX_HUB_DEFAULT;
    const char *rev = o.revision ? o.revision : "main";
    if (!valid_ref(repo, 1)) return odx_error(ODX_EINVAL, "bad repository name '%.64s' (owner/name)", repo);
    if (!valid_ref(rev, 0)) return odx_error(ODX_EINVAL, "bad revision '%.64s'", rev);
    if (strncmp(hub, "http://", 7) != 0 && strncmp(hub, "https://", 8) != 0)
        return odx_error(ODX_EINVAL, "hub URL must start with http:// or https:// (got '%.64s')", hub);
    if (strlen(hub) > 1000) return odx_error(ODX_EINVAL, "hub URL too long");
    if (mkdir(dest, 0755) != 0 && errno != EEXIST) return odx_error(ODX_EIO, "%s: %s", dest, strerror(errno));
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK) return odx_error(ODX_EINTERNAL, "curl_global_init failed");
    CURL *c = curl_easy_init();
    if (!c) return odx_error(ODX_ENOMEM, "curl_easy_init failed");
    static const struct { const char *name; int required; } files[] = {
        {"config.json", 1}, {"model.safetensors", 0}, {"vocab.json", 0}, {"merges.txt", 0},
        {"preprocessor_config.json", 0}, {"tokenizer.json", 0}, {"tokenizer_config.json", 0},
        {"special_tokens_map.json", 0},
    };
    int rc = 0;
    size_t hl = strlen(hub);
    while (hl > 0 && hub[hl - 1] == '/') hl--;
    char url[1400];
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !rc; i++) {
        snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)hl, hub, repo, rev, files[i].name);
        int missing = 0;
        rc = fetch(c, url, dest, files[i].name, &o, &missing);
        if (!rc && missing && files[i].required)
            rc = odx_error(ODX_ENOTFOUND, "%s: not found on the hub (HTTP 404)", url);
        if (!rc && missing && i == 1) rc = pull_shards(c, hub, hl, repo, rev, dest, &o);
    }
    curl_easy_cleanup(c);
    return rc;
}

/* ---- the public API (omnidex_embed.h) ------------------------------------ */

int odx_models_name_ok(const char *name) { return name && odx_model_file_name_ok(name); }

int odx_models_pull(const char *repo, const char *dest, const char *hub, const char *revision,
                    odx_models_progress progress, void *ud)
{
    if (!repo || !dest) return odx_error(ODX_EINVAL, "NULL argument");
    odx_hub_opts o = {hub, revision, progress, ud, 0};
    return odx_hub_pull(repo, dest, &o);
}
