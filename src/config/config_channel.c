/* Channel-level configuration at run time: channel_regex (Go RE2 written, POSIX compiled) and
 * the declarative rules of the top-level "channels" list (pattern compiler, matcher, overlay,
 * resolution). Everything here that runs per command is allocation-free. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"

/* ---- channel_regex ---- */

/* RE2 shorthand classes and their POSIX spelling (outside bracket expressions). */
static const char *shorthand(char c)
{
    switch (c) {
    case 'd':
        return "[0-9]";
    case 'D':
        return "[^0-9]";
    case 'w':
        return "[A-Za-z0-9_]";
    case 'W':
        return "[^A-Za-z0-9_]";
    case 's':
        return "[[:space:]]";
    case 'S':
        return "[^[:space:]]";
    default:
        return NULL;
    }
}

/* Translate the RE2 shorthands of re into POSIX ERE. Inside a bracket expression a backslash is
 * a literal in POSIX and is left alone; *bracket_escape reports that case for a warning.
 * NULL when out of memory. */
static char *re2_to_posix(const char *re, bool *bracket_escape)
{
    size_t n = strlen(re);
    /* The longest expansion is 12 characters for a 2-character escape. */
    char *out = malloc(6 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    bool in_bracket = false;
    *bracket_escape = false;
    while (i < n) {
        char ch = re[i];
        if (!in_bracket) {
            if (ch == '\\' && i + 1 < n) {
                const char *rep = shorthand(re[i + 1]);
                if (rep) {
                    size_t rl = strlen(rep);
                    memcpy(out + o, rep, rl);
                    o += rl;
                } else {
                    out[o++] = ch;
                    out[o++] = re[i + 1];
                }
                i += 2;
                continue;
            }
            out[o++] = ch;
            i++;
            if (ch == '[') {
                in_bracket = true;
                /* A leading ^ negates and a ']' right after is a member, not the end. */
                if (i < n && re[i] == '^')
                    out[o++] = re[i++];
                if (i < n && re[i] == ']')
                    out[o++] = re[i++];
            }
            continue;
        }
        if (ch == '[' && i + 1 < n && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
            /* [:class:], [.coll.], [=equiv=]: copied up to the matching close. */
            char term = re[i + 1];
            const char *end = strstr(re + i + 2, (char[]){term, ']', '\0'});
            size_t stop = end ? (size_t)(end - re) + 2 : n;
            memcpy(out + o, re + i, stop - i);
            o += stop - i;
            i = stop;
            continue;
        }
        if (ch == '\\')
            *bracket_escape = true;
        else if (ch == ']')
            in_bracket = false;
        out[o++] = ch;
        i++;
    }
    out[o] = '\0';
    return out;
}

int lc_config_compile_regex(const char *re, regex_t **out, char *err, size_t errlen)
{
    char *posix = NULL;
    regex_t *compiled = NULL;
    bool bracket_escape = false;

    *out = NULL;
    if (re == NULL || re[0] == '\0')
        return 0;
    posix = re2_to_posix(re, &bracket_escape);
    compiled = malloc(sizeof(*compiled));
    if (!posix || !compiled) {
        free(posix);
        free(compiled);
        return LC_ENOMEM;
    }
    int rrc = regcomp(compiled, posix, REG_EXTENDED | REG_NOSUB);
    free(posix);
    if (rrc != 0) {
        char msg[128];
        regerror(rrc, compiled, msg, sizeof(msg));
        if (err && errlen)
            snprintf(err, errlen, "invalid regular expression: %s", msg);
        free(compiled);
        return LC_EINVAL;
    }
    if (bracket_escape)
        lc_log_warn("config: regular expression \"%s\": a backslash inside [...] is a literal "
                    "backslash here (\\d, \\w, \\s work outside brackets only)",
                    re);
    *out = compiled;
    return 0;
}

int lc_config_set_channel_regex(lc_ns_opts_t *o, const char *re, char *err, size_t errlen)
{
    char *copy = NULL;
    regex_t *compiled = NULL;
    int rc;

    if (re[0] != '\0' && (copy = strdup(re)) == NULL)
        return LC_ENOMEM;
    if ((rc = lc_config_compile_regex(re, &compiled, err, errlen)) != 0) {
        free(copy);
        return rc;
    }
    lc__config_free_ns_regex(o);
    o->channel_regex = copy;
    o->channel_re = compiled;
    return 0;
}

bool lc_config_channel_regex_ok(const lc_ns_opts_t *o, const char *name_after_ns)
{
    return !o->channel_re || regexec(o->channel_re, name_after_ns, 0, NULL, 0) == 0;
}

/* ---- channel rules ---- */

static bool is_delim(char c)
{
    return c == '.' || c == ':' || c == '#';
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

#define PATTERN_MAX 1024

static int rule_fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return LC_EINVAL;
}

int lc__config_rule_compile(struct lc_channel_rule *r, const char *pattern, char *err,
                            size_t errlen)
{
    size_t n = strlen(pattern), nlit = 0, lit_start = 0;
    if (n == 0)
        return rule_fail(err, errlen, "expected a non-empty channel pattern");
    if (n > PATTERN_MAX)
        return rule_fail(err, errlen, "pattern longer than 1024 characters");
    r->name = strdup(pattern);
    r->lit = malloc(n + 1);
    r->toks = calloc(n + 1, sizeof(*r->toks));
    if (!r->name || !r->lit || !r->toks)
        return LC_ENOMEM;

#define FLUSH()                                                                                    \
    do {                                                                                           \
        if (nlit > lit_start)                                                                      \
            r->toks[r->ntoks++] =                                                                  \
                (struct lc__tok){LC__TOK_LIT, (uint32_t)lit_start, (uint32_t)(nlit - lit_start)};  \
        lit_start = nlit;                                                                          \
    } while (0)
#define PUSH(kind)                                                                                 \
    do {                                                                                           \
        FLUSH();                                                                                   \
        r->toks[r->ntoks++] = (struct lc__tok){kind, 0, 0};                                        \
    } while (0)

    for (size_t i = 0; i < n;) {
        char c = pattern[i];
        if (c == '\\') {
            if (i + 1 == n)
                return rule_fail(err, errlen, "a backslash must be followed by a character");
            r->lit[nlit++] = pattern[i + 1];
            i += 2;
        } else if (c == '*') {
            if (i + 1 != n)
                return rule_fail(err, errlen, "'*' is only allowed at the end of the pattern");
            PUSH(LC__TOK_REST);
            i++;
        } else if (c == '{') {
            size_t j = i + 1;
            if (!ident_start(pattern[j]))
                return rule_fail(err, errlen, "'{' must be followed by a name and '}'");
            while (ident_char(pattern[j]))
                j++;
            if (pattern[j] != '}')
                return rule_fail(err, errlen, "'{' must be followed by a name and '}'");
            PUSH(LC__TOK_SEG);
            i = j + 1;
        } else if (c == '#' && ident_start(pattern[i + 1])) {
            size_t j = i + 1;
            while (ident_char(pattern[j]))
                j++;
            PUSH(LC__TOK_SEG);
            i = j;
        } else if (c == '$' && strncmp(pattern + i + 1, "user", 4) == 0 &&
                   !ident_char(pattern[i + 5])) {
            PUSH(LC__TOK_USER);
            i += 5;
        } else {
            r->lit[nlit++] = c;
            i++;
        }
    }
    FLUSH();
#undef PUSH
#undef FLUSH
    r->lit[nlit] = '\0';

    /* A capture takes a whole run of non-delimiters, so what follows it must start a new run
     * for the pattern to mean what it reads like. */
    for (size_t t = 0; t + 1 < r->ntoks; t++) {
        const struct lc__tok *next = &r->toks[t + 1];
        if (r->toks[t].kind == LC__TOK_SEG && next->kind != LC__TOK_REST &&
            !(next->kind == LC__TOK_LIT && is_delim(r->lit[next->off])))
            return rule_fail(err, errlen,
                             "a capture must be followed by '.', ':', '#', '*' or the end of "
                             "the pattern");
    }
    return 0;
}

/* any_user: $user matches any one segment, as {name} does (the rule's channel family). */
static bool rule_match(const struct lc_channel_rule *r, const char *ch, size_t len,
                       const char *user, size_t ulen, bool any_user)
{
    size_t pos = 0;
    for (size_t t = 0; t < r->ntoks; t++) {
        const struct lc__tok *k = &r->toks[t];
        switch (k->kind) {
        case LC__TOK_LIT:
            if (len - pos < k->len || memcmp(ch + pos, r->lit + k->off, k->len) != 0)
                return false;
            pos += k->len;
            break;
        case LC__TOK_USER:
            if (!any_user) {
                if (ulen == 0 || len - pos < ulen || memcmp(ch + pos, user, ulen) != 0)
                    return false;
                pos += ulen;
                break;
            }
            /* fall through */
        case LC__TOK_SEG: {
            size_t start = pos;
            while (pos < len && !is_delim(ch[pos]))
                pos++;
            if (pos == start)
                return false;
            break;
        }
        case LC__TOK_REST:
            return true;
        }
    }
    return pos == len;
}

bool lc__config_rule_match(const struct lc_channel_rule *r, const char *ch, size_t len,
                           const char *user, size_t ulen)
{
    return rule_match(r, ch, len, user, ulen, false);
}

void lc__config_rule_overlay(lc_ns_opts_t *o, const struct lc_channel_rule *r)
{
    for (uint64_t set = r->set; set; set &= set - 1) {
        const struct lc__key *k = &lc__config_ns_keys[__builtin_ctzll(set)];
        size_t size;
        switch (k->kind) {
        case LC__K_BOOL:
            size = sizeof(bool);
            break;
        case LC__K_INT:
        case LC__K_ENUM:
            size = sizeof(int);
            break;
        case LC__K_ENUMS:
            size = sizeof(unsigned);
            break;
        case LC__K_REGEX:
            o->channel_regex = r->opts.channel_regex;
            o->channel_re = r->opts.channel_re;
            continue;
        case LC__K_SUBOBJ: /* a namespace sub-object: its size is in lo */
            size = (size_t)k->min;
            break;
        case LC__K_PROXY_ON:
        case LC__K_PROXY_NAME: /* both keys stand for the resolved pointer */
            size = sizeof(const lc_proxy_conf_t *);
            break;
        default: /* durations and 64-bit integers */
            size = sizeof(int64_t);
            break;
        }
        memcpy((char *)o + k->off, (const char *)&r->opts + k->off, size);
    }
}

const lc_ns_opts_t *lc_config_resolve_channel(const lc_config_t *c, const char *channel, size_t len,
                                              const char *user, lc_ns_opts_t *scratch)
{
    const lc_ns_opts_t *ns = lc_config_channel_opts(c, channel, len);
    size_t ulen = user ? strlen(user) : 0;
    for (size_t i = 0; i < c->n_channel_rules; i++) {
        const struct lc_channel_rule *r = &c->channel_rules[i];
        if (!lc__config_rule_match(r, channel, len, user, ulen))
            continue;
        if (ns)
            *scratch = *ns;
        else
            memset(scratch, 0, sizeof(*scratch));
        lc__config_rule_overlay(scratch, r);
        return scratch;
    }
    if (ns)
        return ns;
    /* "user:$user" names a family of channels: another user's channel of that family is a
     * known channel this user may do nothing with (103, as a Laravel channel route reads), not
     * an unknown namespace (102). */
    for (size_t i = 0; i < c->n_channel_rules; i++) {
        if (rule_match(&c->channel_rules[i], channel, len, NULL, 0, true)) {
            memset(scratch, 0, sizeof(*scratch));
            return scratch;
        }
    }
    return NULL;
}

int lc_config_channel_rule_of(const lc_config_t *c, const char *channel, size_t len,
                              const char *user, bool *family)
{
    size_t ulen = user ? strlen(user) : 0;
    *family = false;
    for (size_t i = 0; i < c->n_channel_rules; i++)
        if (lc__config_rule_match(&c->channel_rules[i], channel, len, user, ulen))
            return (int)i;
    if (lc_config_channel_opts(c, channel, len))
        return -1;
    for (size_t i = 0; i < c->n_channel_rules; i++) {
        if (rule_match(&c->channel_rules[i], channel, len, NULL, 0, true)) {
            *family = true;
            return (int)i;
        }
    }
    return -1;
}

void lc__config_free_rules(struct lc_channel_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].lit);
        free(r[i].toks);
        lc__config_free_ns(&r[i].opts);
    }
    free(r);
}

