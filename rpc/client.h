/*
 * rpc/client.h - a small client of the omnidex gRPC API on the gRPC C core
 * (for `omnidex --server HOST:PORT ...` and the end-to-end benchmark).
 *
 *   odx_rpc_client *cl;
 *   odx_rpc_client_options o;
 *   odx_rpc_client_options_init(&o);
 *   o.token = "secret";                      // optional bearer token
 *   if (odx_rpc_client_open("127.0.0.1:7600", &o, &cl)) die(odx_last_error());
 *   Omnidex__V1__SearchRequest req = OMNIDEX__V1__SEARCH_REQUEST__INIT;
 *   ... fill req ...
 *   Omnidex__V1__SearchResponse *resp;
 *   int rc = odx_rpc_search(cl, &req, &resp);
 *   if (rc) fprintf(stderr, "%s\n", odx_last_error());  // the server's message
 *   else { ... resp->hits ...; odx_rpc_free(&resp->base); }
 *   odx_rpc_client_close(cl);
 *
 * Every call returns 0 or an omnidex status mapped back from the gRPC
 * status (INVALID_ARGUMENT -> ODX_EINVAL, NOT_FOUND -> ODX_ENOTFOUND,
 * ALREADY_EXISTS -> ODX_EEXIST, RESOURCE_EXHAUSTED -> ODX_ELIMIT,
 * FAILED_PRECONDITION -> ODX_EPRECOND, UNIMPLEMENTED -> ODX_EUNSUPPORTED,
 * CANCELLED/DEADLINE_EXCEEDED -> ODX_ECANCELLED, UNAVAILABLE -> ODX_EIO,
 * UNAUTHENTICATED/PERMISSION_DENIED -> ODX_EPRECOND, others ->
 * ODX_EINTERNAL); odx_last_error() then holds the server's status message,
 * so a CLI prints the same line in client mode as embedded.
 * odx_rpc_client_last_status() gives the raw gRPC status code.
 *
 * Replies are protobuf-c messages owned by the caller: odx_rpc_free().
 * A client holds one channel and one completion queue; it is used by one
 * thread at a time (open one client per thread for concurrency).
 */
#ifndef ODX_RPC_CLIENT_H
#define ODX_RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "omnidex.h"
#include "omnidex_rpc.h"
#include "omnidex/v1/omnidex.pb-c.h"

typedef struct odx_rpc_client odx_rpc_client;
typedef struct odx_rpc_stream odx_rpc_stream;

/* Creates a channel to target ("host:port"); connects lazily on first call. */
int odx_rpc_client_open(const char *target, const odx_rpc_client_options *o, odx_rpc_client **out);
void odx_rpc_client_close(odx_rpc_client *c);
/* The gRPC status code of the client's last call (0 = OK). */
int odx_rpc_client_last_status(const odx_rpc_client *c);

/* Any unary method by full path ("/omnidex.v1.Omnidex/Search"). */
int odx_rpc_client_call(odx_rpc_client *c, const char *method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);
/* Frees a reply. NULL is a no-op. */
void odx_rpc_free(ProtobufCMessage *m);

int odx_rpc_create_collection(odx_rpc_client *c, const Omnidex__V1__CreateCollectionRequest *req,
                              Omnidex__V1__CreateCollectionResponse **resp);
int odx_rpc_drop_collection(odx_rpc_client *c, const Omnidex__V1__DropCollectionRequest *req,
                            Omnidex__V1__DropCollectionResponse **resp);
int odx_rpc_list_collections(odx_rpc_client *c, const Omnidex__V1__ListCollectionsRequest *req,
                             Omnidex__V1__ListCollectionsResponse **resp);
int odx_rpc_describe_collection(odx_rpc_client *c, const Omnidex__V1__DescribeCollectionRequest *req,
                                Omnidex__V1__DescribeCollectionResponse **resp);
int odx_rpc_maintain_collection(odx_rpc_client *c, const Omnidex__V1__MaintainCollectionRequest *req,
                                Omnidex__V1__MaintainCollectionResponse **resp);
int odx_rpc_upsert(odx_rpc_client *c, const Omnidex__V1__UpsertRequest *req, Omnidex__V1__UpsertResponse **resp);
int odx_rpc_delete(odx_rpc_client *c, const Omnidex__V1__DeleteRequest *req, Omnidex__V1__DeleteResponse **resp);
int odx_rpc_get(odx_rpc_client *c, const Omnidex__V1__GetRequest *req, Omnidex__V1__GetResponse **resp);
int odx_rpc_search(odx_rpc_client *c, const Omnidex__V1__SearchRequest *req, Omnidex__V1__SearchResponse **resp);
int odx_rpc_embed(odx_rpc_client *c, const Omnidex__V1__EmbedRequest *req, Omnidex__V1__EmbedResponse **resp);
int odx_rpc_list_models(odx_rpc_client *c, const Omnidex__V1__ListModelsRequest *req,
                        Omnidex__V1__ListModelsResponse **resp);
int odx_rpc_stats(odx_rpc_client *c, const Omnidex__V1__StatsRequest *req, Omnidex__V1__StatsResponse **resp);

/* UpsertStream: begin, send any number of messages, finish for the summary.
 * finish (or a failed send followed by finish) frees the stream. */
int odx_rpc_upsert_stream_begin(odx_rpc_client *c, odx_rpc_stream **out);
int odx_rpc_upsert_stream_send(odx_rpc_stream *s, const Omnidex__V1__UpsertRequest *req);
int odx_rpc_upsert_stream_finish(odx_rpc_stream *s, Omnidex__V1__UpsertResponse **resp);

/* grpc.health.v1.Health/Check: *serving = 1 when the service is SERVING. */
int odx_rpc_health_check(odx_rpc_client *c, const char *service, int *serving);

#endif
