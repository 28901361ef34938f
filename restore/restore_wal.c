/* restore_wal.c - `restore wal-fetch SOURCE FILE PATH`: PostgreSQL's restore_command. */
#include "restore.h"

#include <signal.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"

int restore_wal_fetch(const struct conf *c, const struct repo_unlock *u, const char *source,
                      const char *file, const char *dest)
{
    const struct ini_section *s = conf_source(c, source);
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    const char *type = "";
    int rc;

    signal(SIGPIPE, SIG_IGN);   /* an error, never a signal (see backupd_wal.c) */
    if (s == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
        return cli_fail("restore", &e);
    }
    if (ini_get_str(s, "type", "", &type, &e) != 0)
        return cli_fail("restore", &e);
    if (strcmp(type, "postgres") != 0) {
        cf_err_set(&e, CF_E_USAGE, "source '%s' is of type '%s': wal-fetch reads PostgreSQL WAL",
                   source, type);
        return cli_fail("restore", &e);
    }
    if (repo_open(c, u, &r, &e) != 0)
        return cli_fail("restore", &e);
    if (!repo_can_read(r)) {
        cf_err_set(&e, CF_E_KEY, "the repository is sealed to a public key: wal-fetch needs "
                                 "--secret-key-file");
        rc = cli_fail("restore", &e);
    } else if (repo_log_fetch(r, source, file, dest, &e) == 0) {
        log_debug("wal-fetch done source=%s file=%s", source, file);
        rc = EXIT_OK;
    } else if (e.code == CF_E_NOTFOUND) {
        /* PostgreSQL asks for files that were never archived (the next timeline's history,
         * the segment after the end): an ordinary answer, not an error worth a line */
        rc = EXIT_FAILED;
    } else {
        rc = cli_fail("restore", &e);
    }
    repo_close(r);
    return rc;
}
