/* tar_extract.c - a tar stream from a backup extracted into the working directory with
 * libarchive's secure flags: what a volume restore and a PostgreSQL base backup restore share
 * (tar_extract.h). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "source.h"
#include "tar_extract.h"

struct import_ctx {
    struct source_in *in;
    char *buf;
    struct cf_err *e;
};

static la_ssize_t in_read(struct archive *a, void *arg, const void **buf)
{
    struct import_ctx *c = arg;
    ssize_t n = source_in_read(c->in, c->buf, 1 << 20, c->e);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", c->e->msg);
        return -1;
    }
    *buf = c->buf;
    return n;
}

/* libarchive's message, with the system's reason when there is one ("Write failed: No space
 * left on device") */
static const char *ar_error(struct archive *a, char *out, size_t cap)
{
    const char *msg = archive_error_string(a);
    int err = archive_errno(a);
    if (err > 0 && (msg == NULL || strstr(msg, strerror(err)) == NULL))
        snprintf(out, cap, "%s: %s", msg ? msg : "error", strerror(err));
    else
        snprintf(out, cap, "%s", msg ? msg : "error");
    return out;
}

/* our own check before libarchive's, so the error names the entry plainly */
static bool hostile_path(const char *p)
{
    if (p[0] == '/')
        return true;
    for (const char *s = p; *s;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return true;
        s += n;
        while (*s == '/')
            s++;
    }
    return false;
}

