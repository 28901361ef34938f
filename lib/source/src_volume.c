/* src_volume.c - a directory tree as a pax stream (libarchive).
 *
 * Export walks the tree with archive_read_disk (symlinks not followed; owners, modes, times,
 * xattrs, ACLs, sparse maps read) and writes pax with hdrcharset=BINARY, so names that are
 * not UTF-8 come back byte for byte. Entry names are relative to the volume: "." for its root,
 * "a/b" below it. Hard links are found with libarchive's link resolver. A file that vanishes
 * or changes size while read is a warning recorded in the manifest; the archive stays valid
 * (a shrunk file is padded with zeros to the size its header announced).
 *
 * Import extracts into a new directory beside the destination, ".<name>.coffer-partial-XXXXXX",
 * with libarchive's secure flags (no "..", no absolute paths, no writing through symlinks),
 * then renames it into place. A failed restore removes it: nothing at the destination looks
 * complete. The process's working directory is the partial directory during extraction,
 * because libarchive's secure checks work relative to it. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "source.h"
#include "tar_extract.h"
#include "vol_int.h"

#define MAX_EXCLUDES 256
#define MAX_WARNINGS_KEPT 200


static const char *const volume_keys[] = { "path", "exclude", NULL };

static int volume_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    const char *path, *ex[MAX_EXCLUDES];
    struct volume *v;
    size_t n;

    if (ini_require_str(sec, "path", &path, e) != 0)
        return -1;
    if (path[0] != '/')
        return ini_err(sec, "path", e, "path: '%s' must be an absolute path", path);
    n = ini_get_all(sec, "exclude", ex, MAX_EXCLUDES);
    if (n > MAX_EXCLUDES)
        return ini_err(sec, NULL, e, "more than %d exclude patterns", MAX_EXCLUDES);
    v = cf_calloc(1, sizeof(*v));
    v->path = cf_strdup(path);
    size_t len = strlen(v->path);
    while (len > 1 && v->path[len - 1] == '/')
        v->path[--len] = '\0';
    v->excludes = cf_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (ex[i][0] == '\0') {
            free(v->excludes);
            free(v->path);
            free(v);
            return ini_err(sec, "exclude", e, "exclude: empty pattern");
        }
        v->excludes[v->nexcludes++] = cf_strdup(ex[i]);
    }
    *priv = v;
    return 0;
}

static void volume_close(void *priv)
{
    struct volume *v = priv;
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->nexcludes; i++)
        free(v->excludes[i]);
    free(v->excludes);
    free(v->path);
    free(v);
}

/* Exclude patterns (fnmatch): "*.tmp" matches a name anywhere; "cache/" (trailing slash)
 * matches directories only; a pattern with a '/' inside matches the path from the root. */
bool vol_excluded(const struct volume *v, const char *rel, bool is_dir)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (size_t i = 0; i < v->nexcludes; i++) {
        char pat[PATH_MAX];
        bool dir_only = false;
        snprintf(pat, sizeof(pat), "%s", v->excludes[i]);
        size_t n = strlen(pat);
        if (n > 1 && pat[n - 1] == '/') {
            pat[n - 1] = '\0';
            dir_only = true;
        }
        if (dir_only && !is_dir)
            continue;
        const char *p = pat[0] == '/' ? pat + 1 : pat;
        bool anchored = strchr(p, '/') != NULL || pat[0] == '/';
        if (fnmatch(p, anchored ? rel : base, 0) == 0)
            return true;
    }
    return false;
}

void vol_warn(struct export_ctx *x, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("volume: %s", msg);
    if (x->nwarn++ < MAX_WARNINGS_KEPT)
        json_array_append_new(x->warnings, json_string(msg));
}

la_ssize_t vol_out_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct export_ctx *x = arg;
    x->written += len;
    if (source_out_write(x->out, buf, len, x->e) != 0) {
        archive_set_error(a, EIO, "%s", x->e->msg);
        return -1;
    }
    return (la_ssize_t)len;
}

