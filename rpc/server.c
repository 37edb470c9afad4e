/* The gRPC server on the C core API.
 *
 * One completion queue, drained by a fixed pool of worker threads. Every
 * registered method keeps calls_per_method requested calls outstanding;
 * each accepted call is re-armed at once (FACTS trap 7). A call context
 * (struct rpc_call) is reference-counted: each batch in flight holds one
 * reference, so a call is freed only after every tag it posted has come
 * back, whichever thread drains it.
 *
 * For streaming calls RECV_CLOSE_ON_SERVER is posted on its own as soon as
 * the call is accepted: it completes when the client cancels or the
 * deadline passes, and sets the call's cancelled flag, which handlers poll
 * (another worker drains it while the handler runs). Unary calls put it in
 * their last batch (their handlers are short and check the deadline).
 * Every reply batch carries SEND_INITIAL_METADATA
 * unless it was sent already (trap 1); one op of each kind at a time (2).
 */
#include "rpc/internal.h"
#include "rpc/call_mem.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

enum tag_kind { TAG_REQUEST, TAG_CLOSE, TAG_STEP, TAG_SHUTDOWN };

struct rpc_tag {
    enum tag_kind kind;
    rpc_call *call;
};

struct rpc_call {
    struct rpc_call_base base; /* first: see rpc/call_mem.h */
    rpc_server *srv;
    const rpc_method *m;
    size_t mi;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details cd;      /* RPC_UNKNOWN: the method asked for */
    grpc_byte_buffer *payload; /* unary request, or the last stream message */
    struct rpc_tag t_req, t_close, t_step;
    atomic_int refs;
    atomic_int cancelled;
    int close_cancelled;
    int accepted;
    int sent_md;
    int finishing;
    grpc_byte_buffer *send_buf;
    grpc_slice details;
    int has_details;
    void *state;
    /* health Watch */
    ProtobufCMessage *watch_req;
    rpc_call *wnext, *wprev;
    int in_watch_list, w_sending, w_dirty;
};

struct odx_rpc_server {
    odx_db *db;
    odx_rpc_options opt;
    char *auth_value; /* "Bearer <token>" */
    size_t auth_len;
    grpc_server *server;
    grpc_completion_queue *cq;
    int port;
    pthread_t *threads;
    int nthreads;
    const rpc_method **methods;
    void **handles;
    size_t nmethods;
    atomic_uint_fast64_t calls_total, calls_failed;
    atomic_uint in_flight;
    atomic_int shutting;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t close_cv; /* a call was cancelled (close_grace) */
    int shutdown_done;
    rpc_call *watchers;
    double started;
    struct rpc_tag t_shutdown;
};

void odx_rpc_options_init(odx_rpc_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:7600";
    o->workers = 4;
    o->calls_per_method = 8;
    o->max_message_bytes = (size_t)64 << 20;
    o->drain_seconds = 10.0;
}

odx_db *rpc_call_db(rpc_call *c) { return c->srv->db; }
rpc_server *rpc_call_server(rpc_call *c) { return c->srv; }
void **rpc_call_state(rpc_call *c) { return &c->state; }

int rpc_call_cancelled(rpc_call *c)
{
    if (atomic_load(&c->cancelled)) return 1;
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    gpr_timespec dl = gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC);
    return gpr_time_cmp(dl, now) < 0;
}

void rpc_server_counters(rpc_server *s, rpc_counters *out)
{
    out->calls_total = atomic_load(&s->calls_total);
    out->calls_failed = atomic_load(&s->calls_failed);
    out->in_flight = atomic_load(&s->in_flight);
    out->workers = (unsigned)s->nthreads;
    out->uptime = odx_now_mono() - s->started;
}

int rpc_server_health(rpc_server *s, const char *service)
{
    /* grpc.health.v1.HealthCheckResponse.ServingStatus: SERVING = 1,
     * NOT_SERVING = 2. */
    for (size_t i = 0; i < rpc_service_count; i++)
        if (strcmp(service, rpc_service_names[i]) == 0)
            return atomic_load(&s->shutting) ? 2 : 1;
    if (service[0] == '\0') return atomic_load(&s->shutting) ? 2 : 1;
    return -1;
}

