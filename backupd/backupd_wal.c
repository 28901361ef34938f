/* backupd_wal.c - `backupd wal-push SOURCE PATH`: PostgreSQL's archive_command. */
#include "backupd.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/repo/repo.h"
#include "../lib/stream/stream_opts.h"

/* the source's section when it names a PostgreSQL source */
static int pg_source(const struct conf *c, const char *source, const struct ini_section **out,
                     struct cf_err *e)
{
    const struct ini_section *s = conf_source(c, source);
    const char *type = NULL;

    if (s == NULL)
        return cf_err_set(e, CF_E_USAGE, "no [source %s] in %s", source, c->ini->file);
    if (ini_get_str(s, "type", "", &type, e) != 0)
        return -1;
    if (strcmp(type, "postgres") != 0)
        return cf_err_set(e, CF_E_USAGE,
                          "source '%s' is of type '%s': wal-push archives PostgreSQL WAL "
                          "(type = postgres)", source, type);
    *out = s;
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int backupd_wal_push(const struct conf *c, const char *source, const char *path)
{
    const struct ini_section *s = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct stream_opts so;
    struct repo_log_stats st;
    struct repo *r = NULL;
    uint64_t t0 = now_ms();
    int rc;

    /* a closed connection to S3 must be an error, never a signal: the archiver restarts
     * after an archive_command killed by a signal and the failure would go unseen */
    signal(SIGPIPE, SIG_IGN);
    if (pg_source(c, source, &s, &e) != 0 ||
        stream_opts_resolve(c->repository, s, &so, &e) != 0 || repo_open(c, NULL, &r, &e) != 0)
        return cli_fail("backupd", &e);
    if (repo_log_push(r, source, path, so.level, &st, &e) != 0) {
        rc = cli_fail("backupd", &e);
    } else {
        log_info("wal-push %s source=%s file=%s in=%" PRIu64 " stored=%" PRIu64
                 " ms=%" PRIu64, st.existed ? "already archived" : "done", source, path,
                 st.bytes_in, st.bytes_stored, now_ms() - t0);
        rc = EXIT_OK;
    }
    repo_close(r);
    return rc;
}
