#include "proto/tagfilter.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

enum op { OP_LEAF, OP_AND, OP_OR, OP_NOT };
enum cmp { C_EQ, C_NEQ, C_IN, C_NIN, C_EX, C_NEX, C_SW, C_EW, C_CT, C_LT, C_LTE, C_GT, C_GTE };

static const char *const cmp_names[] = {"eq", "neq", "in", "nin", "ex", "nex", "sw",
                                        "ew", "ct",  "lt", "lte", "gt", "gte"};

struct lc_tagfilter {
    enum op op;
    enum cmp cmp;
    char *key;
    char *val;
    char **vals;
    size_t n_vals;
    struct lc_tagfilter **nodes;
    size_t n_nodes;
};

struct lc_tags {
    cJSON *root;
    const cJSON *obj; /* the tags object inside root */
};

void lc_tagfilter_free(lc_tagfilter_t *f)
{
    if (!f)
        return;
    free(f->key);
    free(f->val);
    for (size_t i = 0; i < f->n_vals; i++)
        free(f->vals[i]);
    free(f->vals);
    for (size_t i = 0; i < f->n_nodes; i++)
        lc_tagfilter_free(f->nodes[i]);
    free(f->nodes);
    free(f);
}

/* A member that must be a string when present; "" when absent. NULL = wrong type. */
static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!m || cJSON_IsNull(m))
        return "";
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* Whether s is a plain decimal number ([+-]digits[.digits]), which ordering compares. */
static bool decimal_ok(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    const char *d = s;
    while (*s >= '0' && *s <= '9')
        s++;
    if (s == d)
        return false;
    if (*s == '.') {
        d = ++s;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == d)
            return false;
    }
    return *s == '\0';
}

/* Exact comparison of two decimal_ok strings (no rounding, any length): <0, 0, >0. */
static int decimal_cmp(const char *a, const char *b)
{
    int sa = *a == '-' ? -1 : 1, sb = *b == '-' ? -1 : 1;
    if (*a == '+' || *a == '-')
        a++;
    if (*b == '+' || *b == '-')
        b++;
    while (*a == '0' && a[1] >= '0' && a[1] <= '9')
        a++;
    while (*b == '0' && b[1] >= '0' && b[1] <= '9')
        b++;
    size_t ia = strcspn(a, "."), ib = strcspn(b, ".");
    /* magnitude comparison */
    int m = 0;
    if (ia != ib)
        m = ia < ib ? -1 : 1;
    else {
        int c = strncmp(a, b, ia);
        if (c)
            m = c < 0 ? -1 : 1;
        else {
            const char *fa = a[ia] ? a + ia + 1 : "", *fb = b[ib] ? b + ib + 1 : "";
            while (!m && (*fa || *fb)) {
                char ca = *fa ? *fa++ : '0', cb = *fb ? *fb++ : '0';
                if (ca != cb)
                    m = ca < cb ? -1 : 1;
            }
        }
    }
    bool zero_a = strspn(a, "0.") == strlen(a), zero_b = strspn(b, "0.") == strlen(b);
    if (zero_a)
        sa = 1;
    if (zero_b)
        sb = 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return sa * m;
}

static char *dup(const char *s)
{
    return strdup(s);
}

static lc_tagfilter_t *compile(const cJSON *j, int depth, int *budget, const char **why)
{
    if (depth >= LC_TAGFILTER_MAX_DEPTH) {
        *why = "filter nested too deep";
        return NULL;
    }
    if (--*budget < 0) {
        *why = "filter too large";
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        *why = "filter node must be an object";
        return NULL;
    }
    const char *op = str_member(j, "op"), *key = str_member(j, "key");
    const char *cmp = str_member(j, "cmp"), *val = str_member(j, "val");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(j, "vals");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(j, "nodes");
    if (!op || !key || !cmp || !val || (vals && !cJSON_IsNull(vals) && !cJSON_IsArray(vals)) ||
        (nodes && !cJSON_IsNull(nodes) && !cJSON_IsArray(nodes))) {
        *why = "filter field of the wrong type";
        return NULL;
    }
    int n_vals = cJSON_IsArray(vals) ? cJSON_GetArraySize(vals) : 0;
    int n_nodes = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : 0;
    lc_tagfilter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        *why = "out of memory";
        return NULL;
    }
    if (!*op)
        f->op = OP_LEAF;
    else if (!strcmp(op, "and"))
        f->op = OP_AND;
    else if (!strcmp(op, "or"))
        f->op = OP_OR;
    else if (!strcmp(op, "not"))
        f->op = OP_NOT;
    else {
        *why = "unknown filter op";
        goto bad;
    }
    if (f->op == OP_LEAF) {
        size_t i = 0;
        for (; i < sizeof(cmp_names) / sizeof(cmp_names[0]); i++)
            if (!strcmp(cmp, cmp_names[i]))
                break;
        if (i == sizeof(cmp_names) / sizeof(cmp_names[0])) {
            *why = *cmp ? "unknown filter cmp" : "filter leaf without cmp";
            goto bad;
        }
        f->cmp = (enum cmp)i;
        switch (f->cmp) {
        case C_IN:
        case C_NIN:
            if (n_vals == 0 || *val) {
                *why = "in/nin need vals and no val";
                goto bad;
            }
            break;
        case C_EX:
        case C_NEX:
            if (n_vals || *val) {
                *why = "ex/nex take no val or vals";
                goto bad;
            }
            break;
        default:
            if (!*val || n_vals) {
                *why = "comparison needs val and no vals";
                goto bad;
            }
        }
        if (!*key && f->cmp != C_EX && f->cmp != C_NEX) {
            *why = "filter leaf without key";
            goto bad;
        }
        if (n_nodes) {
            *why = "filter leaf with nodes";
            goto bad;
        }
        *budget -= n_vals;
        if (*budget < 0) {
            *why = "filter too large";
            goto bad;
        }
        f->key = dup(key);
        f->val = dup(val);
        f->vals = n_vals ? calloc((size_t)n_vals, sizeof(char *)) : NULL;
        if (!f->key || !f->val || (n_vals && !f->vals)) {
            *why = "out of memory";
            goto bad;
        }
        const cJSON *v;
        cJSON_ArrayForEach(v, vals)
        {
            if (!cJSON_IsString(v)) {
                *why = "filter vals must be strings";
                goto bad;
            }
            if (!(f->vals[f->n_vals] = dup(v->valuestring))) {
                *why = "out of memory";
                goto bad;
            }
            f->n_vals++;
        }
        return f;
    }
    if (f->op == OP_NOT ? n_nodes != 1 : n_nodes == 0) {
        *why = f->op == OP_NOT ? "not needs exactly one node" : "and/or need nodes";
        goto bad;
    }
    f->nodes = calloc((size_t)n_nodes, sizeof(*f->nodes));
    if (!f->nodes) {
        *why = "out of memory";
        goto bad;
    }
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        if (!(f->nodes[f->n_nodes] = compile(n, depth + 1, budget, why)))
            goto bad;
        f->n_nodes++;
    }
    return f;
