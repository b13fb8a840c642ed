/* Transport bodies that are not commands (proto/request.h). */
#include "proto/request.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json_check.h"
#include "util/err.h"

#define CONNECT_OPEN "{\"id\":1,\"connect\":"

int lc_proto_uni_connect(const char *p, size_t n, lc_buf_t *out)
{
    static const char *const data_only[] = {"data", NULL};
    lc_json_check_t chk;

    if (!lc_json_check(p, n, &chk))
        return LC_EPARSE;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    bool null = n - i >= 4 && memcmp(p + i, "null", 4) == 0;
    if (!null && p[i] != '{')
        return LC_EPARSE;
    if (chk.nul && lc_json_nul_outside(p, n, 1, data_only))
        return LC_EPARSE;
    int rc = lc_buf_append_str(out, CONNECT_OPEN);
    if (rc == 0 && null)
        rc = lc_buf_append_str(out, "{}");
    else if (rc == 0)
        rc = lc_buf_reserve(out, n);
    if (rc < 0)
        return rc;
    for (size_t k = 0; !null && k < n; k++) {
        char ch = p[k];
        if (ch == '\n' || ch == '\r')
            ch = ' ';
        out->data[out->len++] = ch;
    }
    return lc_buf_putc(out, '}');
}

/* A string member of o copied out: "" when absent, LC_EPARSE when not a string. */
static int member_str(const cJSON *o, const char *name, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v != NULL && !cJSON_IsString(v))
        return LC_EPARSE;
    *out = strdup(v != NULL ? v->valuestring : "");
    return *out != NULL ? 0 : LC_ENOMEM;
}

int lc_proto_emulation_parse(const char *body, size_t len, lc_emulation_req_t *out)
{
    lc_json_check_t chk;
    cJSON *root = NULL;
    int rc = LC_EPARSE;

    memset(out, 0, sizeof(*out));
    if (body == NULL || !lc_json_check_object(body, len, &chk) ||
        (chk.nul && lc_json_nul_outside(body, len, 1, NULL)))
        goto fail;
    root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        rc = root == NULL ? LC_ENOMEM : LC_EPARSE;
        goto fail;
    }
    if ((rc = member_str(root, "session", &out->session)) < 0 ||
        (rc = member_str(root, "node", &out->node)) < 0)
        goto fail;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (cJSON_IsString(data)) {
        out->data = strdup(data->valuestring);
        if (out->data == NULL) {
            rc = LC_ENOMEM;
            goto fail;
        }
        out->data_len = strlen(out->data);
    }
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    lc_proto_emulation_free(out);
    return rc;
}

void lc_proto_emulation_free(lc_emulation_req_t *r)
{
    free(r->session);
    free(r->node);
    free(r->data);
    memset(r, 0, sizeof(*r));
}
