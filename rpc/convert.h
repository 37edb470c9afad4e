/* Conversions between omnidex.v1 messages and the odx_* API. Every failure
 * returns an odx status with odx_error's message set, so handlers map it
 * with rpc_fail_odx. Output messages are built in call memory (rpc_alloc). */
#ifndef ODX_RPC_CONVERT_H
#define ODX_RPC_CONVERT_H

#include "omnidex/v1/omnidex.pb-c.h"
#include "rpc/internal.h"

/* proto Modality -> odx_modality; ODX_EINVAL for UNSPECIFIED/unknown. */
int rpc_modality_from_proto(Omnidex__V1__Modality m, odx_modality *out);
Omnidex__V1__Modality rpc_modality_to_proto(odx_modality m);
int rpc_metric_from_proto(Omnidex__V1__Metric m, odx_metric *out);
Omnidex__V1__Metric rpc_metric_to_proto(odx_metric m);

/* map<string, Value> entries -> a new odx_meta (caller frees). */
int rpc_meta_from_proto(Omnidex__V1__Item__MetadataEntry **e, size_t n, odx_meta **out);
/* odx_meta -> entries in call memory; desc is the entry type's descriptor
 * (Item.MetadataEntry or Hit.MetadataEntry: same layout). */
int rpc_meta_to_proto(rpc_call *c, const odx_meta *m, const ProtobufCMessageDescriptor *desc,
                      Omnidex__V1__Item__MetadataEntry ***out, size_t *n);

/* A structured filter -> a new odx_filter (caller frees). */
int rpc_filter_from_proto(const Omnidex__V1__Filter *f, odx_filter **out);

/* odx_collection_info -> CollectionInfo in call memory; strings point into
 * info, which must live until the reply is packed (rpc_defer its free). */
Omnidex__V1__CollectionInfo *rpc_info_to_proto(rpc_call *c, const odx_collection_info *info);
/* CollectionInfo -> a new odx_collection_info (caller frees). */
int rpc_info_from_proto(const Omnidex__V1__CollectionInfo *ci, odx_collection_info **out);

#endif
