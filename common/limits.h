/* Every internal limit of omnidex in one place (SQLite's sqliteLimit.h).
 *
 * The limits a client needs to know (dimension, k, efSearch, nprobe, query
 * parts, name and id lengths) are public and live in include/omnidex.h;
 * this header includes it so that one include gives them all. The engine
 * (query/, storage/, common/) checks each limit once and returns ODX_EINVAL
 * or ODX_ELIMIT with a message naming it; adapters (rpc/, cli/) only map that
 * status, and check a limit themselves only where a wire or command-line
 * value must be narrowed to the engine's int first (a uint32 k of 3e9 would
 * wrap), and then against the same constant.
 *
 * Sizes read from files and the network are capped by these before use. */
#ifndef ODX_COMMON_LIMITS_H
#define ODX_COMMON_LIMITS_H

#include "omnidex.h"

/* A limit as a string literal, for messages built without printf (the
 * limits it is used on are plain numbers). */
#define ODX_STR_(x) #x
#define ODX_STR(x) ODX_STR_(x)

/* ---- data directory and records (storage/, query/) ---------------------- */
#define ODX_MAX_COLLECTIONS 1000         /* collections per data directory */
#define ODX_MAX_SOURCE_LEN 4096          /* bytes of an item's source URI/path */
#define ODX_MAX_SPEC_LEN 127             /* bytes of an index spec or a space name */
#define ODX_MAX_PAYLOAD (256u << 20)     /* bytes of one text/media payload */
#define ODX_MAX_QUERIES 100000           /* query vectors in one odx_search */

/* ---- metadata and filters (common/) -------------------------------------- */
#define ODX_META_MAX_KEY 64              /* bytes of a metadata key */
#define ODX_META_MAX_STRING 400          /* bytes of a string value (indexed) */
#define ODX_META_MAX_FIELDS 256          /* key/values on one item */
#define ODX_FILTER_MAX_LEN 65536         /* bytes of a filter expression */
#define ODX_FILTER_MAX_DEPTH 64          /* nesting of and/or/not */
#define ODX_FILTER_MAX_NODES 4096        /* nodes of one filter */
#define ODX_FILTER_MAX_SET 4096          /* values of one `in` list */

/* ---- one gRPC message (rpc/): bounds on what protobuf-c has unpacked ------ */
#define ODX_RPC_MAX_ITEMS 100000         /* items in one Upsert message */
#define ODX_RPC_MAX_IDS 100000           /* ids in one Delete */
#define ODX_RPC_MAX_BATCH 10000          /* query vectors of one batch Search */

#endif