/* For `lucent routes`: rule i's pattern, and the options it sets as "key=value, ..." in buf. */
const char *lc_config_channel_rule(const lc_config_t *c, size_t i, char *buf, size_t len)
{
    if (i >= c->n_channel_rules || len == 0)
        return NULL;
    const struct lc_channel_rule *r = &c->channel_rules[i];
    const char *base = (const char *)&r->opts;
    size_t pos = 0;
    buf[0] = '\0';
    for (uint64_t set = r->set; set && pos < len; set &= set - 1) {
        const struct lc__key *k = &lc__config_ns_keys[__builtin_ctzll(set)];
        const char *sep = pos ? ", " : "";
        int n;
        switch (k->kind) {
        case LC__K_BOOL:
            n = snprintf(buf + pos, len - pos, "%s%s=%s", sep, k->name,
                         *(const bool *)(base + k->off) ? "true" : "false");
            break;
        case LC__K_INT:
        case LC__K_ENUM:
            n = snprintf(buf + pos, len - pos, "%s%s=%d", sep, k->name,
                         *(const int *)(base + k->off));
            break;
        case LC__K_I64:
        case LC__K_DUR:
        case LC__K_DUR_NEG:
            n = snprintf(buf + pos, len - pos, "%s%s=%lld", sep, k->name,
                         (long long)*(const int64_t *)(base + k->off));
            break;
        case LC__K_PROXY_ON:
        case LC__K_PROXY_NAME: {
            const lc_proxy_conf_t *p = *(const lc_proxy_conf_t *const *)(base + k->off);
            n = snprintf(buf + pos, len - pos, "%s%s=%s", sep, k->name,
                         p ? (p->name ? p->name : "default") : "off");
            break;
        }
        case LC__K_REGEX:
            n = snprintf(buf + pos, len - pos, "%s%s=%s", sep, k->name,
                         r->opts.channel_regex ? r->opts.channel_regex : "");
            break;
        default:
            n = snprintf(buf + pos, len - pos, "%s%s", sep, k->name);
            break;
        }
        if (n < 0)
            break;
        pos += (size_t)n < len - pos ? (size_t)n : len - pos - 1;
    }
    return r->name;
}
