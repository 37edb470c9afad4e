/* omnidex.v1 messages <-> odx_* objects. */
#include "rpc/convert.h"

#include <string.h>

#include "common/error.h"
#include "common/limits.h"
#include "omnidex_backend.h"

int rpc_modality_from_proto(Omnidex__V1__Modality m, odx_modality *out)
{
    if (m < OMNIDEX__V1__MODALITY__MODALITY_VECTOR || m > OMNIDEX__V1__MODALITY__MODALITY_MESH)
        return odx_error(ODX_EINVAL, "modality %d is not one of VECTOR, TEXT, IMAGE, AUDIO, VIDEO, MESH", (int)m);
    *out = (odx_modality)(m - 1);
    return 0;
}

Omnidex__V1__Modality rpc_modality_to_proto(odx_modality m)
{
    return (Omnidex__V1__Modality)((int)m + 1);
}

int rpc_metric_from_proto(Omnidex__V1__Metric m, odx_metric *out)
{
    switch (m) {
    case OMNIDEX__V1__METRIC__METRIC_UNSPECIFIED:
    case OMNIDEX__V1__METRIC__METRIC_COSINE: *out = ODX_METRIC_COSINE; return 0;
    case OMNIDEX__V1__METRIC__METRIC_IP: *out = ODX_METRIC_IP; return 0;
    case OMNIDEX__V1__METRIC__METRIC_L2: *out = ODX_METRIC_L2; return 0;
    default: return odx_error(ODX_EINVAL, "metric %d is not one of COSINE, IP, L2", (int)m);
    }
}

Omnidex__V1__Metric rpc_metric_to_proto(odx_metric m)
{
    switch (m) {
    case ODX_METRIC_IP: return OMNIDEX__V1__METRIC__METRIC_IP;
    case ODX_METRIC_L2: return OMNIDEX__V1__METRIC__METRIC_L2;
    default: return OMNIDEX__V1__METRIC__METRIC_COSINE;
    }
}