int vol_copy_file_data(struct archive *in, struct archive *out, struct archive_entry *entry,
                          const char *rel, struct export_ctx *x)
{
    static const char zeros[65536];
    const void *buf;
    size_t size;
    la_int64_t offset, progress = 0, want = archive_entry_size(entry);
    int r;

    while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
        if (offset > progress) {   /* a hole: the pax writer drops these zeros again */
            la_int64_t gap = offset - progress;
            while (gap > 0) {
                size_t n = gap > (la_int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)gap;
                if (progress + (la_int64_t)n > want)
                    n = (size_t)(want - progress);
                if (n == 0)
                    break;
                if (archive_write_data(out, zeros, n) < 0)
                    return -1;
                if (x->hash)
                    crypto_generichash_update(x->hash, (const unsigned char *)zeros, n);
                gap -= (la_int64_t)n;
                progress += (la_int64_t)n;
            }
            progress = offset;
        }
        if (progress + (la_int64_t)size > want) {
            size = progress < want ? (size_t)(want - progress) : 0;
            if (size == 0) {
                vol_warn(x, "'%s' grew while being read; its first %lld bytes were kept", rel,
                     (long long)want);
                break;
            }
        }
        if (archive_write_data(out, buf, size) < 0)
            return -1;
        if (x->hash)
            crypto_generichash_update(x->hash, buf, size);
        progress += (la_int64_t)size;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
        if (r == ARCHIVE_FATAL)
            return -1;
        vol_warn(x, "'%s' could not be read completely (%s); the rest is zeros", rel,
             archive_error_string(in));
    } else if (progress < want && archive_entry_sparse_count(entry) == 0) {
        /* a sparse file's trailing hole also ends early; any other file shrank */
        vol_warn(x, "'%s' shrank while being read; padded with zeros to %lld bytes", rel,
             (long long)want);
        for (la_int64_t left = want - progress; x->hash && left > 0;) {
            size_t n = left > (la_int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)left;
            crypto_generichash_update(x->hash, (const unsigned char *)zeros, n);
            left -= (la_int64_t)n;
        }
    }
    return 0;
}

int vol_archives_open(struct volume *v, struct export_ctx *x, int behavior, struct archive **in,
                      struct archive **ar, struct archive_entry_linkresolver **res,
                      struct cf_err *e)
{
    *in = archive_read_disk_new();
    *ar = archive_write_new();
    *res = archive_entry_linkresolver_new();
    if (*in == NULL || *ar == NULL || *res == NULL)
        return cf_err_set(e, CF_E_NOMEM, "libarchive: out of memory");
    archive_read_disk_set_standard_lookup(*in);
    archive_read_disk_set_symlink_physical(*in);
    if (archive_read_disk_set_behavior(*in, behavior) != ARCHIVE_OK)
        return cf_err_set(e, CF_E_INTERNAL, "libarchive: %s", archive_error_string(*in));
    if (archive_write_set_format_pax(*ar) != ARCHIVE_OK ||
        archive_write_set_options(*ar, "hdrcharset=BINARY") != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(*ar, 0) != ARCHIVE_OK ||
        archive_write_open(*ar, x, NULL, vol_out_write, NULL) != ARCHIVE_OK)
        return cf_err_set(e, CF_E_INTERNAL, "libarchive: %s", archive_error_string(*ar));
    archive_entry_linkresolver_set_strategy(*res, archive_format(*ar));
    if (archive_read_disk_open(*in, v->path) != ARCHIVE_OK)
        return cf_err_set(e, CF_E_SOURCE, "unable to open volume '%s': %s", v->path,
                          archive_error_string(*in));
    return 0;
}

