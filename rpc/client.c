/* The omnidex gRPC client on the C core API: one channel and one
 * completion queue per client; each call is one batch plucked from the
 * queue (streams: one batch per message). */
#include "rpc/client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "grpc/health/v1/health.pb-c.h"
#include "rpc/internal.h"

#define CLIENT_METHODS 24

struct odx_rpc_client {
    grpc_channel *ch;
    /* methods registered with the channel (saves a path lookup per call) */
    struct {
        char *path; /* a copy */
        void *handle;
    } methods[CLIENT_METHODS];
    int nmethods;
    grpc_completion_queue *cq;
    grpc_metadata auth;
    int has_auth;
    double timeout;
    int last_status;
};

struct odx_rpc_stream {
    odx_rpc_client *c;
    grpc_call *call;
    int failed;
};

void odx_rpc_client_options_init(odx_rpc_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_seconds = 30;
    o->max_message_bytes = (size_t)64 << 20;
}

int odx_rpc_client_open(const char *target, const odx_rpc_client_options *o, odx_rpc_client **out)
{
    odx_rpc_client_options def;
    if (!o) {
        odx_rpc_client_options_init(&def);
        o = &def;
    }
    if (!target || !target[0]) return odx_error(ODX_EINVAL, "no server address");
    if ((o->tls_cert_pem == NULL) != (o->tls_key_pem == NULL))
        return odx_error(ODX_EINVAL, "a client certificate needs its key");
    if (o->max_message_bytes > ((size_t)1 << 30)) return odx_error(ODX_EINVAL, "max message size over 1 GiB");
    odx_rpc_client *c = odx_calloc(1, sizeof *c);
    if (!c) return odx_error(ODX_ENOMEM, "out of memory");
    grpc_init();
    c->timeout = o->timeout_seconds;
    if (o->token) {
        size_t n = strlen(o->token);
        char *v = odx_malloc(n + 8);
        if (!v) {
            odx_free(c);
            grpc_shutdown();
            return odx_error(ODX_ENOMEM, "out of memory");
        }
        snprintf(v, n + 8, "Bearer %s", o->token);
        c->auth.key = grpc_slice_from_static_string("authorization");
        c->auth.value = grpc_slice_from_copied_string(v);
        odx_free(v);
        c->has_auth = 1;
    }
    grpc_arg args[2];
    int maxb = (int)(o->max_message_bytes ? o->max_message_bytes : (size_t)64 << 20);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = maxb;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = maxb;
    grpc_channel_args chargs = {2, args};
    grpc_channel_credentials *creds;
    if (o->tls_ca_pem || o->tls_cert_pem) {
        grpc_ssl_pem_key_cert_pair pair = {o->tls_key_pem, o->tls_cert_pem};
        creds = grpc_ssl_credentials_create(o->tls_ca_pem, o->tls_cert_pem ? &pair : NULL, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    c->ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    *out = c;
    return 0;
}

void odx_rpc_client_close(odx_rpc_client *c)
{
    if (!c) return;
    grpc_channel_destroy(c->ch);
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(c->cq);
    if (c->has_auth) grpc_slice_unref(c->auth.value);
    for (int i = 0; i < c->nmethods; i++) odx_free(c->methods[i].path);
    odx_free(c);
    grpc_shutdown();
}

int odx_rpc_client_last_status(const odx_rpc_client *c) { return c ? c->last_status : 0; }

void odx_rpc_free(ProtobufCMessage *m)
{
    if (m) protobuf_c_message_free_unpacked(m, &rpc_allocator);
}

static int odx_from_status(grpc_status_code st)
{
    switch (st) {
    case GRPC_STATUS_OK: return 0;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_OUT_OF_RANGE: return ODX_EINVAL;
    case GRPC_STATUS_NOT_FOUND: return ODX_ENOTFOUND;
    case GRPC_STATUS_ALREADY_EXISTS: return ODX_EEXIST;
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return ODX_ELIMIT;
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_PERMISSION_DENIED: return ODX_EPRECOND;
    case GRPC_STATUS_UNIMPLEMENTED: return ODX_EUNSUPPORTED;
    case GRPC_STATUS_CANCELLED:
    case GRPC_STATUS_DEADLINE_EXCEEDED: return ODX_ECANCELLED;
    case GRPC_STATUS_UNAVAILABLE: return ODX_EIO;
    default: return ODX_EINTERNAL;
    }
}

static gpr_timespec deadline(const odx_rpc_client *c)
{
    if (c->timeout <= 0) return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_micros((int64_t)(c->timeout * 1e6), GPR_TIMESPAN));
}

/* Status + details -> odx status with the server's message. */
static int conclude(odx_rpc_client *c, const char *method, grpc_status_code st, grpc_slice details)
{
    c->last_status = (int)st;
    if (st == GRPC_STATUS_OK) return 0;
    size_t n = GRPC_SLICE_LENGTH(details);
    if (n)
        return odx_error(odx_from_status(st), "%.*s", (int)(n > 900 ? 900 : n),
                         (const char *)GRPC_SLICE_START_PTR(details));
    return odx_error(odx_from_status(st), "%s: %s", method, rpc_status_name(st));
}

static int unpack(odx_rpc_client *c, grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d,
                  ProtobufCMessage **out)
{
    grpc_byte_buffer_reader r;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb)) {
        c->last_status = GRPC_STATUS_INTERNAL;
        return odx_error(ODX_EINTERNAL, "the server sent no %s", d->name);
    }
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *out = protobuf_c_message_unpack(d, &rpc_allocator, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
    grpc_slice_unref(sl);
    if (!*out) {
        c->last_status = GRPC_STATUS_INTERNAL;
        return odx_error(ODX_EINTERNAL, "the server sent a malformed %s", d->name);
    }
    return 0;
}

