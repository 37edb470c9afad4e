/* Unit tests of rpc/: the wire-depth guard, the status mapping, and an
 * in-process server driven by the C client library (rpc/client.h):
 * admin, Upsert, UpsertStream, Get, Search with a structured filter,
 * Delete, errors mapped back to odx codes with the server's message,
 * health and bearer-token auth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omnidex.h"
#include "rpc/client.h"
#include "rpc/internal.h"
#include "omnidex_rpc.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/odx-rpc-unit-XXXXXX";

static void test_status_mapping(void)
{
    /* The table in the issue / docs/api.md. */
    static const struct { int odx; grpc_status_code g; } want[] = {
        {ODX_OK, GRPC_STATUS_OK},
        {ODX_EINVAL, GRPC_STATUS_INVALID_ARGUMENT}, {ODX_EDIM, GRPC_STATUS_INVALID_ARGUMENT},
        {ODX_EVECTOR, GRPC_STATUS_INVALID_ARGUMENT}, {ODX_EFILTER, GRPC_STATUS_INVALID_ARGUMENT},
        {ODX_EMEDIA, GRPC_STATUS_INVALID_ARGUMENT}, {ODX_ENOTFOUND, GRPC_STATUS_NOT_FOUND},
        {ODX_EEXIST, GRPC_STATUS_ALREADY_EXISTS}, {ODX_ELIMIT, GRPC_STATUS_RESOURCE_EXHAUSTED},
        {ODX_EFULL, GRPC_STATUS_RESOURCE_EXHAUSTED}, {ODX_EPRECOND, GRPC_STATUS_FAILED_PRECONDITION},
        {ODX_ECLOSING, GRPC_STATUS_UNAVAILABLE}, {ODX_EUNAVAILABLE, GRPC_STATUS_UNAVAILABLE},
        {ODX_EUNSUPPORTED, GRPC_STATUS_UNIMPLEMENTED},
        {ODX_ECORRUPT, GRPC_STATUS_INTERNAL}, {ODX_EINTERNAL, GRPC_STATUS_INTERNAL},
        {ODX_EINDEX, GRPC_STATUS_INTERNAL}, {ODX_EIO, GRPC_STATUS_INTERNAL},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(rpc_status_from_odx(want[i].odx) == want[i].g, "%s -> %d, want %d", odx_strerror(want[i].odx),
              (int)rpc_status_from_odx(want[i].odx), (int)want[i].g);
}

/* Builds a SearchRequest with a filter nested n negations deep. */
static size_t nested_filter(uint8_t *buf, size_t cap, int n)
{
    /* innermost Comparison {field:"x"} inside Filter.compare (field 1) */
    uint8_t inner[16] = {0x0a, 0x03, 0x0a, 0x01, 'x'};
    size_t len = 5;
    memcpy(buf + cap - len, inner, len);
    size_t start = cap - len;
    for (int i = 0; i < n; i++) { /* Filter.negate = field 5, wire type 2 */
        size_t l = len;
        uint8_t hdr[8];
        size_t h = 0;
        hdr[h++] = 0x2a;
        while (l >= 0x80) {
            hdr[h++] = (uint8_t)(l | 0x80);
            l >>= 7;
        }
        hdr[h++] = (uint8_t)l;
        start -= h;
        memcpy(buf + start, hdr, h);
        len += h;
    }
    /* SearchRequest.filter = field 4 */
    size_t l = len, h = 0;
    uint8_t hdr[8];
    hdr[h++] = 0x22;
    while (l >= 0x80) {
        hdr[h++] = (uint8_t)(l | 0x80);
        l >>= 7;
    }
    hdr[h++] = (uint8_t)l;
    start -= h;
    memcpy(buf + start, hdr, h);
    len += h;
    memmove(buf, buf + start, len);
    return len;
}