void vol_archives_close(struct archive *in, struct archive *ar,
                        struct archive_entry_linkresolver *res)
{
    archive_entry_linkresolver_free(res);
    if (ar)
        archive_write_free(ar);
    if (in)
        archive_read_free(in);
}

int vol_walk_next(struct volume *v, struct archive *in, struct export_ctx *x, char *rel,
                  size_t relcap, struct archive_entry **out, uint64_t *excluded,
                  struct cf_err *e)
{
    size_t rootlen = strlen(v->path);

    *out = NULL;
    for (;;) {
        struct archive_entry *entry = archive_entry_new();
        int r = archive_read_next_header2(in, entry);
        if (r == ARCHIVE_EOF) {
            archive_entry_free(entry);
            return 0;
        }
        const char *full = archive_entry_pathname(entry);
        if (r == ARCHIVE_FATAL) {
            cf_err_set(e, CF_E_SOURCE, "reading volume '%s': %s", v->path,
                       archive_error_string(in));
            archive_entry_free(entry);
            return -1;
        }
        if (r == ARCHIVE_FAILED) {
            vol_warn(x, "'%s' skipped: %s", full ? full : "?", archive_error_string(in));
            archive_entry_free(entry);
            continue;
        }
        if (r == ARCHIVE_WARN)
            vol_warn(x, "'%s': %s", full ? full : "?", archive_error_string(in));
        if (full == NULL || strncmp(full, v->path, rootlen) != 0 ||
            (full[rootlen] != '\0' && full[rootlen] != '/' && rootlen > 1)) {
            cf_err_set(e, CF_E_INTERNAL, "entry '%s' outside the volume", full ? full : "?");
            archive_entry_free(entry);
            return -1;
        }
        const char *tail = full + rootlen;
        while (*tail == '/')
            tail++;
        snprintf(rel, relcap, "%s", *tail ? tail : ".");
        bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
        if (*tail && vol_excluded(v, rel, is_dir)) {
            (*excluded)++;
            archive_entry_free(entry);
            continue;
        }
        if (is_dir)
            archive_read_disk_descend(in);
        *out = entry;
        return 1;
    }
}