/* A call on the channel; methods with a static path are registered once. */
static grpc_call *new_call(odx_rpc_client *c, const char *method)
{
    for (int i = 0; i < c->nmethods; i++)
        if (strcmp(c->methods[i].path, method) == 0)
            return grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                                       c->methods[i].handle, deadline(c), NULL);
    if (c->nmethods < CLIENT_METHODS) {
        char *path = odx_strdup(method);
        void *h = path ? grpc_channel_register_call(c->ch, path, NULL, NULL) : NULL;
        if (!h) odx_free(path);
        if (h) {
            c->methods[c->nmethods].path = path;
            c->methods[c->nmethods].handle = h;
            c->nmethods++;
            return grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, h,
                                                       deadline(c), NULL);
        }
    }
    return grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                    grpc_slice_from_copied_string(method), NULL, deadline(c), NULL);
}

int odx_rpc_client_call(odx_rpc_client *c, const char *method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
    grpc_call *call = new_call(c, method);
    if (!call) return odx_error(ODX_EINTERNAL, "cannot create a call to %s", method);
    grpc_byte_buffer *send = rpc_wire_pack(req), *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->has_auth) {
        ops[0].data.send_initial_metadata.count = 1;
        ops[0].data.send_initial_metadata.metadata = &c->auth;
    }
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &st;
    ops[5].data.recv_status_on_client.status_details = &details;
    int rc;
    if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
        rc = odx_error(ODX_EINTERNAL, "cannot start a call to %s", method);
    } else {
        grpc_completion_queue_pluck(c->cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        rc = conclude(c, method, st, details);
        if (rc == 0) rc = unpack(c, recv, resp_desc, resp);
    }
    grpc_byte_buffer_destroy(send);
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    return rc;
}

#define UNARY(fn, name, Req, Resp, resp_desc)                                                          \
    int fn(odx_rpc_client *c, const Req *req, Resp **resp)                                             \
    {                                                                                                  \
        return odx_rpc_client_call(c, "/omnidex.v1.Omnidex/" name, &req->base, &resp_desc,             \
                                   (ProtobufCMessage **)resp);                                         \
    }

UNARY(odx_rpc_create_collection, "CreateCollection", Omnidex__V1__CreateCollectionRequest,
      Omnidex__V1__CreateCollectionResponse, omnidex__v1__create_collection_response__descriptor)
UNARY(odx_rpc_drop_collection, "DropCollection", Omnidex__V1__DropCollectionRequest,
      Omnidex__V1__DropCollectionResponse, omnidex__v1__drop_collection_response__descriptor)
UNARY(odx_rpc_list_collections, "ListCollections", Omnidex__V1__ListCollectionsRequest,
      Omnidex__V1__ListCollectionsResponse, omnidex__v1__list_collections_response__descriptor)
UNARY(odx_rpc_describe_collection, "DescribeCollection", Omnidex__V1__DescribeCollectionRequest,
      Omnidex__V1__DescribeCollectionResponse, omnidex__v1__describe_collection_response__descriptor)