/* ---- call lifecycle ------------------------------------------------------- */

static void call_release(rpc_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    rpc_call_base_reset(&c->base);
    if (c->m->on_free && c->state) c->m->on_free(c->state);
    if (c->watch_req) protobuf_c_message_free_unpacked(c->watch_req, &rpc_allocator);
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->send_buf) grpc_byte_buffer_destroy(c->send_buf);
    if (c->has_details) grpc_slice_unref(c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->m->kind == RPC_UNKNOWN) grpc_call_details_destroy(&c->cd);
    if (c->call) grpc_call_unref(c->call);
    if (c->accepted) atomic_fetch_sub(&c->srv->in_flight, 1);
    odx_free(c);
}

static int start_batch(rpc_call *c, const grpc_op *ops, size_t n, void *tag)
{
    atomic_fetch_add(&c->refs, 1);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        odx_log(ODX_LOG_ERROR, "rpc: %s: grpc_call_start_batch failed (%d)", c->m->path, (int)e);
        atomic_fetch_sub(&c->refs, 1);
        return -1;
    }
    return 0;
}

/* Calls to methods nobody registered would wait for a generic request
 * forever (until their deadline): they are accepted here and answered
 * UNIMPLEMENTED. */
static const rpc_method unknown_method = {"(unregistered)", RPC_UNKNOWN, 1, NULL, NULL, NULL, NULL, NULL};
#define UNKNOWN_MI ((size_t)-1)

static void request_call(rpc_server *s, size_t mi)
{
    if (atomic_load(&s->shutting)) return;
    if (mi == UNKNOWN_MI) {
        rpc_call *c = odx_calloc(1, sizeof *c);
        if (!c) return;
        c->srv = s;
        c->m = &unknown_method;
        c->mi = mi;
        atomic_init(&c->refs, 1);
        c->t_req = (struct rpc_tag){TAG_REQUEST, c};
        c->t_close = (struct rpc_tag){TAG_CLOSE, c};
        c->t_step = (struct rpc_tag){TAG_STEP, c};
        grpc_metadata_array_init(&c->md);
        grpc_call_details_init(&c->cd);
        if (grpc_server_request_call(s->server, &c->call, &c->cd, &c->md, s->cq, s->cq, &c->t_req) !=
            GRPC_CALL_OK) {
            grpc_call_details_destroy(&c->cd);
            grpc_metadata_array_destroy(&c->md);
            odx_free(c);
        }
        return;
    }
    rpc_call *c = odx_calloc(1, sizeof *c);
    if (!c) {
        odx_log(ODX_LOG_ERROR, "rpc: out of memory re-arming %s", s->methods[mi]->path);
        return;
    }
    c->srv = s;
    c->m = s->methods[mi];
    c->mi = mi;
    atomic_init(&c->refs, 1);
    c->t_req = (struct rpc_tag){TAG_REQUEST, c};
    c->t_close = (struct rpc_tag){TAG_CLOSE, c};
    c->t_step = (struct rpc_tag){TAG_STEP, c};
    grpc_metadata_array_init(&c->md);
    int with_payload = c->m->kind == RPC_UNARY || c->m->kind == RPC_WATCH;
    grpc_call_error e = grpc_server_request_registered_call(
        s->server, s->handles[mi], &c->call, &c->deadline, &c->md,
        with_payload ? &c->payload : NULL, s->cq, s->cq, &c->t_req);
    if (e != GRPC_CALL_OK) {
        odx_log(ODX_LOG_ERROR, "rpc: request_registered_call(%s) failed (%d)", c->m->path, (int)e);
        grpc_metadata_array_destroy(&c->md);
        odx_free(c);
    }
}