static void test_wire_depth(void)
{
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    REQUIRE(buf, "malloc");
    size_t n = nested_filter(buf, cap, 10);
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, buf, n, RPC_MAX_WIRE_DEPTH) == 0,
          "depth 12 refused");
    ProtobufCMessage *m = protobuf_c_message_unpack(&omnidex__v1__search_request__descriptor, NULL, n, buf);
    CHECK(m != NULL, "the 10-deep filter does not unpack");
    protobuf_c_message_free_unpacked(m, NULL);
    n = nested_filter(buf, cap, RPC_MAX_WIRE_DEPTH);
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, buf, n, RPC_MAX_WIRE_DEPTH) == ODX_ELIMIT,
          "depth %d accepted", RPC_MAX_WIRE_DEPTH + 2);
    n = nested_filter(buf, cap, 100000);
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, buf, n, RPC_MAX_WIRE_DEPTH) == ODX_ELIMIT,
          "depth 100000 accepted");
    /* bytes that claim more than they hold: left for protobuf-c to reject */
    uint8_t bad[] = {0x22, 0x7f, 0x2a};
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, bad, sizeof bad, 8) == 0, "truncated");
    /* string fields (SearchRequest.collection = 1): NUL and invalid UTF-8 refused */
    const uint8_t good[] = {0x0a, 0x04, 'p', 'h', 0xc3, 0xa9}, nul[] = {0x0a, 0x03, 'a', 0, 'b'},
                  ff[] = {0x0a, 0x02, 'a', 0xff};
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, good, sizeof good, 8) == 0, "UTF-8 refused");
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, nul, sizeof nul, 8) == ODX_EINVAL, "NUL");
    CHECK(strstr(odx_last_error(), "collection") != NULL, "message names the field: %s", odx_last_error());
    CHECK(rpc_wire_depth_ok(&omnidex__v1__search_request__descriptor, ff, sizeof ff, 8) == ODX_EINVAL, "0xff");
    free(buf);
}

static odx_db *db;
static odx_rpc_server *srv;
static char target[64];

static int client(odx_rpc_client **cl, const char *token)
{
    odx_rpc_client_options o;
    odx_rpc_client_options_init(&o);
    o.token = token;
    o.timeout_seconds = 20;
    return odx_rpc_client_open(target, &o, cl);
}

