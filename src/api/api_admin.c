/* The admin web UI (filled in below). */
#include "api/api_int.h"

int lc__api_admin_register(lc_router_t *r, lc__api_t *a)
{
    return 0;
}