/* Reads a protobuf message out of a byte buffer; a gRPC status on failure. */
static grpc_status_code read_message(rpc_call *c, grpc_byte_buffer *bb, ProtobufCMessage **out)
{
    const ProtobufCMessageDescriptor *d = c->m->req_desc;
    grpc_byte_buffer_reader r;
    if (!bb) return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s: no request message", d->name);
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s: cannot read the request (bad compression?)", d->name);
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    const uint8_t *p = GRPC_SLICE_START_PTR(sl);
    size_t len = GRPC_SLICE_LENGTH(sl);
    grpc_status_code st = GRPC_STATUS_OK;
    int wrc = rpc_wire_depth_ok(d, p, len, RPC_MAX_WIRE_DEPTH);
    if (wrc == ODX_ELIMIT) {
        st = rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s: messages nested deeper than %d levels",
                      d->name, RPC_MAX_WIRE_DEPTH);
    } else if (wrc != 0) {
        st = rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s: %s", d->name, odx_last_error());
    } else {
        *out = protobuf_c_message_unpack(d, &rpc_allocator, len, p);
        if (!*out)
            st = rpc_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                          "%s: malformed request message (%zu bytes)", d->name, len);
    }
    grpc_slice_unref(sl);
    return st;
}

/* Appends to ops the initial metadata if not sent yet (always when
 * finishing: a status needs it first) and the reply message, if any. */
static void add_reply_ops(rpc_call *c, grpc_op *ops, size_t *n, const ProtobufCMessage *reply, int finishing)
{
    if (!c->sent_md && (reply || finishing)) {
        ops[(*n)++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    if (reply) {
        if (c->send_buf) grpc_byte_buffer_destroy(c->send_buf);
        c->send_buf = rpc_wire_pack(reply);
        ops[*n].op = GRPC_OP_SEND_MESSAGE;
        ops[*n].data.send_message.send_message = c->send_buf;
        (*n)++;
    }
}

/* The last batch of a call: metadata if not sent, the reply on success,
 * the status. */
static void finish(rpc_call *c, grpc_status_code code, ProtobufCMessage *resp)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    add_reply_ops(c, ops, &n, code == GRPC_STATUS_OK ? resp : NULL, 1);
    rpc_call_base_reset(&c->base);
    if (code != GRPC_STATUS_OK && !c->base.msg[0])
        snprintf(c->base.msg, sizeof c->base.msg, "%s", rpc_status_name(code));
    if (code == GRPC_STATUS_OK) c->base.msg[0] = '\0';
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    if (c->base.msg[0]) {
        if (c->has_details) grpc_slice_unref(c->details);
        c->details = grpc_slice_from_copied_string(c->base.msg);
        c->has_details = 1;
        ops[n].data.send_status_from_server.status_details = &c->details;
    }
    n++;
    if (c->m->kind == RPC_UNARY || c->m->kind == RPC_UNKNOWN) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n].data.recv_close_on_server.cancelled = &c->close_cancelled;
        n++;
    }
    c->finishing = 1;
    atomic_fetch_add(&c->srv->calls_total, 1);
    if (code != GRPC_STATUS_OK) atomic_fetch_add(&c->srv->calls_failed, 1);
    if (code != GRPC_STATUS_OK && code != GRPC_STATUS_NOT_FOUND)
        odx_log(ODX_LOG_DEBUG, "rpc: %s -> %s: %s", c->m->path, rpc_status_name(code), c->base.msg);
    start_batch(c, ops, n, &c->t_step);
}

static void post_recv(rpc_call *c, ProtobufCMessage *reply)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    add_reply_ops(c, ops, &n, reply, 0);
    rpc_call_base_reset(&c->base);
    if (c->payload) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &c->payload;
    n++;
    start_batch(c, ops, n, &c->t_step);
}

/* ---- bearer token ------------------------------------------------------- */

static int authorized(rpc_call *c)
{
    rpc_server *s = c->srv;
    if (!s->auth_value || c->m->public_) return 1;
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, "authorization") != 0) continue;
        const unsigned char *v = GRPC_SLICE_START_PTR(c->md.metadata[i].value);
        size_t vlen = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
        /* Constant time in the token's bytes: every byte is compared. */
        unsigned diff = vlen != s->auth_len;
        for (size_t k = 0; k < s->auth_len; k++)
            diff |= (unsigned)((unsigned char)s->auth_value[k] ^ (k < vlen ? v[k] : 0));
        return diff == 0;
    }
    return 0;
}