int rpc_meta_from_proto(Omnidex__V1__Item__MetadataEntry **e, size_t n, odx_meta **out)
{
    odx_meta *m;
    int rc = odx_meta_new(&m);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *key = e[i]->key ? e[i]->key : "";
        const Omnidex__V1__Value *v = e[i]->value;
        if (!v || v->kind_case == OMNIDEX__V1__VALUE__KIND__NOT_SET) {
            rc = odx_error(ODX_EINVAL, "metadata '%.64s' has no value", key);
            break;
        }
        switch (v->kind_case) {
        case OMNIDEX__V1__VALUE__KIND_STRING_VALUE:
            rc = odx_meta_set_string(m, key, v->string_value, strlen(v->string_value));
            break;
        case OMNIDEX__V1__VALUE__KIND_INT_VALUE: rc = odx_meta_set_int(m, key, v->int_value); break;
        case OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE: rc = odx_meta_set_float(m, key, v->float_value); break;
        case OMNIDEX__V1__VALUE__KIND_BOOL_VALUE: rc = odx_meta_set_bool(m, key, v->bool_value); break;
        default: rc = odx_error(ODX_EINVAL, "metadata '%.64s' has an unknown value type", key);
        }
    }
    if (rc) {
        odx_meta_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int rpc_meta_to_proto(rpc_call *c, const odx_meta *m, const ProtobufCMessageDescriptor *desc,
                      Omnidex__V1__Item__MetadataEntry ***out, size_t *n)
{
    size_t cnt = m ? odx_meta_count(m) : 0;
    *out = NULL;
    *n = 0;
    if (!cnt) return 0;
    Omnidex__V1__Item__MetadataEntry **ep = rpc_alloc(c, cnt * sizeof *ep);
    Omnidex__V1__Item__MetadataEntry *e = rpc_alloc(c, cnt * sizeof *e);
    Omnidex__V1__Value *v = rpc_alloc(c, cnt * sizeof *v);
    if (!ep || !e || !v) return odx_error(ODX_ENOMEM, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        protobuf_c_message_init(desc, &e[i]);
        omnidex__v1__value__init(&v[i]);
        e[i].key = (char *)odx_meta_key(m, i);
        e[i].value = &v[i];
        switch (odx_meta_type(m, i)) {
        case ODX_VALUE_STRING: {
            size_t len;
            const char *s = odx_meta_string(m, i, &len);
            v[i].kind_case = OMNIDEX__V1__VALUE__KIND_STRING_VALUE;
            v[i].string_value = rpc_strndup(c, s, len);
            if (!v[i].string_value) return odx_error(ODX_ENOMEM, "out of memory");
            break;
        }
        case ODX_VALUE_INT:
            v[i].kind_case = OMNIDEX__V1__VALUE__KIND_INT_VALUE;
            v[i].int_value = odx_meta_int(m, i);
            break;
        case ODX_VALUE_FLOAT:
            v[i].kind_case = OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE;
            v[i].float_value = odx_meta_float(m, i);
            break;
        case ODX_VALUE_BOOL:
            v[i].kind_case = OMNIDEX__V1__VALUE__KIND_BOOL_VALUE;
            v[i].bool_value = odx_meta_bool(m, i) != 0;
            break;
        }
        ep[i] = &e[i];
    }
    *out = ep;
    *n = cnt;
    return 0;
}

static int cmp_from_proto(const Omnidex__V1__Comparison *cmp, odx_filter **out)
{
    static const odx_filter_op ops[] = {0, ODX_FILTER_EQ, ODX_FILTER_NE, ODX_FILTER_LT,
                                        ODX_FILTER_LE, ODX_FILTER_GT, ODX_FILTER_GE};
    const char *field = cmp->field ? cmp->field : "";
    if ((unsigned)cmp->op >= sizeof ops / sizeof ops[0] || cmp->op == 0)
        return odx_error(ODX_EFILTER, "comparison on '%.64s' has no operator (op %d)", field, (int)cmp->op);
    odx_filter_op op = ops[cmp->op];
    const Omnidex__V1__Value *v = cmp->value;
    if (!v) return odx_error(ODX_EFILTER, "comparison on '%.64s' has no value", field);
    switch (v->kind_case) {
    case OMNIDEX__V1__VALUE__KIND_STRING_VALUE:
        return odx_filter_cmp_string(field, op, v->string_value, strlen(v->string_value), out);
    case OMNIDEX__V1__VALUE__KIND_INT_VALUE: return odx_filter_cmp_int(field, op, v->int_value, out);
    case OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE: return odx_filter_cmp_float(field, op, v->float_value, out);
    case OMNIDEX__V1__VALUE__KIND_BOOL_VALUE: return odx_filter_cmp_bool(field, op, v->bool_value, out);
    default: return odx_error(ODX_EFILTER, "comparison on '%.64s' has no value", field);
    }
}

static int in_from_proto(const Omnidex__V1__InSet *in, odx_filter **out)
{
    const char *field = in->field ? in->field : "";
    if (in->n_values == 0) return odx_error(ODX_EFILTER, "IN on '%.64s' has no values", field);
    /* Past ODX_FILTER_MAX_SET values odx_filter_in_add_* refuses the next. */
    odx_filter *f;
    int rc = odx_filter_in(field, &f);
    if (rc) return rc;
    for (size_t i = 0; i < in->n_values && rc == 0; i++) {
        const Omnidex__V1__Value *v = in->values[i];
        switch (v->kind_case) {
        case OMNIDEX__V1__VALUE__KIND_STRING_VALUE:
            rc = odx_filter_in_add_string(f, v->string_value, strlen(v->string_value));
            break;
        case OMNIDEX__V1__VALUE__KIND_INT_VALUE: rc = odx_filter_in_add_int(f, v->int_value); break;
        case OMNIDEX__V1__VALUE__KIND_FLOAT_VALUE: rc = odx_filter_in_add_float(f, v->float_value); break;
        case OMNIDEX__V1__VALUE__KIND_BOOL_VALUE: rc = odx_filter_in_add_bool(f, v->bool_value); break;
        default: rc = odx_error(ODX_EFILTER, "IN on '%.64s': value %zu is empty", field, i);
        }
    }
    if (rc) {
        odx_filter_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

static int filter_walk(const Omnidex__V1__Filter *f, int depth, odx_filter **out)
{
    /* Checked while walking (the walk recurses), against the engine's limit. */
    if (depth > ODX_FILTER_MAX_DEPTH)
        return odx_error(ODX_EFILTER, "filter nests deeper than %d levels", ODX_FILTER_MAX_DEPTH);
    switch (f->kind_case) {
    case OMNIDEX__V1__FILTER__KIND_COMPARE: return cmp_from_proto(f->compare, out);
    case OMNIDEX__V1__FILTER__KIND_IN_SET: return in_from_proto(f->in_set, out);
    case OMNIDEX__V1__FILTER__KIND_EXPR: return odx_filter_parse(f->expr, out);
    case OMNIDEX__V1__FILTER__KIND_NEGATE: {
        odx_filter *a;
        int rc = filter_walk(f->negate, depth + 1, &a);
        if (rc) return rc;
        return odx_filter_not(a, out);
    }
    case OMNIDEX__V1__FILTER__KIND_ALL_OF:
    case OMNIDEX__V1__FILTER__KIND_ANY_OF: {
        int all = f->kind_case == OMNIDEX__V1__FILTER__KIND_ALL_OF;
        const Omnidex__V1__FilterList *l = all ? f->all_of : f->any_of;
        if (l->n_filters == 0)
            return odx_error(ODX_EFILTER, "%s holds no filters", all ? "all_of" : "any_of");
        odx_filter *acc = NULL;
        for (size_t i = 0; i < l->n_filters; i++) {
            odx_filter *x;
            int rc = filter_walk(l->filters[i], depth + 1, &x);
            if (rc) {
                odx_filter_free(acc);
                return rc;
            }
            if (!acc) {
                acc = x;
                continue;
            }
            odx_filter *y;
            rc = all ? odx_filter_and(acc, x, &y) : odx_filter_or(acc, x, &y);
            if (rc) return rc; /* the combinator took both operands */
            acc = y;
        }
        *out = acc;
        return 0;
    }
    default: return odx_error(ODX_EFILTER, "empty filter (set compare, in_set, all_of, any_of, negate or expr)");
    }
}

int rpc_filter_from_proto(const Omnidex__V1__Filter *f, odx_filter **out)
{
    return filter_walk(f, 1, out);
}

Omnidex__V1__CollectionInfo *rpc_info_to_proto(rpc_call *c, const odx_collection_info *info)
{
    Omnidex__V1__CollectionInfo *ci = rpc_alloc(c, sizeof *ci);
    if (!ci) return NULL;
    omnidex__v1__collection_info__init(ci);
    ci->name = (char *)odx_info_name(info);
    ci->dim = (uint32_t)odx_info_dim(info);
    ci->metric = rpc_metric_to_proto(odx_info_metric(info));
    ci->index_spec = (char *)(odx_info_index_spec(info) ? odx_info_index_spec(info) : "");
    ci->index_type = (char *)(odx_info_index_type(info) ? odx_info_index_type(info) : "");
    ci->space = (char *)(odx_info_space(info) ? odx_info_space(info) : "");
    ci->count = odx_info_count(info);
    ci->index_ntotal = odx_info_index_ntotal(info);
    ci->tombstones = odx_info_tombstones(info);
    ci->lsn = odx_info_lsn(info);
    ci->checkpoint_lsn = odx_info_checkpoint_lsn(info);
    ci->created_unix = odx_info_created(info);
    ci->updated_unix = odx_info_updated(info);
    ci->vector_bytes = odx_info_vector_bytes(info);
    return ci;
}

int rpc_info_from_proto(const Omnidex__V1__CollectionInfo *ci, odx_collection_info **out)
{
    odx_collection_fields f = {0};
    f.name = ci->name;
    f.index_spec = ci->index_spec;
    f.index_type = ci->index_type;
    f.space = ci->space;
    f.dim = (int)ci->dim;
    if (rpc_metric_from_proto(ci->metric, &f.metric)) f.metric = ODX_METRIC_COSINE;
    f.count = ci->count;
    f.index_ntotal = ci->index_ntotal;
    f.tombstones = ci->tombstones;
    f.lsn = ci->lsn;
    f.checkpoint_lsn = ci->checkpoint_lsn;
    f.vector_bytes = ci->vector_bytes;
    f.created = ci->created_unix;
    f.updated = ci->updated_unix;
    return odx_collection_info_new(&f, out);
}
