/* Where the shipped Lua library (lua/lucent/NAME.lua) is looked for: next to the executable first
 * (<bin>/../share/lucent/lua once installed, <build>/../lua in a source tree), then the install
 * prefix, then the source tree the binary was built from. Computed once. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hooks/lua_internal.h"

#ifndef LUCENT_LUA_DIR
#define LUCENT_LUA_DIR "lua"
#endif
#ifndef LUCENT_LUA_INSTALL_DIR
#define LUCENT_LUA_INSTALL_DIR "/usr/local/share/lucent/lua"
#endif

#define MAX_DIRS 4

static char dirs[MAX_DIRS][PATH_MAX];
static const char *list[MAX_DIRS];
static size_t n_dirs;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void add(const char *d)
{
    for (size_t i = 0; i < n_dirs; i++)
        if (strcmp(list[i], d) == 0)
            return;
    if (n_dirs < MAX_DIRS && strlen(d) < PATH_MAX) {
        memcpy(dirs[n_dirs], d, strlen(d) + 1); /* strlen(d) < PATH_MAX, checked above */
        list[n_dirs] = dirs[n_dirs];
        n_dirs++;
    }
}

static void compute(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            char d[PATH_MAX + 32];
            *slash = '\0';
            snprintf(d, sizeof(d), "%s/../share/lucent/lua", exe);
            add(d);
            snprintf(d, sizeof(d), "%s/../lua", exe);
            add(d);
        }
    }
    add(LUCENT_LUA_INSTALL_DIR);
    add(LUCENT_LUA_DIR);
}

const char *const *lc__lua_lib_dirs(size_t *n)
{
    pthread_once(&once, compute);
    *n = n_dirs;
    return list;
}