static int volume_export(void *priv, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct volume *v = priv;
    struct archive *in = NULL, *ar = NULL;
    struct archive_entry_linkresolver *res = NULL;
    struct archive_entry *entry = NULL, *spare = NULL;
    struct export_ctx x = { out, json_array(), 0, e, 0, NULL };
    uint64_t files = 0, dirs = 0, others = 0, excluded_n = 0, file_bytes = 0;
    struct stat st;
    int rc = -1, r;

    if (stat(v->path, &st) != 0) {
        cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "volume '%s'", v->path);
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        cf_err_set(e, CF_E_SOURCE, "volume '%s' is not a directory", v->path);
        goto out;
    }
    if (source_out_seg_id(out)[0] != '\0') {   /* a segmented stream: layout 3 */
        json_decref(x.warnings);
        return vol_seg_export(v, out, info, e);
    }
    if (vol_archives_open(v, &x, 0, &in, &ar, &res, e) != 0)
        goto out;
    for (;;) {
        char rel[PATH_MAX + 2];
        int k = vol_walk_next(v, in, &x, rel, sizeof(rel), &entry, &excluded_n, e);
        if (k <= 0) {
            if (k < 0)
                goto out;
            break;
        }
        bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
        archive_entry_copy_pathname(entry, rel);
        archive_entry_linkify(res, &entry, &spare);
        if (entry == NULL)
            continue;   /* deferred by the resolver (not with pax; handled at the end) */
        r = archive_write_header(ar, entry);
        if (r == ARCHIVE_FATAL) {
            cf_err_set(e, e->code ? e->code : CF_E_SOURCE, "writing '%s': %s", rel,
                       e->code ? e->msg : archive_error_string(ar));
            goto out;
        }
        if (r == ARCHIVE_FAILED) {
            vol_warn(&x, "'%s' skipped: %s", rel, archive_error_string(ar));
        } else {
            if (r == ARCHIVE_WARN)
                vol_warn(&x, "'%s': %s", rel, archive_error_string(ar));
            if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_size(entry) > 0 &&
                vol_copy_file_data(in, ar, entry, rel, &x) != 0) {
                if (e->code == CF_E_OK)
                    cf_err_set(e, CF_E_SOURCE, "reading '%s': %s", rel, archive_error_string(in));
                goto out;
            }
            if (is_dir)
                dirs++;
            else if (archive_entry_filetype(entry) == AE_IFREG) {
                files++;
                /* each inode once: a later link of it is written as a hard link */
                if (archive_entry_hardlink(entry) == NULL && archive_entry_size(entry) > 0)
                    file_bytes += (uint64_t)archive_entry_size(entry);
            }
            else
                others++;
        }
        archive_entry_free(entry);
        entry = NULL;
    }
    /* entries the resolver held back (formats that put data on the last link) */
    entry = NULL;
    archive_entry_linkify(res, &entry, &spare);
    while (entry != NULL) {
        if (archive_write_header(ar, entry) == ARCHIVE_FATAL) {
            cf_err_set(e, CF_E_SOURCE, "libarchive: %s", archive_error_string(ar));
            goto out;
        }
        archive_entry_free(entry);
        entry = NULL;
        archive_entry_linkify(res, &entry, &spare);
    }
    if (archive_write_close(ar) != ARCHIVE_OK) {
        if (e->code == CF_E_OK)
            cf_err_set(e, CF_E_SOURCE, "libarchive: %s", archive_error_string(ar));
        goto out;
    }
    json_object_set_new(info, "path", json_string(v->path));
    json_object_set_new(info, "files", json_integer((json_int_t)files));
    json_object_set_new(info, "file_bytes", json_integer((json_int_t)file_bytes));
    json_object_set_new(info, "directories", json_integer((json_int_t)dirs));
    json_object_set_new(info, "other_entries", json_integer((json_int_t)others));
    json_object_set_new(info, "excluded", json_integer((json_int_t)excluded_n));
    json_object_set_new(info, "warning_count", json_integer(x.nwarn));
    json_object_set(info, "warnings", x.warnings);
    log_info("volume read path=%s files=%" PRIu64 " directories=%" PRIu64 " excluded=%" PRIu64
             " warnings=%u", v->path, files, dirs, excluded_n, x.nwarn);
    rc = 0;
out:
    archive_entry_free(entry);
    archive_entry_free(spare);
    vol_archives_close(in, ar, res);
    json_decref(x.warnings);
    return rc;
}

/* ---- restore ---- */