static int has_authorization(rpc_call *c)
{
    for (size_t i = 0; i < c->md.count; i++)
        if (grpc_slice_str_cmp(c->md.metadata[i].key, "authorization") == 0) return 1;
    return 0;
}

/* ---- health Watch pushes -------------------------------------------------- */

/* With s->mu held: sends the current status to one watcher. */
static void watch_send(rpc_call *c)
{
    ProtobufCMessage *resp = NULL;
    grpc_status_code st = c->m->unary(c, c->watch_req, &resp);
    if (st != GRPC_STATUS_OK || !resp) return;
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->sent_md) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_md = 1;
    }
    if (c->send_buf) grpc_byte_buffer_destroy(c->send_buf);
    c->send_buf = rpc_wire_pack(resp);
    rpc_call_base_reset(&c->base);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->send_buf;
    n++;
    c->w_sending = 1;
    c->w_dirty = 0;
    if (start_batch(c, ops, n, &c->t_step) != 0) c->w_sending = 0;
}

static void watch_unlink(rpc_server *s, rpc_call *c)
{
    if (!c->in_watch_list) return;
    if (c->wprev) c->wprev->wnext = c->wnext;
    else s->watchers = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    c->in_watch_list = 0;
}

/* ---- events ---------------------------------------------------------------- */

static void on_accept(rpc_call *c)
{
    rpc_server *s = c->srv;
    c->accepted = 1;
    atomic_fetch_add(&s->in_flight, 1);
    request_call(s, c->mi);

    /* Streams learn of a cancellation from their own close op, posted
     * now; a unary call carries it in its last batch instead (one cq event
     * fewer per call: its handler is short and checks the deadline). */
    if (c->m->kind == RPC_UNKNOWN) {
        /* the slice is not NUL-terminated: print exactly its length */
        int mlen = (int)(GRPC_SLICE_LENGTH(c->cd.method) > 200 ? 200 : GRPC_SLICE_LENGTH(c->cd.method));
        rpc_fail(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method '%.*s'", mlen,
                 (const char *)GRPC_SLICE_START_PTR(c->cd.method));
        finish(c, GRPC_STATUS_UNIMPLEMENTED, NULL);
        return;
    }
    if (c->m->kind != RPC_UNARY) {
        grpc_op close_op;
        memset(&close_op, 0, sizeof close_op);
        close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        close_op.data.recv_close_on_server.cancelled = &c->close_cancelled;
        start_batch(c, &close_op, 1, &c->t_close);
    }

    if (!authorized(c)) {
        rpc_fail(c, GRPC_STATUS_UNAUTHENTICATED, has_authorization(c)
                 ? "the bearer token is wrong" : "this server requires 'authorization: Bearer <token>' metadata");
        finish(c, GRPC_STATUS_UNAUTHENTICATED, NULL);
        return;
    }
    ProtobufCMessage *req = NULL, *resp = NULL;
    grpc_status_code st;
    switch (c->m->kind) {
    case RPC_UNARY:
        st = read_message(c, c->payload, &req);
        if (st == GRPC_STATUS_OK) {
            if (rpc_call_cancelled(c))
                st = rpc_fail(c, GRPC_STATUS_DEADLINE_EXCEEDED, "cancelled or past its deadline before it started");
            else
                st = c->m->unary(c, req, &resp);
        }
        finish(c, st, resp);
        if (req) protobuf_c_message_free_unpacked(req, &rpc_allocator);
        return;
    case RPC_CLIENT_STREAM:
    case RPC_BIDI:
        post_recv(c, NULL);
        return;
    case RPC_WATCH:
        st = read_message(c, c->payload, &req);
        if (st == GRPC_STATUS_OK) {
            c->watch_req = req;
            st = c->m->unary(c, req, &resp); /* validates; the reply is rebuilt below */
            rpc_call_base_reset(&c->base);
        }
        if (st != GRPC_STATUS_OK) {
            finish(c, st, NULL);
            return;
        }
        pthread_mutex_lock(&s->mu);
        atomic_fetch_add(&c->refs, 1); /* the list's reference */
        c->in_watch_list = 1;
        c->wnext = s->watchers;
        if (s->watchers) s->watchers->wprev = c;
        s->watchers = c;
        watch_send(c);
        pthread_mutex_unlock(&s->mu);
        return;
    case RPC_UNKNOWN: /* answered above */
        return;
    }
}

