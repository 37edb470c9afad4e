/* Media payloads by URL: the bytes behind an http(s):// or file:// URI,
 * fetched under a policy that keeps a server from being turned against its
 * own network (SSRF).
 *
 * http/https (libcurl):
 *  - the host is resolved here, and every address it resolves to is checked:
 *    loopback, private (RFC 1918, unique local), link-local (incl. the cloud
 *    metadata address 169.254.169.254), carrier-grade NAT, multicast,
 *    reserved and documentation ranges are refused unless allow_private is
 *    set; IPv4 embedded in IPv6 (mapped, NAT64, 6to4) is checked as IPv4;
 *  - the connection is pinned to the checked address (CURLOPT_RESOLVE) and
 *    the socket callback refuses any other address, so a second DNS answer
 *    cannot swap the target between check and connect;
 *  - redirects are followed here (at most max_redirects), each hop checked
 *    the same way; only http and https; environment proxies are ignored;
 *  - max_bytes (declared length and bytes received) and timeout_ms bound the
 *    transfer: ODX_ELIMIT.
 * file://: only when the resolved path (symlinks followed) lies under one of
 * the operator's file roots; none by default.
 *
 * Errors: what the client can fix is ODX_EINVAL: a malformed URI, a scheme
 * other than http/https/file, a target the policy refuses (the message says
 * which address class or which root rule), too many redirects, and HTTP 4xx
 * other than those below. What may pass is ODX_EUNAVAILABLE: a host that
 * does not resolve or has no address, a connection that fails (refused,
 * reset, TLS), HTTP 5xx, 408, 429 or a redirect without a Location.
 * ODX_ENOTFOUND for HTTP 404/410 or a missing file, ODX_ELIMIT for size and
 * time, ODX_EIO for a local file that cannot be read. */
#ifndef ODX_QUERY_FETCH_H
#define ODX_QUERY_FETCH_H
#include <stddef.h>
#include <sys/socket.h>

#define ODX_FETCH_MAX_ROOTS 16
#define ODX_FETCH_DEFAULT_MAX_BYTES (256ull << 20)
#define ODX_FETCH_DEFAULT_TIMEOUT_MS 30000L

typedef struct odx_fetch_policy {
    int allow_private;      /* also fetch from loopback/private/link-local hosts */
    size_t max_bytes;       /* largest body accepted */
    long timeout_ms;        /* whole transfer, redirects included */
    int max_redirects;
    char *roots[ODX_FETCH_MAX_ROOTS]; /* file:// roots, realpath()ed, owned */
    int nroots;
} odx_fetch_policy;

void odx_fetch_policy_init(odx_fetch_policy *p);
void odx_fetch_policy_free(odx_fetch_policy *p);
/* Adds a directory (must exist) under which file:// URIs may be read. */
int odx_fetch_policy_add_root(odx_fetch_policy *p, const char *dir);

/* Fetches uri into *data (odx_malloc'ed, caller frees) and *len. */
int odx_fetch(const odx_fetch_policy *p, const char *uri, void **data, size_t *len);

/* The class of a non-public address ("loopback", "private", "link-local",
 * ...), or NULL when the address is publicly routable. */
const char *odx_fetch_addr_class(const struct sockaddr *sa);

#endif
