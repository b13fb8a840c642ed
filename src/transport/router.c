/* The routing table: a handful of entries, built before the workers start and read by all of
 * them afterwards without locking. A linear scan is the right size for it. */
#include <stdlib.h>
#include <string.h>

#include "transport/conn.h"
#include "util/err.h"

typedef struct route {
    char *path;
    size_t len;
    bool prefix;
    lc_http_handler_fn fn;
    lc_http_check_fn check;
    void *arg;
} route_t;

struct lc_router {
    route_t *routes;
    size_t n;
};

lc_router_t *lc_router_new(void)
{
    return calloc(1, sizeof(lc_router_t));
}

void lc_router_free(lc_router_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->routes[i].path);
    free(r->routes);
    free(r);
}

int lc_router_add(lc_router_t *r, const char *path, bool prefix, lc_http_handler_fn fn, void *arg)
{
    return lc_router_add_checked(r, path, prefix, fn, NULL, arg);
}

int lc_router_add_checked(lc_router_t *r, const char *path, bool prefix, lc_http_handler_fn fn,
                          lc_http_check_fn check, void *arg)
{
    route_t *routes = realloc(r->routes, (r->n + 1) * sizeof(*routes));
    if (routes == NULL)
        return LC_ENOMEM;
    r->routes = routes;
    char *copy = strdup(path);
    if (copy == NULL)
        return LC_ENOMEM;
    routes[r->n++] = (route_t){copy, strlen(copy), prefix, fn, check, arg};
    return 0;
}

bool lc__router_find(const lc_router_t *r, const char *path, lc_http_handler_fn *fn,
                     lc_http_check_fn *check, void **arg)
{
    size_t plen = strlen(path);
    const route_t *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (!rt->prefix) {
            if (rt->len == plen && memcmp(rt->path, path, plen) == 0) {
                best = rt;
                break; /* an exact route wins over every prefix */
            }
        } else if (rt->len <= plen && memcmp(rt->path, path, rt->len) == 0 &&
                   (best == NULL || rt->len > best->len)) {
            best = rt;
        }
    }
    if (best == NULL)
        return false;
    *fn = best->fn;
    *check = best->check;
    *arg = best->arg;
    return true;
}
