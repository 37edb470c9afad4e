/* Protobuf wire-level checks done before protobuf-c sees a message, and the
 * allocator that routes protobuf-c through odx_malloc. */
#include "rpc/internal.h"

#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"

static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return odx_malloc(size ? size : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    odx_free(p);
}

ProtobufCAllocator rpc_allocator = {pb_alloc, pb_free, NULL};

int rpc_wire_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int depth_walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth,
                      int max_depth)
{
    if (depth > max_depth) return ODX_ELIMIT;
    size_t pos = 0;
    while (pos < len) {
        uint64_t key, v;
        if (rpc_wire_varint(p, len, &pos, &key) != 0) return 0; /* malformed: protobuf-c rejects */
        unsigned wt = (unsigned)(key & 7);
        uint64_t num = key >> 3;
        switch (wt) {
        case 0:
            if (rpc_wire_varint(p, len, &pos, &v) != 0) return 0;
            break;
        case 1:
            if (len - pos < 8) return 0;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) return 0;
            pos += 4;
            break;
        case 2: {
            if (rpc_wire_varint(p, len, &pos, &v) != 0 || v > len - pos) return 0;
            const ProtobufCFieldDescriptor *f =
                num <= 0x1fffffff ? protobuf_c_message_descriptor_get_field(d, (unsigned)num) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = depth_walk(f->descriptor, p + pos, (size_t)v, depth + 1, max_depth);
                if (rc) return rc;
            } else if (f && f->type == PROTOBUF_C_TYPE_STRING) {
                /* protobuf-c hands strings over NUL-terminated and unchecked:
                 * a NUL inside would silently cut the text, invalid UTF-8
                 * would reach the engine. proto3 says strings are UTF-8. */
                if (memchr(p + pos, 0, (size_t)v))
                    return odx_error(ODX_EINVAL, "%s.%s holds a NUL byte", d->short_name, f->name);
                if (!odx_utf8_valid((const char *)p + pos, (size_t)v))
                    return odx_error(ODX_EINVAL, "%s.%s is not valid UTF-8", d->short_name, f->name);
            }
            pos += (size_t)v;
            break;
        }
        default:
            return 0; /* groups and bad wire types: protobuf-c decides */
        }
    }
    return 0;
}

int rpc_wire_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int max_depth)
{
    return depth_walk(d, p, len, 1, max_depth);
}

grpc_byte_buffer *rpc_wire_pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice sl = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl); /* the byte buffer holds its own reference */
    return bb;
}