/* the destination may be missing, an empty directory, or (with --force) a full one */
static int check_destination(const char *dest, bool force, bool *exists, bool *empty,
                             struct cf_err *e)
{
    struct stat st;
    *exists = *empty = false;
    if (lstat(dest, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return cf_err_sys(e, CF_E_IO, "unable to look at '%s'", dest);
    }
    if (!S_ISDIR(st.st_mode))
        return cf_err_set(e, CF_E_USAGE, "--to '%s' exists and is not a directory", dest);
    *exists = true;
    if (fs_dir_is_empty(dest, empty, e) != 0)
        return -1;
    if (!*empty && !force)
        return cf_err_set(e, CF_E_USAGE,
                          "--to '%s' is not empty; HINT: choose an empty or new directory, or "
                          "add --force to replace it (its contents are moved aside, not deleted)",
                          dest);
    return 0;
}

static int volume_plan(void *priv, const struct restore_opts *o, json_t *info, struct buf *lines,
                       struct cf_err *e)
{
    bool exists, empty;
    (void)priv;
    if (o->to_dir == NULL)
        return cf_err_set(e, CF_E_USAGE, "a volume restores into a directory: give --to DIR");
    if (o->to_file || o->into_db || o->into_redis || o->database)
        return cf_err_set(e, CF_E_USAGE,
                          "--to-file, --into-db, --into-redis and --database are for databases; "
                          "a volume takes --to DIR");
    char *dest = src_tar_dest_path(o->to_dir);
    int rc = check_destination(dest, o->force, &exists, &empty, e);
    if (rc == 0) {
        buf_printf(lines, "  restore volume %s (%lld files) into %s\n",
                   json_string_value(json_object_get(info, "path")),
                   (long long)json_integer_value(json_object_get(info, "files")), dest);
        if (exists && !empty)
            buf_printf(lines,
                       "  %s is not empty: its contents will be moved to %s.coffer-old-<time>\n",
                       dest, dest);
        buf_printf(lines,
                   "  extracted first into a partial directory beside it, renamed into place when "
                   "complete\n");
    }
    free(dest);
    return rc;
}


static int seg_extract(struct source_in *in, void *index, struct cf_err *e)
{
    return vol_seg_extract(in, index, e);
}

static int volume_import(void *priv, struct source_in *in, const struct restore_opts *o,
                         json_t *info, struct cf_err *e)
{
    char *dest = NULL, *parent = NULL, *tmp = NULL, *old = NULL;
    bool exists, empty;
    int rc = -1;

    (void)priv;
    (void)info;
    if (o->to_dir == NULL)
        return cf_err_set(e, CF_E_USAGE, "a volume restores into a directory: give --to DIR");
    dest = src_tar_dest_path(o->to_dir);
    if (check_destination(dest, o->force, &exists, &empty, e) != 0)
        goto out;
    parent = fs_dirname(dest);
    if (fs_mkdir_p(parent, 0700, e) != 0)
        goto out;
    json_t *index = source_in_seg_index(in);   /* layout 3: segments named by the index */
    if (src_tar_extract_beside(in, dest, "volume stream", index ? seg_extract : NULL, index,
                               &tmp, e) != 0)
        goto out;
    /* everything is extracted: now, and only now, put it in place */
    if (exists && empty && rmdir(dest) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to replace the empty directory '%s'", dest);
        goto out;
    }
    if (exists && !empty) {
        char ts[32];
        time_format_compact(time(NULL), ts, sizeof(ts));
        old = cf_asprintf("%s.coffer-old-%s", dest, ts);
        if (rename(dest, old) != 0) {
            cf_err_sys(e, CF_E_IO, "unable to move '%s' aside", dest);
            goto out;
        }
        log_warn("restore: the previous contents of %s were moved to %s", dest, old);
    }
    if (src_tar_partial_place(&tmp, dest, e) != 0) {
        if (tmp && old)
            rename(old, dest);
        goto out;
    }
    rc = 0;
out:
    src_tar_partial_drop(tmp);
    free(old);
    free(parent);
    free(dest);
    return rc;
}

/* check step: the path is a directory this process can list */
static void volume_check(void *priv, const struct ini_section *sec, struct conf_report *r)
{
    const struct volume *v = priv;
    struct cf_err e = CF_ERR_INIT;
    struct stat st;

    if (stat(v->path, &st) != 0)
        cf_err_sys(&e, CF_E_CONFIG, "path '%s'", v->path);
    else if (!S_ISDIR(st.st_mode))
        cf_err_set(&e, CF_E_CONFIG, "path '%s' is not a directory", v->path);
    else if (access(v->path, R_OK | X_OK) != 0)
        cf_err_sys(&e, CF_E_CONFIG, "path '%s' cannot be read", v->path);
    if (e.code != CF_E_OK)
        conf_report_add(r, sec, "path", &e);
}

const struct source_ops src_volume_ops = {
    .name = "volume",
    .keys = volume_keys,
    .open = volume_open,
    .close = volume_close,
    .export = volume_export,
    .import = volume_import,
    .plan = volume_plan,
    .check = volume_check,
};
