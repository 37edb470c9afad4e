/* Fuzz target: request decoding and validation of the gRPC server, without
 * a network. The first byte picks an omnidex.v1 method; the rest is the
 * request message as it arrives on the wire. It goes through the server's
 * own steps (the nesting-depth guard, protobuf-c unpacking with the
 * server's allocator) and then the real handler (rpc/handlers.c,
 * rpc/convert.c) against a real database in a temporary directory, in a
 * fake call context (rpc_fake_call.c). Client streams receive the message
 * twice, then the half-close. Invariants: a handler never answers INTERNAL
 * (reserved for bugs), every failure has a message, every OK reply packs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/rpc_fake_call.h"

static odx_db *db;
static char dir[256];

static void ensure_collections(void)
{
    odx_collection_info *info = NULL;
    if (odx_collection_describe(db, "c", &info) == 0) {
        odx_collection_info_free(info);
    } else {
        odx_collection_create(db, "c", 4, ODX_METRIC_COSINE, "Flat", NULL);
        odx_batch *b = NULL;
        odx_meta *m = NULL;
        if (odx_batch_new(&b) == 0 && odx_meta_new(&m) == 0) {
            for (int i = 0; i < 8; i++) {
                float v[4] = {1.0f + i, 0.5f, (float)(i % 3), 1.0f};
                char id[16];
                snprintf(id, sizeof id, "%d", i);
                odx_meta_set_int(m, "n", i);
                odx_meta_set_string(m, "label", i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
                odx_batch_add(b, id, v, 4, m, ODX_MODALITY_VECTOR, NULL);
            }
            odx_upsert(db, "c", b);
        }
        odx_meta_free(m);
        odx_batch_free(b);
    }
    if (odx_collection_describe(db, "h", &info) == 0) odx_collection_info_free(info);
    else odx_collection_create(db, "h", 4, ODX_METRIC_L2, "HNSW8,Flat", NULL);
    /* Bound what the fuzzer can create. */
    char **names = NULL;
    size_t n = 0;
    if (odx_collection_list(db, &names, &n) == 0) {
        for (size_t i = 0; n > 16 && i < n; i++)
            if (strcmp(names[i], "c") && strcmp(names[i], "h")) odx_collection_drop(db, names[i]);
        odx_free(names);
    }
}

static void cleanup(void)
{
    odx_db_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/odx-fuzz-rpc-%d", base, (int)getpid());
    char models[300];
    snprintf(models, sizeof models, "%s/models", dir);
    setenv("OMNIDEX_MODELS", models, 1);
    if (odx_db_open(dir, ODX_OPEN_CREATE, &db)) {
        fprintf(stderr, "fuzz_rpc: cannot open %s: %s\n", dir, odx_last_error());
        exit(2);
    }
    atexit(cleanup);
    ensure_collections();
    return 0;
}

static void check_reply(rpc_call *c, const char *method, grpc_status_code st, ProtobufCMessage *resp)
{
    FUZZ_ASSERT(st != GRPC_STATUS_INTERNAL, "%s answered INTERNAL: %s", method, c->base.msg);
    if (st != GRPC_STATUS_OK) {
        FUZZ_ASSERT(c->base.msg[0] != '\0', "%s failed with status %d and no message", method, st);
        return;
    }
    if (!resp) return; /* a stream message with no reply yet */
    size_t n = protobuf_c_message_get_packed_size(resp);
    uint8_t *buf = malloc(n ? n : 1);
    size_t w = protobuf_c_message_pack(resp, buf);
    FUZZ_ASSERT(w == n, "%s reply packs to %zu of %zu bytes", method, w, n);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const rpc_method *m = &rpc_omnidex_methods[data[0] % rpc_omnidex_method_count];
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    ensure_collections();
    if (rpc_wire_depth_ok(m->req_desc, p, len, RPC_MAX_WIRE_DEPTH) != 0) return 0;
    ProtobufCMessage *req = protobuf_c_message_unpack(m->req_desc, &rpc_allocator, len, p);
    if (!req) return 0;
    rpc_call c;
    fake_call_init(&c, db);
    ProtobufCMessage *resp = NULL;
    grpc_status_code st;
    if (m->kind == RPC_CLIENT_STREAM) {
        st = m->on_message(&c, req, &resp);
        check_reply(&c, m->path, st, resp);
        fake_call_reset(&c);
        if (st == GRPC_STATUS_OK) {
            resp = NULL;
            st = m->on_message(&c, req, &resp);
            check_reply(&c, m->path, st, resp);
            fake_call_reset(&c);
        }
        if (st == GRPC_STATUS_OK) {
            resp = NULL;
            st = m->on_end(&c, &resp);
            check_reply(&c, m->path, st, resp);
        }
        fake_call_reset(&c);
        if (m->on_free && c.state) m->on_free(c.state);
    } else {
        st = m->unary(&c, req, &resp);
        check_reply(&c, m->path, st, resp);
        fake_call_reset(&c);
    }
    protobuf_c_message_free_unpacked(req, &rpc_allocator);
    return 0;
}
