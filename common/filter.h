/* Filters over metadata (the odx_filter of omnidex.h): the AST, the parser of
 * the filter language, builders and printing. Evaluation against stored
 * fields lives in storage/fields.c. */
#ifndef ODX_COMMON_FILTER_H
#define ODX_COMMON_FILTER_H
#include <stddef.h>
#include <stdint.h>

#include "common/meta.h"
#include "omnidex.h"

enum odx_filter_kind { ODX_FK_CMP = 1, ODX_FK_IN, ODX_FK_AND, ODX_FK_OR, ODX_FK_NOT };


struct odx_filter {
    enum odx_filter_kind kind;
    char *field;             /* CMP, IN */
    odx_filter_op op;        /* CMP */
    struct odx_value val;   /* CMP */
    struct odx_value *set;  /* IN */
    size_t nset, capset;
    struct odx_filter *a, *b; /* AND, OR (a, b); NOT (a) */
};

/* Depth of the tree (1 for a leaf). */
int odx_filter_depth(const odx_filter *f);
/* Nesting in the filter language (parentheses and NOTs) of the printed
 * filter; the parser and the builders refuse more than
 * ODX_FILTER_MAX_DEPTH. */
int odx_filter_nesting(const odx_filter *f);
/* Builds `field IN (modalities of mask)` over the reserved "@modality" field. */
int odx_filter_modalities(unsigned mask, odx_filter **out);

#endif
