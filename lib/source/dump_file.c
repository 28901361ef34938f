/* dump_file.c - a dump proved by its kind, and restore --to-file: the checks plan() makes of
 * the file, and the writer that puts a proved part under that name atomically. */
#include "chk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/afile.h"
#include "../core/util.h"

/* ------------------------------------------------------------------------------------------
 * by kind
 * ---------------------------------------------------------------------------------------- */

int dump_check(struct src_reader *r, enum dump_kind kind, struct cf_err *e)
{
    struct buf head = BUF_INIT, tail = BUF_INIT;
    int rc = -1;
    switch (kind) {
    case DUMP_PGDUMP: {
        struct pgdump_summary s;
        return pgdump_check(r, &s, e);
    }
    case DUMP_RDB: {
        struct rdb_summary s;
        return rdb_check(r, &s, NULL, NULL, e);
    }
    case DUMP_PGALL:
        if (src_pump(r, &head, 4096, &tail, 4096, e) == 0)
            rc = sqldump_check(&head, &tail, SQLDUMP_PGALL_FIRST, SQLDUMP_PGALL_LAST,
                               SQLDUMP_PGALL_SUFFIX, r->what, e);
        break;
    case DUMP_MARIADB:
        if (src_pump(r, &head, 4096, &tail, 4096, e) == 0)
            rc = sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL,
                               r->what, e);
        break;
    }
    buf_free(&head);
    buf_free(&tail);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * restore --to-file
 * ---------------------------------------------------------------------------------------- */

int src_outfile_check(const char *path, bool force, struct cf_err *e)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return cf_err_set(e, CF_E_USAGE, "--to-file '%s' is a directory: name a file", path);
        if (!force)
            return cf_err_set(e, CF_E_EXISTS,
                              "--to-file '%s' exists. HINT: name a new file, or add --force to replace it",
                              path);
    }
    char *dir = fs_dirname(path);
    int rc = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = cf_err_set(e, CF_E_USAGE, "--to-file '%s': directory '%s' does not exist", path, dir);
    free(dir);
    return rc;
}

/* a src_sink_fn into the atomic file @ctx */
static int afile_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return afile_write(ctx, buf, len, e);
}

int dump_part_to_file(struct source_in *in, enum dump_kind kind, const char *path, bool force,
                      struct cf_err *e)
{
    struct afile f;
    struct src_reader r;
    int rc = -1;

    if (src_outfile_check(path, force, e) != 0 ||
        afile_begin(&f, path, ".coffer-partial-", 0600, e) != 0)
        return -1;
    src_reader_init_fn(&r, src_in_read_fn, in, "the part written", afile_sink, &f);
    if (dump_check(&r, kind, e) == 0 && src_reader_flush(&r, e) == 0 && afile_commit(&f, 0, e) == 0)
        rc = 0;
    afile_abort(&f);
    src_reader_free(&r);
    return rc;
}
