/* Server reflection (grpc.reflection.v1 and v1alpha, identical on the wire):
 * serves the FileDescriptorProtos of omnidex.proto, health.proto and the
 * reflection protos from a descriptor set that protoc wrote at build time
 * (build/gen/rpc_descriptor_set.c). Symbols are found by reading each
 * file's package and top-level message, enum and service names straight
 * from the wire bytes; a nested name or a method matches its top-level
 * parent's file. */
#include "rpc/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

extern const unsigned char odx_rpc_descriptor_set[];
extern const size_t odx_rpc_descriptor_set_len;

#define MAX_FILES 16
#define MAX_SYMBOLS 256
#define MAX_DEPS 16

struct desc_file {
    const uint8_t *bytes;
    size_t len;
    char name[256];
    char package[128];
    char deps[MAX_DEPS][256];
    int ndeps;
};

static struct desc_file files[MAX_FILES];
static int nfiles;
static struct {
    char name[256];
    int file;
} symbols[MAX_SYMBOLS];
static int nsymbols;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Calls fn for each length-delimited field of a message; -1 if malformed. */
static int each_bytes_field(const uint8_t *p, size_t len,
                            void (*fn)(void *ctx, unsigned num, const uint8_t *v, size_t vlen), void *ctx)
{
    size_t pos = 0;
    while (pos < len) {
        uint64_t key, v;
        if (rpc_wire_varint(p, len, &pos, &key)) return -1;
        switch (key & 7) {
        case 0:
            if (rpc_wire_varint(p, len, &pos, &v)) return -1;
            break;
        case 1:
            if (len - pos < 8) return -1;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) return -1;
            pos += 4;
            break;
        case 2:
            if (rpc_wire_varint(p, len, &pos, &v) || v > len - pos) return -1;
            fn(ctx, (unsigned)(key >> 3), p + pos, (size_t)v);
            pos += (size_t)v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static void copy_str(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

struct name_ctx {
    char name[200];
};

static void get_name(void *ctx, unsigned num, const uint8_t *v, size_t n)
{
    struct name_ctx *nc = ctx;
    if (num == 1) copy_str(nc->name, sizeof nc->name, v, n);
}

static void file_field(void *ctx, unsigned num, const uint8_t *v, size_t n)
{
    struct desc_file *f = ctx;
    if (num == 1) copy_str(f->name, sizeof f->name, v, n);
    else if (num == 2) copy_str(f->package, sizeof f->package, v, n);
    else if (num == 3 && f->ndeps < MAX_DEPS) copy_str(f->deps[f->ndeps++], sizeof f->deps[0], v, n);
}

/* Second pass, once the package is known: top-level symbols. */
static void file_symbols(void *ctx, unsigned num, const uint8_t *v, size_t n)
{
    int fi = (int)((struct desc_file *)ctx - files);
    if (num != 4 && num != 5 && num != 6) return; /* message, enum, service */
    struct name_ctx nc = {{0}};
    each_bytes_field(v, n, get_name, &nc);
    if (!nc.name[0] || nsymbols >= MAX_SYMBOLS) return;
    const char *pkg = files[fi].package;
    snprintf(symbols[nsymbols].name, sizeof symbols[0].name, "%s%s%s", pkg, pkg[0] ? "." : "", nc.name);
    symbols[nsymbols].file = fi;
    nsymbols++;
}

static void set_file(void *ctx, unsigned num, const uint8_t *v, size_t n)
{
    (void)ctx;
    if (num != 1 || nfiles >= MAX_FILES) return;
    struct desc_file *f = &files[nfiles++];
    memset(f, 0, sizeof *f);
    f->bytes = v;
    f->len = n;
    each_bytes_field(v, n, file_field, f);
    each_bytes_field(v, n, file_symbols, f);
}

static void load_descriptors(void)
{
    if (each_bytes_field(odx_rpc_descriptor_set, odx_rpc_descriptor_set_len, set_file, NULL) != 0)
        odx_log(ODX_LOG_ERROR, "rpc: the embedded descriptor set is malformed");
}

static int find_file(const char *name)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i].name, name) == 0) return i;
    return -1;
}

static int find_symbol(const char *sym)
{
    for (int i = 0; i < nsymbols; i++) {
        size_t n = strlen(symbols[i].name);
        if (strncmp(sym, symbols[i].name, n) == 0 && (sym[n] == '\0' || sym[n] == '.'))
            return symbols[i].file;
    }
    return -1;
}

/* The file and, transitively, the files it imports (each once). */
static void collect(int fi, int *seen, int *order, int *n)
{
    if (seen[fi]) return;
    seen[fi] = 1;
    order[(*n)++] = fi;
    for (int d = 0; d < files[fi].ndeps; d++) {
        int di = find_file(files[fi].deps[d]);
        if (di >= 0) collect(di, seen, order, n);
    }
}

