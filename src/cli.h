/* Helpers main.c shares with the other command-line files (cli_*.c). */
#ifndef LC_CLI_H
#define LC_CLI_H

#include "config/config.h"

/* "-c FILE", "--config FILE" or "--config=FILE" at argv[*i] (advancing *i past the value), or
 * NULL when argv[*i] is something else. Exits 2 when FILE is missing. */
const char *lc_cli_config_arg(int argc, char **argv, int *i);
/* The config file with the environment over it, its keys checked; -1 after printing why. */
int lc_cli_load_config(lc_config_t *cfg, const char *path);

/* lucent explain ... (cli_explain.c): 0 allow, 1 refused, 2 error. */
int lc_cli_explain(int argc, char **argv);
/* lucent routes -c FILE (cli_explain.c). */
int lc_cli_routes(int argc, char **argv);

#endif