bad:
    lc_tagfilter_free(f);
    return NULL;
}

lc_tagfilter_t *lc_tagfilter_compile(const char *json, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    cJSON *j = cJSON_ParseWithOpts(json, NULL, 1);
    if (!j) {
        *why = "filter is not JSON";
        return NULL;
    }
    int budget = LC_TAGFILTER_MAX_NODES;
    lc_tagfilter_t *f = compile(j, 0, &budget, why);
    cJSON_Delete(j);
    return f;
}

static lc_tags_t *tags_of(cJSON *root, const cJSON *obj)
{
    if (!cJSON_IsObject(obj) || !obj->child) {
        cJSON_Delete(root);
        return NULL;
    }
    lc_tags_t *t = malloc(sizeof(*t));
    if (!t) {
        cJSON_Delete(root);
        return NULL;
    }
    t->root = root;
    t->obj = obj;
    return t;
}

lc_tags_t *lc_tags_from_push(const char *p, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(p, len);
    const cJSON *push = cJSON_GetObjectItemCaseSensitive(root, "push");
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(push, "pub");
    return tags_of(root, cJSON_GetObjectItemCaseSensitive(pub, "tags"));
}

lc_tags_t *lc_tags_from_pub(const char *p, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(p, len);
    return tags_of(root, cJSON_GetObjectItemCaseSensitive(root, "tags"));
}

void lc_tags_free(lc_tags_t *t)
{
    if (!t)
        return;
    cJSON_Delete(t->root);
    free(t);
}

static const char *tag(const lc_tags_t *t, const char *key)
{
    if (!t)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t->obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool in_vals(const lc_tagfilter_t *f, const char *v)
{
    /* a missing tag reads as "" (Centrifugo looks it up in a map) */
    for (size_t i = 0; i < f->n_vals; i++)
        if (!strcmp(f->vals[i], v ? v : ""))
            return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !memcmp(s + a - b, suffix, b);
}

static bool leaf(const lc_tagfilter_t *f, const lc_tags_t *t)
{
    const char *v = tag(t, f->key);
    switch (f->cmp) {
    case C_EQ:
        return v && !strcmp(v, f->val);
    case C_NEQ:
        return !v || strcmp(v, f->val) != 0;
    case C_IN:
        return in_vals(f, v);
    case C_NIN:
        return !in_vals(f, v);
    case C_EX:
        return v != NULL;
    case C_NEX:
        return v == NULL;
    case C_SW:
        return v && !strncmp(v, f->val, strlen(f->val));
    case C_EW:
        return v && ends_with(v, f->val);
    case C_CT:
        return v && strstr(v, f->val) != NULL;
    default:
        break;
    }
    /* ordering: both sides decimal numbers, otherwise no match */
    if (!v || !decimal_ok(v) || !decimal_ok(f->val))
        return false;
    int c = decimal_cmp(v, f->val);
    switch (f->cmp) {
    case C_LT:
        return c < 0;
    case C_LTE:
        return c <= 0;
    case C_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

bool lc_tagfilter_match(const lc_tagfilter_t *f, const lc_tags_t *tags)
{
    switch (f->op) {
    case OP_LEAF:
        return leaf(f, tags);
    case OP_AND:
        for (size_t i = 0; i < f->n_nodes; i++)
            if (!lc_tagfilter_match(f->nodes[i], tags))
                return false;
        return true;
    case OP_OR:
        for (size_t i = 0; i < f->n_nodes; i++)
            if (lc_tagfilter_match(f->nodes[i], tags))
                return true;
        return false;
    default:
        return !lc_tagfilter_match(f->nodes[0], tags);
    }
}
