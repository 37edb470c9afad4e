/*
 * omnidex_rpc.h - omnidex over gRPC: the server, and a database handle
 * backed by a server.
 *
 * odx_rpc_server_start() serves omnidex.v1.Omnidex, grpc.health.v1.Health and
 * server reflection (v1alpha and v1) for one open database, from a fixed pool
 * of worker threads draining one completion queue; it returns once the port
 * is bound. odx_rpc_server_stop() shuts down gracefully: health turns
 * NOT_SERVING (pushed to Watch streams), no new calls are accepted, calls in
 * flight get drain_seconds to finish, the rest are cancelled, threads are
 * joined. The database stays open: the caller closes it afterwards.
 * A process may run several servers; grpc_init/grpc_shutdown are paired
 * inside start/stop. Signals: a server never touches the signal mask; a
 * program that waits for SIGTERM with sigwait blocks it before start so
 * that the worker threads inherit the mask (see cli/serve.c).
 *
 * odx_rpc_db_open() gives an odx_db whose every call is a request to a
 * server: the whole of omnidex.h works on it (a search of nq vectors is one
 * call), with the server's answers and messages (odx_last_error()). Calls
 * that only make sense in the server's process (odx_db_set_option,
 * odx_collection_set_gpu) answer ODX_EUNSUPPORTED. One handle is used by one
 * thread at a time; open one per thread.
 */
#ifndef OMNIDEX_RPC_H
#define OMNIDEX_RPC_H

#include <stddef.h>

#include "omnidex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ODX_RPC_DEFAULT_PORT 7600

typedef struct odx_rpc_options {
    const char *listen;            /* "HOST:PORT", "HOST" (port 7600), "[IPv6]:PORT"; port 0 picks one.
                                      Default 127.0.0.1:7600 */
    int workers;                   /* worker threads; default 4 */
    int calls_per_method;          /* outstanding accepted calls per method; default 8 */
    const char *token;             /* bearer token required on every method but health; NULL = none */
    const char *tls_cert_pem;      /* PEM contents (not paths); NULL = plaintext */
    const char *tls_key_pem;
    const char *tls_client_ca_pem; /* when set, clients must present a cert it signed */
    size_t max_message_bytes;      /* receive and send limit; default 64 MiB */
    double drain_seconds;          /* graceful-shutdown bound; default 10 */
} odx_rpc_options;

typedef struct odx_rpc_server odx_rpc_server;

void odx_rpc_options_init(odx_rpc_options *o);
/* Starts serving db (borrowed; it must outlive the server). */
int odx_rpc_server_start(odx_db *db, const odx_rpc_options *o, odx_rpc_server **out);
/* The bound port (useful after listening on port 0). */
int odx_rpc_server_port(const odx_rpc_server *s);
/* Graceful stop as above, then frees the server. NULL is a no-op. */
void odx_rpc_server_stop(odx_rpc_server *s);

/* Splits a listen address into host (IPv6 keeps its brackets) and port:
 * "HOST:PORT" with PORT 0..65535, "HOST" (ODX_RPC_DEFAULT_PORT), "[V6]:PORT",
 * "[V6]". ODX_EINVAL with a message naming the value for anything else. */
int odx_rpc_listen_parse(const char *listen, char *host, size_t hostlen, int *port);
/* After gRPC failed to bind host:port: records why (in use, not resolvable,
 * not an address of this host) and returns ODX_EINVAL. */
int odx_rpc_listen_explain(const char *host, int port);

typedef struct odx_rpc_client_options {
    const char *token;          /* sent as "authorization: Bearer <token>"; NULL = none */
    const char *tls_ca_pem;     /* PEM roots to verify the server; NULL = plaintext */
    const char *tls_cert_pem;   /* client certificate for mutual TLS (with tls_key_pem) */
    const char *tls_key_pem;
    double timeout_seconds;     /* per call (for UpsertStream: the whole stream); 0 = none. Default 30 */
    size_t max_message_bytes;   /* default 64 MiB */
} odx_rpc_client_options;

void odx_rpc_client_options_init(odx_rpc_client_options *o);
/* A database handle backed by the server at target ("host:port"); it
 * connects lazily on its first call. o may be NULL (the defaults). */
int odx_rpc_db_open(const char *target, const odx_rpc_client_options *o, odx_db **out);

#ifdef __cplusplus
}
#endif
#endif /* OMNIDEX_RPC_H */
