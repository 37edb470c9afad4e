/* The server's listen address: checked before gRPC sees it, and explained
 * when gRPC cannot bind it.
 *
 * gRPC core takes "host:port" on trust: the port goes through a plain
 * atoi-and-truncate (127.0.0.1:99999 bound 34463), a missing port means the
 * "https" service (localhost bound 443), and an unbracketed IPv6 address
 * loses its last group to the port. So the address is parsed here first.
 * When binding fails gRPC only logs why; a plain bind() of the same address
 * tells "in use" from "not an address of this host" for the error message. */
#include "omnidex_rpc.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"

int odx_rpc_listen_parse(const char *listen, char *host, size_t hostlen, int *port)
{
    if (!listen || !*listen) return odx_error(ODX_EINVAL, "empty listen address");
    const char *h = listen, *p = NULL;
    size_t hl;
    if (*h == '[') { /* [IPv6] or [IPv6]:PORT */
        const char *close = strchr(h, ']');
        if (!close || close == h + 1)
            return odx_error(ODX_EINVAL, "listen address '%.200s': unterminated or empty [IPv6] address", listen);
        hl = (size_t)(close + 1 - h);
        if (close[1] == ':') p = close + 2;
        else if (close[1])
            return odx_error(ODX_EINVAL, "listen address '%.200s': expected ':PORT' after ']'", listen);
    } else {
        const char *colon = strchr(h, ':');
        if (colon && strchr(colon + 1, ':'))
            return odx_error(ODX_EINVAL, "listen address '%.200s': write an IPv6 address in brackets, "
                                         "e.g. [::1]:%d", listen, ODX_RPC_DEFAULT_PORT);
        hl = colon ? (size_t)(colon - h) : strlen(h);
        if (colon) p = colon + 1;
    }
    if (hl == 0)
        return odx_error(ODX_EINVAL, "listen address '%.200s' has no host (e.g. 127.0.0.1:%d, or 0.0.0.0:%d for "
                         "every interface)", listen, ODX_RPC_DEFAULT_PORT, ODX_RPC_DEFAULT_PORT);
    if (hl >= hostlen) return odx_error(ODX_EINVAL, "listen address '%.200s': host name too long", listen);
    long v = ODX_RPC_DEFAULT_PORT;
    if (p) {
        /* Digits only: strtol would accept signs and spaces. */
        v = 0;
        const char *d = p;
        for (; *d >= '0' && *d <= '9' && v <= 65535; d++) v = v * 10 + (*d - '0');
        if (d == p || *d || v > 65535)
            return odx_error(ODX_EINVAL, "listen address '%.200s': port '%.40s' is not a number 0..65535 "
                             "(0 picks a free port)", listen, p);
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

int odx_rpc_listen_explain(const char *host, int port)
{
    char name[256], service[16];
    size_t n = strlen(host);
    /* getaddrinfo wants IPv6 literals without their brackets. */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof name) {
        memcpy(name, host + 1, n - 2);
        name[n - 2] = '\0';
    } else {
        snprintf(name, sizeof name, "%s", host);
    }
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(name, service, &hints, &res);
    if (g != 0)
        return odx_error(ODX_EINVAL, "cannot listen on %s:%d: host '%s' does not resolve (%s)", host, port, name,
                         gai_strerror(g));
    int err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) { err = errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as gRPC does: TIME_WAIT is no conflict */
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) err = errno;
        close(fd);
        if (err) break;
    }
    freeaddrinfo(res);
    if (err == EADDRINUSE)
        return odx_error(ODX_EINVAL, "cannot listen on %s:%d: address already in use (is another server "
                         "running there?)", host, port);
    if (err)
        return odx_error(ODX_EINVAL, "cannot listen on %s:%d: %s", host, port, strerror(err));
    return odx_error(ODX_EINVAL, "cannot listen on %s:%d (bad TLS files?)", host, port);
}