/* Some clients cancel a client stream by half-closing it and then sending
 * RST_STREAM (grpc-js does). The server first sees a graceful end, and the
 * close op reports the cancellation a moment later, on another worker. So
 * before committing at the end of a client stream, wait up to
 * RPC_CLOSE_GRACE_MS for that report; 1 if the call was cancelled. */
#define RPC_CLOSE_GRACE_MS 20
static int close_grace(rpc_call *c)
{
    rpc_server *s = c->srv;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += RPC_CLOSE_GRACE_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!rpc_call_cancelled(c))
        if (pthread_cond_timedwait(&s->close_cv, &s->mu, &until) != 0) break;
    pthread_mutex_unlock(&s->mu);
    return rpc_call_cancelled(c);
}

static void on_step(rpc_call *c, int ok)
{
    rpc_server *s = c->srv;
    if (c->finishing) return; /* the final batch is done */
    ProtobufCMessage *req = NULL, *resp = NULL;
    grpc_status_code st;
    switch (c->m->kind) {
    case RPC_UNARY:
    case RPC_UNKNOWN:
        return;
    case RPC_CLIENT_STREAM:
    case RPC_BIDI:
        if (!ok) return; /* cancelled or broken: the close tag ends it */
        /* A cancelled call (client RST_STREAM, deadline) also ends the
         * read side with no message and ok=1: tell it from a graceful
         * half-close, and commit nothing then. */
        if (!c->payload && (grpc_call_failed_before_recv_message(c->call) || rpc_call_cancelled(c))) {
            atomic_store(&c->cancelled, 1);
            return;
        }
        if (!c->payload && c->m->kind == RPC_CLIENT_STREAM && close_grace(c)) return;
        if (!c->payload) { /* half-close */
            st = GRPC_STATUS_OK;
            if (c->m->kind == RPC_CLIENT_STREAM) st = c->m->on_end(c, &resp);
            finish(c, st, resp);
            return;
        }
        st = read_message(c, c->payload, &req);
        if (st == GRPC_STATUS_OK) {
            if (rpc_call_cancelled(c))
                st = rpc_fail(c, GRPC_STATUS_CANCELLED, "cancelled");
            else
                st = c->m->on_message(c, req, &resp);
        }
        /* The reply may point into the request: send before freeing it. */
        if (st != GRPC_STATUS_OK) finish(c, st, NULL);
        else post_recv(c, c->m->kind == RPC_BIDI ? resp : NULL);
        if (req) protobuf_c_message_free_unpacked(req, &rpc_allocator);
        return;
    case RPC_WATCH:
        pthread_mutex_lock(&s->mu);
        c->w_sending = 0;
        if (!ok || !c->in_watch_list) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        if (c->w_dirty) {
            watch_send(c);
        } else if (atomic_load(&s->shutting)) {
            watch_unlink(s, c);
            rpc_fail(c, GRPC_STATUS_UNAVAILABLE, "server shutting down");
            finish(c, GRPC_STATUS_UNAVAILABLE, NULL);
            pthread_mutex_unlock(&s->mu);
            call_release(c); /* the list's reference */
            return;
        }
        pthread_mutex_unlock(&s->mu);
        return;
    }
}

static void on_close(rpc_call *c)
{
    rpc_server *s = c->srv;
    if (c->close_cancelled) {
        pthread_mutex_lock(&s->mu);
        atomic_store(&c->cancelled, 1);
        pthread_cond_broadcast(&s->close_cv);
        pthread_mutex_unlock(&s->mu);
    }
    if (c->m->kind == RPC_WATCH) {
        pthread_mutex_lock(&s->mu);
        int listed = c->in_watch_list;
        watch_unlink(s, c);
        pthread_mutex_unlock(&s->mu);
        if (listed) call_release(c);
    }
}