static void test_roundtrip(void)
{
    odx_rpc_client *cl;
    REQUIRE_OK(client(&cl, "tok"));
    int serving = 0;
    CHECK_OK(odx_rpc_health_check(cl, "", &serving));
    CHECK(serving, "not serving");

    Omnidex__V1__CreateCollectionRequest cr = OMNIDEX__V1__CREATE_COLLECTION_REQUEST__INIT;
    cr.name = "u";
    cr.dim = 2;
    cr.metric = OMNIDEX__V1__METRIC__METRIC_L2;
    Omnidex__V1__CreateCollectionResponse *crr = NULL;
    REQUIRE_OK(odx_rpc_create_collection(cl, &cr, &crr));
    CHECK(crr->collection && crr->collection->dim == 2, "descriptor");
    odx_rpc_free(&crr->base);
    CHECK(odx_rpc_create_collection(cl, &cr, &crr) == ODX_EEXIST, "duplicate not EEXIST");
    CHECK(strstr(odx_last_error(), "'u'") != NULL, "message '%s' does not name the collection", odx_last_error());
    CHECK(odx_rpc_client_last_status(cl) == GRPC_STATUS_ALREADY_EXISTS, "status %d", odx_rpc_client_last_status(cl));

    /* Upsert two items with metadata */
    float v[3][2] = {{0, 0}, {1, 0}, {5, 5}};
    const char *ids[3] = {"p0", "p1", "p2"};
    const char *colors[3] = {"red", "blue", "red"};
    Omnidex__V1__Item it[3], *itp[3];
    Omnidex__V1__Vector vec[3];
    Omnidex__V1__Value val[3];
    Omnidex__V1__Item__MetadataEntry me[3], *mep[3];
    for (int i = 0; i < 3; i++) {
        omnidex__v1__item__init(&it[i]);
        omnidex__v1__vector__init(&vec[i]);
        omnidex__v1__value__init(&val[i]);
        omnidex__v1__item__metadata_entry__init(&me[i]);
        vec[i].n_values = 2;
        vec[i].values = v[i];
        val[i].kind_case = OMNIDEX__V1__VALUE__KIND_STRING_VALUE;
        val[i].string_value = (char *)colors[i];
        me[i].key = "color";
        me[i].value = &val[i];
        mep[i] = &me[i];
        it[i].id = (char *)ids[i];
        it[i].payload_case = OMNIDEX__V1__ITEM__PAYLOAD_VECTOR;
        it[i].vector = &vec[i];
        it[i].n_metadata = 1;
        it[i].metadata = &mep[i];
        itp[i] = &it[i];
    }
    Omnidex__V1__UpsertRequest ur = OMNIDEX__V1__UPSERT_REQUEST__INIT;
    ur.collection = "u";
    ur.n_items = 2;
    ur.items = itp;
    Omnidex__V1__UpsertResponse *urr = NULL;
    REQUIRE_OK(odx_rpc_upsert(cl, &ur, &urr));
    CHECK(urr->upserted == 2, "upserted %llu", (unsigned long long)urr->upserted);
    odx_rpc_free(&urr->base);

    /* the third via UpsertStream */
    odx_rpc_stream *s;
    REQUIRE_OK(odx_rpc_upsert_stream_begin(cl, &s));
    Omnidex__V1__UpsertRequest sr = OMNIDEX__V1__UPSERT_REQUEST__INIT;
    sr.collection = "u";
    sr.n_items = 1;
    sr.items = &itp[2];
    CHECK_OK(odx_rpc_upsert_stream_send(s, &sr));
    REQUIRE_OK(odx_rpc_upsert_stream_finish(s, &urr));
    CHECK(urr->upserted == 1 && urr->messages == 1, "stream summary");
    odx_rpc_free(&urr->base);

    /* Search near p1 restricted to color = red: p0 then p2 */
    Omnidex__V1__Vector qv = OMNIDEX__V1__VECTOR__INIT;
    float q[2] = {0.9f, 0};
    qv.n_values = 2;
    qv.values = q;
    Omnidex__V1__QueryPart part = OMNIDEX__V1__QUERY_PART__INIT, *partp = &part;
    part.part_case = OMNIDEX__V1__QUERY_PART__PART_VECTOR;
    part.vector = &qv;
    Omnidex__V1__Value red = OMNIDEX__V1__VALUE__INIT;
    red.kind_case = OMNIDEX__V1__VALUE__KIND_STRING_VALUE;
    red.string_value = "red";
    Omnidex__V1__Comparison cmp = OMNIDEX__V1__COMPARISON__INIT;
    cmp.field = "color";
    cmp.op = OMNIDEX__V1__COMPARISON__OP__OP_EQ;
    cmp.value = &red;
    Omnidex__V1__Filter f = OMNIDEX__V1__FILTER__INIT;
    f.kind_case = OMNIDEX__V1__FILTER__KIND_COMPARE;
    f.compare = &cmp;
    Omnidex__V1__SearchRequest sq = OMNIDEX__V1__SEARCH_REQUEST__INIT;
    sq.collection = "u";
    sq.n_parts = 1;
    sq.parts = &partp;
    sq.k = 5;
    sq.filter = &f;
    Omnidex__V1__SearchResponse *sres = NULL;
    REQUIRE_OK(odx_rpc_search(cl, &sq, &sres));
    CHECK(sres->n_hits == 2 && !strcmp(sres->hits[0]->id, "p0") && !strcmp(sres->hits[1]->id, "p2"),
          "hits %zu %s", sres->n_hits, sres->n_hits ? sres->hits[0]->id : "-");
    odx_rpc_free(&sres->base);

    /* errors come back as odx codes with the server's message */
    qv.n_values = 1;
    CHECK(odx_rpc_search(cl, &sq, &sres) == ODX_EINVAL, "wrong dim not EINVAL");
    CHECK(odx_last_error()[0] != '\0', "no message");
    qv.n_values = 2;
    sq.collection = "nope";
    CHECK(odx_rpc_search(cl, &sq, &sres) == ODX_ENOTFOUND, "unknown collection not ENOTFOUND");
    Omnidex__V1__EmbedRequest er = OMNIDEX__V1__EMBED_REQUEST__INIT;
    Omnidex__V1__EmbedResponse *err = NULL;
    er.space = "omni-tiny";
    er.input_case = OMNIDEX__V1__EMBED_REQUEST__INPUT_TEXT;
    er.text = "hello";
    CHECK(odx_rpc_embed(cl, &er, &err) == ODX_EPRECOND, "embed not EPRECOND");

    /* Get and Delete */
    Omnidex__V1__GetRequest gr = OMNIDEX__V1__GET_REQUEST__INIT;
    gr.collection = "u";
    gr.id = "p2";
    Omnidex__V1__GetResponse *grr = NULL;
    REQUIRE_OK(odx_rpc_get(cl, &gr, &grr));
    CHECK(grr->item->vector && grr->item->vector->n_values == 2 && grr->item->vector->values[1] == 5.0f, "vector");
    odx_rpc_free(&grr->base);
    const char *del[] = {"p2", "zz"};
    Omnidex__V1__DeleteRequest dr = OMNIDEX__V1__DELETE_REQUEST__INIT;
    dr.collection = "u";
    dr.n_ids = 2;
    dr.ids = (char **)del;
    Omnidex__V1__DeleteResponse *drr = NULL;
    REQUIRE_OK(odx_rpc_delete(cl, &dr, &drr));
    CHECK(drr->deleted == 1, "deleted %llu", (unsigned long long)drr->deleted);
    odx_rpc_free(&drr->base);
    CHECK(odx_rpc_get(cl, &gr, &grr) == ODX_ENOTFOUND, "deleted item still there");
    odx_rpc_client_close(cl);

    /* auth */
    REQUIRE_OK(client(&cl, "wrong"));
    Omnidex__V1__ListCollectionsRequest lr = OMNIDEX__V1__LIST_COLLECTIONS_REQUEST__INIT;
    Omnidex__V1__ListCollectionsResponse *lrr = NULL;
    CHECK(odx_rpc_list_collections(cl, &lr, &lrr) != 0 &&
          odx_rpc_client_last_status(cl) == GRPC_STATUS_UNAUTHENTICATED, "wrong token served");
    CHECK_OK(odx_rpc_health_check(cl, "", &serving));
    odx_rpc_client_close(cl);
}

int main(void)
{
    RUN(test_status_mapping);
    RUN(test_wire_depth);
    if (!mkdtemp(tmpdir)) return 1;
    /* no spaces installed: Embed must answer FAILED_PRECONDITION */
    char models[96];
    snprintf(models, sizeof models, "%s/models", tmpdir);
    setenv("OMNIDEX_MODELS", models, 1);
    if (odx_db_open(tmpdir, ODX_OPEN_CREATE, &db) != 0) {
        printf("not ok - open %s: %s\n", tmpdir, odx_last_error());
        return 1;
    }
    odx_rpc_options o;
    odx_rpc_options_init(&o);
    o.listen = "127.0.0.1:0";
    o.token = "tok";
    o.workers = 2;
    if (odx_rpc_server_start(db, &o, &srv) != 0) {
        printf("not ok - server start: %s\n", odx_last_error());
        return 1;
    }
    snprintf(target, sizeof target, "127.0.0.1:%d", odx_rpc_server_port(srv));
    RUN(test_roundtrip);
    odx_rpc_server_stop(srv);
    odx_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    TEST_EXIT();
}