static grpc_status_code reply_error(rpc_call *c, Grpc__Reflection__V1__ServerReflectionResponse *r,
                                    grpc_status_code code, const char *msg)
{
    Grpc__Reflection__V1__ErrorResponse *e = rpc_alloc(c, sizeof *e);
    if (!e) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    grpc__reflection__v1__error_response__init(e);
    e->error_code = (int32_t)code;
    e->error_message = rpc_strndup(c, msg, strlen(msg));
    if (!e->error_message) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    r->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    r->error_response = e;
    return GRPC_STATUS_OK;
}

static grpc_status_code reply_files(rpc_call *c, Grpc__Reflection__V1__ServerReflectionResponse *r, int fi)
{
    int seen[MAX_FILES] = {0}, order[MAX_FILES], n = 0;
    collect(fi, seen, order, &n);
    Grpc__Reflection__V1__FileDescriptorResponse *fr = rpc_alloc(c, sizeof *fr);
    ProtobufCBinaryData *bd = rpc_alloc(c, sizeof *bd * (size_t)n);
    if (!fr || !bd) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    grpc__reflection__v1__file_descriptor_response__init(fr);
    for (int i = 0; i < n; i++) {
        bd[i].data = (uint8_t *)files[order[i]].bytes;
        bd[i].len = files[order[i]].len;
    }
    fr->n_file_descriptor_proto = (size_t)n;
    fr->file_descriptor_proto = bd;
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    r->file_descriptor_response = fr;
    return GRPC_STATUS_OK;
}

static grpc_status_code reflection_message(rpc_call *c, const ProtobufCMessage *reqm, ProtobufCMessage **resp)
{
    pthread_once(&once, load_descriptors);
    const Grpc__Reflection__V1__ServerReflectionRequest *req = (const void *)reqm;
    Grpc__Reflection__V1__ServerReflectionResponse *r = rpc_alloc(c, sizeof *r);
    if (!r) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    grpc__reflection__v1__server_reflection_response__init(r);
    r->valid_host = req->host;
    r->original_request = (Grpc__Reflection__V1__ServerReflectionRequest *)req;
    *resp = &r->base;
    char msg[400];
    int fi;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES: {
        Grpc__Reflection__V1__ListServiceResponse *ls = rpc_alloc(c, sizeof *ls);
        Grpc__Reflection__V1__ServiceResponse **sv = rpc_alloc(c, sizeof *sv * rpc_service_count);
        Grpc__Reflection__V1__ServiceResponse *svs = rpc_alloc(c, sizeof *svs * rpc_service_count);
        if (!ls || !sv || !svs) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        grpc__reflection__v1__list_service_response__init(ls);
        for (size_t i = 0; i < rpc_service_count; i++) {
            grpc__reflection__v1__service_response__init(&svs[i]);
            svs[i].name = (char *)rpc_service_names[i];
            sv[i] = &svs[i];
        }
        ls->n_service = rpc_service_count;
        ls->service = sv;
        r->message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        r->list_services_response = ls;
        return GRPC_STATUS_OK;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        fi = find_file(req->file_by_filename);
        if (fi < 0) {
            snprintf(msg, sizeof msg, "no file '%.300s'", req->file_by_filename);
            return reply_error(c, r, GRPC_STATUS_NOT_FOUND, msg);
        }
        return reply_files(c, r, fi);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        fi = find_symbol(req->file_containing_symbol);
        if (fi < 0) {
            snprintf(msg, sizeof msg, "no symbol '%.300s'", req->file_containing_symbol);
            return reply_error(c, r, GRPC_STATUS_NOT_FOUND, msg);
        }
        return reply_files(c, r, fi);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE: {
        if (find_symbol(req->all_extension_numbers_of_type) < 0) {
            snprintf(msg, sizeof msg, "no type '%.300s'", req->all_extension_numbers_of_type);
            return reply_error(c, r, GRPC_STATUS_NOT_FOUND, msg);
        }
        Grpc__Reflection__V1__ExtensionNumberResponse *en = rpc_alloc(c, sizeof *en);
        if (!en) return rpc_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        grpc__reflection__v1__extension_number_response__init(en);
        en->base_type_name = req->all_extension_numbers_of_type;
        r->message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
        r->all_extension_numbers_response = en;
        return GRPC_STATUS_OK;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        return reply_error(c, r, GRPC_STATUS_NOT_FOUND, "omnidex's protos declare no extensions");
    default:
        return reply_error(c, r, GRPC_STATUS_INVALID_ARGUMENT, "empty reflection request");
    }
}

const rpc_method rpc_reflection_methods[] = {
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", RPC_BIDI, 0,
     &grpc__reflection__v1__server_reflection_request__descriptor, NULL, reflection_message, NULL, NULL},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", RPC_BIDI, 0,
     &grpc__reflection__v1__server_reflection_request__descriptor, NULL, reflection_message, NULL, NULL},
};
const size_t rpc_reflection_method_count =
    sizeof rpc_reflection_methods / sizeof rpc_reflection_methods[0];