static void *worker_main(void *arg)
{
    rpc_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        struct rpc_tag *t = ev.tag;
        if (t->kind == TAG_SHUTDOWN) {
            pthread_mutex_lock(&s->mu);
            s->shutdown_done = 1;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        rpc_call *c = t->call;
        switch (t->kind) {
        case TAG_REQUEST:
            if (ev.success) on_accept(c); /* else: server shutting down */
            break;
        case TAG_STEP:
            on_step(c, ev.success);
            break;
        case TAG_CLOSE:
            on_close(c);
            break;
        default:
            break;
        }
        call_release(c);
    }
    return NULL;
}

/* ---- start / stop --------------------------------------------------------- */

static int add_methods(rpc_server *s, const rpc_method *tab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const rpc_method *m = &tab[i];
        grpc_server_register_method_payload_handling ph =
            (m->kind == RPC_UNARY || m->kind == RPC_WATCH) ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER
                                                            : GRPC_SRM_PAYLOAD_NONE;
        void *h = grpc_server_register_method(s->server, m->path, NULL, ph, 0);
        if (!h) return odx_error(ODX_EINTERNAL, "cannot register gRPC method %s", m->path);
        s->methods[s->nmethods] = m;
        s->handles[s->nmethods] = h;
        s->nmethods++;
    }
    return 0;
}

static void server_free(rpc_server *s)
{
    if (s->server) grpc_server_destroy(s->server);
    if (s->cq) {
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(s->cq);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->close_cv);
    odx_free(s->auth_value);
    odx_free(s->methods);
    odx_free(s->handles);
    odx_free(s->threads);
    odx_free(s);
    grpc_shutdown();
}

