/* The admin UI's files (web/admin/), embedded at build time by cmake/embed.cmake. */
#ifndef LC_API_ADMIN_ASSETS_H
#define LC_API_ADMIN_ASSETS_H

#include <stddef.h>

typedef struct lc_admin_asset {
    const char *name; /* "index.html", "app.js", ... */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t size;
} lc_admin_asset_t;

/* Ends with an entry whose name is NULL. */
extern const lc_admin_asset_t lc_admin_assets[];

#endif