UNARY(odx_rpc_maintain_collection, "MaintainCollection", Omnidex__V1__MaintainCollectionRequest,
      Omnidex__V1__MaintainCollectionResponse, omnidex__v1__maintain_collection_response__descriptor)
UNARY(odx_rpc_upsert, "Upsert", Omnidex__V1__UpsertRequest, Omnidex__V1__UpsertResponse,
      omnidex__v1__upsert_response__descriptor)
UNARY(odx_rpc_delete, "Delete", Omnidex__V1__DeleteRequest, Omnidex__V1__DeleteResponse,
      omnidex__v1__delete_response__descriptor)
UNARY(odx_rpc_get, "Get", Omnidex__V1__GetRequest, Omnidex__V1__GetResponse, omnidex__v1__get_response__descriptor)
UNARY(odx_rpc_search, "Search", Omnidex__V1__SearchRequest, Omnidex__V1__SearchResponse,
      omnidex__v1__search_response__descriptor)
UNARY(odx_rpc_embed, "Embed", Omnidex__V1__EmbedRequest, Omnidex__V1__EmbedResponse,
      omnidex__v1__embed_response__descriptor)
UNARY(odx_rpc_list_models, "ListModels", Omnidex__V1__ListModelsRequest, Omnidex__V1__ListModelsResponse,
      omnidex__v1__list_models_response__descriptor)
UNARY(odx_rpc_stats, "Stats", Omnidex__V1__StatsRequest, Omnidex__V1__StatsResponse,
      omnidex__v1__stats_response__descriptor)

int odx_rpc_health_check(odx_rpc_client *c, const char *service, int *serving)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service ? service : "");
    ProtobufCMessage *resp;
    int rc = odx_rpc_client_call(c, "/grpc.health.v1.Health/Check", &req.base,
                                 &grpc__health__v1__health_check_response__descriptor, &resp);
    if (rc) return rc;
    *serving = ((Grpc__Health__V1__HealthCheckResponse *)resp)->status ==
               GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    odx_rpc_free(resp);
    return 0;
}

/* ---- UpsertStream ---------------------------------------------------------- */

static int stream_batch(odx_rpc_stream *s, grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK)
        return odx_error(ODX_EINTERNAL, "cannot start a stream batch");
    grpc_event ev = grpc_completion_queue_pluck(s->c->cq, s, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.success ? 0 : ODX_EIO;
}

int odx_rpc_upsert_stream_begin(odx_rpc_client *c, odx_rpc_stream **out)
{
    odx_rpc_stream *s = odx_calloc(1, sizeof *s);
    if (!s) return odx_error(ODX_ENOMEM, "out of memory");
    s->c = c;
    s->call = new_call(c, "/omnidex.v1.Omnidex/UpsertStream");
    if (!s->call) {
        odx_free(s);
        return odx_error(ODX_EINTERNAL, "cannot create the UpsertStream call");
    }
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->has_auth) {
        op.data.send_initial_metadata.count = 1;
        op.data.send_initial_metadata.metadata = &c->auth;
    }
    if (stream_batch(s, &op, 1) != 0) s->failed = 1;
    *out = s;
    return 0;
}

int odx_rpc_upsert_stream_send(odx_rpc_stream *s, const Omnidex__V1__UpsertRequest *req)
{
    if (s->failed) return odx_error(ODX_EIO, "the stream has ended (finish it for the status)");
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = rpc_wire_pack(&req->base);
    int rc = stream_batch(s, &op, 1);
    grpc_byte_buffer_destroy(op.data.send_message.send_message);
    if (rc) {
        s->failed = 1;
        return odx_error(ODX_EIO, "the server ended the stream (finish it for the status)");
    }
    return 0;
}

int odx_rpc_upsert_stream_finish(odx_rpc_stream *s, Omnidex__V1__UpsertResponse **resp)
{
    odx_rpc_client *c = s->c;
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!s->failed) ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &recv;
    ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[n].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[n].data.recv_status_on_client.status = &st;
    ops[n].data.recv_status_on_client.status_details = &details;
    n++;
    stream_batch(s, ops, n);
    int rc = conclude(c, "UpsertStream", st, details);
    if (rc == 0) rc = unpack(c, recv, &omnidex__v1__upsert_response__descriptor, (ProtobufCMessage **)resp);
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(s->call);
    odx_free(s);
    return rc;
}