int odx_rpc_server_start(odx_db *db, const odx_rpc_options *o, odx_rpc_server **out)
{
    odx_rpc_options def;
    if (!o) {
        odx_rpc_options_init(&def);
        o = &def;
    }
    if (!db) return odx_error(ODX_EINVAL, "no database to serve");
    if (o->workers < 1 || o->workers > 256) return odx_error(ODX_EINVAL, "workers must be 1..256, not %d", o->workers);
    if (o->calls_per_method < 1 || o->calls_per_method > 1024)
        return odx_error(ODX_EINVAL, "calls per method must be 1..1024");
    if (o->max_message_bytes < 1024 || o->max_message_bytes > ((size_t)1 << 30))
        return odx_error(ODX_EINVAL, "max message size must be 1 KiB..1 GiB");
    char host[256], addr[300];
    int port;
    if (!o->listen || !o->listen[0]) return odx_error(ODX_EINVAL, "no listen address");
    int prc = odx_rpc_listen_parse(o->listen, host, sizeof host, &port);
    if (prc) return prc;
    snprintf(addr, sizeof addr, "%s:%d", host, port);
    if ((o->tls_cert_pem == NULL) != (o->tls_key_pem == NULL))
        return odx_error(ODX_EINVAL, "TLS needs both a certificate and a key");
    if (o->tls_client_ca_pem && !o->tls_cert_pem)
        return odx_error(ODX_EINVAL, "a client CA needs --tls-cert and --tls-key");

    grpc_init();
    rpc_server *s = odx_calloc(1, sizeof *s);
    if (!s) {
        grpc_shutdown();
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->close_cv, NULL);
    s->db = db;
    s->opt = *o;
    s->opt.token = s->opt.tls_cert_pem = s->opt.tls_key_pem = s->opt.tls_client_ca_pem = NULL;
    s->started = odx_now_mono();
    s->t_shutdown.kind = TAG_SHUTDOWN;
    int rc = 0;
    if (o->token) {
        size_t tl = strlen(o->token);
        if (tl == 0 || tl > 4096) {
            rc = odx_error(ODX_EINVAL, "the token must be 1..4096 bytes");
            goto fail;
        }
        s->auth_len = tl + 7;
        s->auth_value = odx_malloc(s->auth_len + 1);
        if (!s->auth_value) {
            rc = odx_error(ODX_ENOMEM, "out of memory");
            goto fail;
        }
        snprintf(s->auth_value, s->auth_len + 1, "Bearer %s", o->token);
    }

    grpc_arg args[3];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)o->max_message_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)o->max_message_bytes;
    /* gRPC core sets SO_REUSEPORT by default: a second server on a busy
     * port would bind too and the kernel would split clients between two
     * data directories. One address, one server. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[2].value.integer = 0;
    grpc_channel_args chargs = {3, args};
    s->server = grpc_server_create(&chargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);

    size_t total = rpc_omnidex_method_count + rpc_health_method_count + rpc_reflection_method_count;
    s->methods = odx_calloc(total, sizeof *s->methods);
    s->handles = odx_calloc(total, sizeof *s->handles);
    if (!s->methods || !s->handles) {
        rc = odx_error(ODX_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = add_methods(s, rpc_omnidex_methods, rpc_omnidex_method_count)) != 0 ||
        (rc = add_methods(s, rpc_health_methods, rpc_health_method_count)) != 0 ||
        (rc = add_methods(s, rpc_reflection_methods, rpc_reflection_method_count)) != 0)
        goto fail;

    grpc_server_credentials *creds;
    if (o->tls_cert_pem) {
        grpc_ssl_pem_key_cert_pair pair = {o->tls_key_pem, o->tls_cert_pem};
        creds = grpc_ssl_server_credentials_create_ex(
            o->tls_client_ca_pem, &pair, 1,
            o->tls_client_ca_pem ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                 : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    if (!creds) {
        rc = odx_error(ODX_EINVAL, "cannot create TLS credentials (bad certificate or key?)");
        goto fail;
    }
    s->port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (s->port <= 0) {
        rc = odx_rpc_listen_explain(host, port);
        goto fail;
    }
    grpc_server_start(s->server);

    s->threads = odx_calloc((size_t)o->workers, sizeof *s->threads);
    if (!s->threads) {
        rc = odx_error(ODX_ENOMEM, "out of memory");
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_server_destroy(s->server);
        grpc_completion_queue_destroy(s->cq);
        s->server = NULL;
        s->cq = NULL;
        goto fail;
    }
    for (int i = 0; i < o->workers; i++) {
        if (pthread_create(&s->threads[i], NULL, worker_main, s) != 0) break;
        s->nthreads++;
    }
    for (size_t mi = 0; mi < s->nmethods; mi++)
        for (int k = 0; k < o->calls_per_method; k++) request_call(s, mi);
    for (int k = 0; k < 2; k++) request_call(s, UNKNOWN_MI);
    *out = s;
    return 0;
fail:
    server_free(s);
    return rc;
}

int odx_rpc_server_port(const odx_rpc_server *s) { return s ? s->port : 0; }

void odx_rpc_server_stop(odx_rpc_server *s)
{
    if (!s) return;
    atomic_store(&s->shutting, 1);
    /* Health turns NOT_SERVING: push it to every Watch stream, which then
     * ends with UNAVAILABLE once the push is written. */
    pthread_mutex_lock(&s->mu);
    for (rpc_call *c = s->watchers; c; c = c->wnext) {
        if (c->w_sending) c->w_dirty = 1;
        else watch_send(c);
    }
    pthread_mutex_unlock(&s->mu);

    grpc_server_shutdown_and_notify(s->server, s->cq, &s->t_shutdown);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double d = s->opt.drain_seconds > 0 ? s->opt.drain_seconds : 0;
    until.tv_sec += (time_t)d;
    until.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0 && !s->shutdown_done) {
            odx_log(ODX_LOG_WARN, "rpc: %u call(s) still running after %.1f s: cancelling them",
                    atomic_load(&s->in_flight), d);
            pthread_mutex_unlock(&s->mu);
            grpc_server_cancel_all_calls(s->server);
            pthread_mutex_lock(&s->mu);
            while (!s->shutdown_done) pthread_cond_wait(&s->cv, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    grpc_completion_queue_shutdown(s->cq);
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
    grpc_server_destroy(s->server);
    s->server = NULL;
    grpc_completion_queue_destroy(s->cq);
    s->cq = NULL;
    server_free(s);
}
