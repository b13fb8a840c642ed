/* Requests that carry several commands: POST /api/batch (spec §4.2) and the legacy single
 * endpoint POST /api (spec §4.3), whose body is a stream of {"id","method","params"} objects.
 * Both become one call with a command per element; a command's params are handed to its
 * method as the exact text of the body (so `data` is carried byte for byte) and as a parse. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "proto/codes.h"
#include "util/log.h"

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    return p;
}

/* End of the JSON value that starts at p, found by brackets and strings only: whether the
 * value is well formed is the parser's business afterwards. NULL when the text ends inside a
 * string or an open bracket. */
static const char *value_end(const char *p, const char *end)
{
    int depth = 0;
    bool in_str = false;
    for (; p < end; p++) {
        char ch = *p;
        if (in_str) {
            if (ch == '\\') {
                p++;
            } else if (ch == '"') {
                in_str = false;
                if (depth == 0)
                    return p + 1;
            }
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '{' || ch == '[')
            depth++;
        else if ((ch == '}' || ch == ']') && --depth <= 0)
            return p + 1;
        else if ((is_space(ch) || ch == ',') && depth == 0)
            return p;
    }
    return depth == 0 && !in_str ? end : NULL;
}

/* --- batch ----------------------------------------------------------------------------------- */

/* Set up command c from one element of "commands" ({"<method>":{params}}), whose text is
 * elem/len. Problems are answered by the command itself (104 unknown method, 107 bad params). */
static void batch_cmd(lc__api_cmd_t *c, const cJSON *elem, const char *text, size_t len)
{
    if (!cJSON_IsObject(elem))
        return; /* 107 */
    const cJSON *m = elem->child;
    while (m && cJSON_IsNull(m))
        m = m->next;
    c->error = LC_ERROR_METHOD_NOT_FOUND;
    if (!m)
        return;
    const lc__api_method_t *method = lc__api_method_find(m->string, false);
    if (!method)
        return;
    c->error = LC_ERROR_BAD_REQUEST;
    lc_raw_t raw;
    if (!cJSON_IsObject(m) || lc__api_get_raw(text, len, m->string, &raw) != 0 || !raw.p)
        return;
    c->method = method;
    c->params = raw.p;
    c->len = raw.len;
    c->p = m;
}

void lc__api_batch(lc__api_t *a, lc_http_req_t *req, const char *body, size_t len, cJSON *root)
{
    bool parallel = false;
    lc_raw_t raw = {0};
    const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(root, "commands");
    uint32_t code = lc__api_get_bool(root, "parallel", &parallel);
    if (!code && cmds && !cJSON_IsNull(cmds) && !cJSON_IsArray(cmds))
        code = LC_ERROR_BAD_REQUEST;
    if (!code)
        code = lc__api_get_raw(body, len, "commands", &raw);
    if (code) {
        lc_log_info("api batch from %s: bad request", lc_http_req_remote(req));
        cJSON_Delete(root);
        lc__api_respond_error(req, 200, code);
        return;
    }
    size_t n = cJSON_IsArray(cmds) ? (size_t)cJSON_GetArraySize(cmds) : 0;
    lc__api_call_t *call = lc__api_call_new(a, req, LC__API_BATCH, n, root);
    if (!call) {
        lc_log_error("api batch: out of memory");
        cJSON_Delete(root);
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
        return;
    }
    /* Walk the array's text alongside its parse: element i of one is element i of the other,
     * since the text is the valid JSON the parse came from. */
    const char *p = raw.p ? raw.p + 1 : NULL, *end = raw.p ? raw.p + raw.len : NULL;
    size_t i = 0;
    const cJSON *elem;
    cJSON_ArrayForEach(elem, cmds)
    {
        p = skip_space(p, end);
        const char *q = value_end(p, end);
        batch_cmd(lc__api_call_cmd(call, i++), elem, p, q ? (size_t)(q - p) : 0);
        p = q ? skip_space(q, end) : end;
        if (p < end && *p == ',')
            p++;
    }
    lc__api_call_run(call, parallel);
}

/* --- legacy ---------------------------------------------------------------------------------- */

/* Set up command c from one {"id","method","params"} object of text/len (parsed into c->own).
 * False when the object cannot be decoded at all (→ 400 for the whole request, as a decoder
 * error does in Centrifugo); otherwise problems are the command's answer. */
static bool legacy_cmd(lc__api_cmd_t *c, const char *text, size_t len)
{
    cJSON *root = lc__api_json_ok(text, len) ? cJSON_ParseWithLength(text, len) : NULL;
    if (!root)
        return false;
    c->own = root;
    if (!cJSON_IsObject(root))
        return false;

    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id && !cJSON_IsNull(id)) {
        double v = cJSON_IsNumber(id) ? id->valuedouble : -1;
        if (v < 0 || v > 4294967295.0 || v != (double)(uint32_t)v)
            return false;
        c->id = (uint32_t)v;
    }

    /* method: the name in any case, or its number; absent is 0, i.e. publish */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "method");
    const lc__api_method_t *method = lc__api_method_legacy(0);
    if (cJSON_IsString(m)) {
        method = lc__api_method_find(m->valuestring, true);
    } else if (cJSON_IsNumber(m)) {
        double v = m->valuedouble;
        /* in range before the cast: a double beyond long is undefined to convert */
        method = v >= 0 && v < 1e6 && v == (double)(long)v ? lc__api_method_legacy((long)v) : NULL;
    } else if (m && !cJSON_IsNull(m)) {
        return false;
    }
    if (!method) {
        c->error = LC_ERROR_METHOD_NOT_FOUND;
        return true;
    }

    /* info takes no params; every other method needs an object */
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    lc_raw_t raw = {0};
    if (strcmp(method->name, "info") != 0) {
        if (!cJSON_IsObject(params) || lc__api_get_raw(text, len, "params", &raw) != 0 || !raw.p) {
            c->why = strdup("params: expected an object"); /* 107 */
            return true;
        }
    }
    c->method = method;
    c->params = raw.p;
    c->len = raw.len;
    c->p = cJSON_IsObject(params) ? params : NULL;
    return true;
}

void lc__api_legacy(lc__api_t *a, lc_http_req_t *req)
{
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    const char *end = body ? body + len : NULL;
    if (!body || len == 0) {
        lc_log_info("api (legacy): empty body from %s", lc_http_req_remote(req));
        lc_http_respond(req, 400, "text/plain", "Bad Request", 11, NULL);
        return;
    }
    /* Count the objects first so that the call is made at its size. */
    size_t n = 0;
    for (const char *p = skip_space(body, end); p < end; p = skip_space(p, end), n++) {
        const char *q = *p == '{' ? value_end(p, end) : NULL;
        if (!q)
            goto bad;
        p = q;
    }
    lc__api_call_t *call = lc__api_call_new(a, req, LC__API_LEGACY, n, NULL);
    if (!call) {
        lc_log_error("api (legacy): out of memory");
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
        return;
    }
    const char *p = skip_space(body, end);
    for (size_t i = 0; i < n; i++) {
        const char *q = value_end(p, end);
        if (!legacy_cmd(lc__api_call_cmd(call, i), p, (size_t)(q - p))) {
            lc__api_call_abort(call);
            goto bad;
        }
        p = skip_space(q, end);
    }
    /* in order, each after the previous one, like Centrifugo's decoding loop */
    lc__api_call_run(call, false);
    return;
bad:
    lc_log_info("api (legacy): malformed body from %s", lc_http_req_remote(req));
    lc__api_respond_error(req, 400, LC_ERROR_BAD_REQUEST);
}