int src_tar_extract_entry(struct archive *ar, struct archive *dw, struct archive_entry *entry,
                          const char *what, struct cf_err *e)
{
    const char *name = archive_entry_pathname(entry);
    const char *link = archive_entry_hardlink(entry);
    char msg[512];
    int r;

    if (name == NULL || hostile_path(name) || (link && hostile_path(link)))
        return cf_err_set(e, CF_E_CORRUPT,
                          "refusing entry '%s'%s%s: an absolute path or '..' would write "
                          "outside the destination",
                          name ? name : "?", link ? " linked to " : "", link ? link : "");
    r = archive_write_header(dw, entry);
    if (r != ARCHIVE_OK) {
        if (r != ARCHIVE_WARN)
            return cf_err_set(e, archive_errno(dw) == ENOSPC ? CF_E_IO : CF_E_CORRUPT,
                              "unable to extract '%s': %s", name,
                              ar_error(dw, msg, sizeof(msg)));
        log_warn("restore: '%s': %s", name, archive_error_string(dw));
    }
    if (archive_entry_size(entry) > 0) {
        const void *buf;
        size_t size;
        la_int64_t off;
        while ((r = archive_read_data_block(ar, &buf, &size, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(dw, buf, size, off) < ARCHIVE_OK)
                return cf_err_set(e, CF_E_IO, "unable to write '%s': %s", name,
                                  ar_error(dw, msg, sizeof(msg)));
        if (r != ARCHIVE_EOF) {
            if (e->code == CF_E_OK)
                cf_err_set(e, CF_E_CORRUPT, "%s, entry '%s': %s", what, name,
                           archive_error_string(ar));
            return -1;
        }
    }
    r = archive_write_finish_entry(dw);
    if (r < ARCHIVE_WARN)
        return cf_err_set(e, CF_E_IO, "unable to finish '%s': %s", name,
                          ar_error(dw, msg, sizeof(msg)));
    if (r == ARCHIVE_WARN)
        log_warn("restore: '%s': %s", name, archive_error_string(dw));
    return 0;
}

int src_tar_extract(struct source_in *in, const char *what, struct cf_err *e)
{
    struct import_ctx c = { in, cf_malloc(1 << 20), e };
    struct archive *ar = archive_read_new(), *dw = archive_write_disk_new();
    struct archive_entry *entry;
    char msg[512];
    int rc = -1, r;

    archive_read_support_format_tar(ar);
    archive_write_disk_set_options(dw, SRC_TAR_EXTRACT_FLAGS);
    archive_write_disk_set_standard_lookup(dw);
    if (archive_read_open(ar, &c, NULL, in_read, NULL) != ARCHIVE_OK) {
        if (e->code == CF_E_OK)
            cf_err_set(e, CF_E_CORRUPT, "not a %s: %s", what, archive_error_string(ar));
        goto out;
    }
    while ((r = archive_read_next_header(ar, &entry)) != ARCHIVE_EOF) {
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            if (e->code == CF_E_OK)
                cf_err_set(e, CF_E_CORRUPT, "%s: %s", what, archive_error_string(ar));
            goto out;
        }
        if (src_tar_extract_entry(ar, dw, entry, what, e) != 0)
            goto out;
    }
    if (archive_write_close(dw) != ARCHIVE_OK) {
        cf_err_set(e, CF_E_IO, "unable to finish the restore: %s",
                   ar_error(dw, msg, sizeof(msg)));
        goto out;
    }
    /* the pax stream ends before the frame does: leave the rest to the frame check */
    rc = 0;
out:
    archive_read_free(ar);
    archive_write_free(dw);
    free(c.buf);
    return rc;
}

int src_tar_rest_is_padding(struct source_in *in, const char *what, struct cf_err *e)
{
    char rest[65536];
    ssize_t n;
    while ((n = source_in_read(in, rest, sizeof(rest), e)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (rest[i] != 0)
                return cf_err_set(e, CF_E_CORRUPT, "data after the end of the %s", what);
    return n < 0 ? -1 : 0;
}

int src_tar_extract_beside(struct source_in *in, const char *dest, const char *what,
                           src_extract_fn extract, void *arg, char **tmp, struct cf_err *e)
{
    char *parent = fs_dirname(dest);
    const char *part;
    int cwd = -1, rc = -1, k;
    bool in_tmp = false;

    *tmp = cf_asprintf("%s/.%s.coffer-partial-XXXXXX", parent, strrchr(dest, '/') + 1);
    if (mkdtemp(*tmp) == NULL) {
        cf_err_sys(e, CF_E_IO, "unable to create a directory beside '%s'", dest);
        free(*tmp);
        *tmp = NULL;
        goto out;
    }
    if ((k = source_in_next_part(in, &part, e)) <= 0) {
        if (k == 0)
            cf_err_set(e, CF_E_CORRUPT, "the backup holds no %s", what);
        goto out;
    }
    cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0 || chdir(*tmp) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to enter '%s'", *tmp);
        goto out;
    }
    in_tmp = true;
    if (extract ? extract(in, arg, e) != 0 : src_tar_extract(in, what, e) != 0)
        goto out;
    if (fchdir(cwd) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to return to the working directory");
        goto out;
    }
    in_tmp = false;
    if (extract == NULL && src_tar_rest_is_padding(in, what, e) != 0)
        goto out;
    rc = 0;
out:
    if (in_tmp && fchdir(cwd) != 0)
        log_error("unable to return to the working directory");
    if (cwd >= 0)
        close(cwd);
    if (rc != 0) {
        src_tar_partial_drop(*tmp);
        *tmp = NULL;
    }
    free(parent);
    return rc;
}

void src_tar_partial_drop(char *tmp)
{
    struct cf_err e = CF_ERR_INIT;
    if (tmp == NULL)
        return;
    if (fs_remove_tree(tmp, &e) != 0)
        log_warn("unable to remove the partial restore %s: %s", tmp, e.msg);
    free(tmp);
}

char *src_tar_dest_path(const char *to)
{
    char cwd[PATH_MAX];
    char *p;
    if (to[0] == '/')
        p = cf_strdup(to);
    else if (getcwd(cwd, sizeof(cwd)) != NULL)
        p = cf_asprintf("%s/%s", cwd, to);
    else
        p = cf_strdup(to);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

int src_tar_partial_place(char **tmp, const char *dest, struct cf_err *e)
{
    if (rename(*tmp, dest) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to rename '%s' to '%s'", *tmp, dest);
    free(*tmp);
    *tmp = NULL;
    char *parent = fs_dirname(dest);
    int rc = fs_fsync_dir(parent, e);
    free(parent);
    return rc;
}
