/* tgt_local.c - a repository in a local directory (or an NFS mount).
 *
 * put: the key's directory and its missing parents created, each new one fsync'd in its
 * parent (its entry durable); a temporary file "<key>.tmp-XXXXXX" in the key's directory,
 * written, fsync'd, renamed onto the key, and the directory fsync'd (the rename itself
 * durable). docs/FORMAT.md "Durability on a local target" lists every fsync. Writeback is started
 * every few MiB (sync_file_range) so that the final fsync waits for little and the disk works
 * while the pipeline computes. NOREPLACE publishes with link(2), which fails if the key exists.
 * Files are 0600, directories 0700. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/afile.h"
#include "../core/util.h"
#include "target.h"

struct local {
    char *root;   /* absolute */
    char *desc;
};

struct local_writer {
    struct local *l;
    struct afile f;   /* the temporary file and the key's path */
    char *dir;        /* the key's directory, pruned when an aborted put leaves it empty */
    unsigned flags;
};

struct local_reader {
    int fd;
    char *path;
};

static const char *const local_keys[] = { "path", NULL };

static int local_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    const char *path;
    char abs[PATH_MAX];
    struct local *l;

    if (ini_require_str(sec, "path", &path, e) != 0)
        return -1;
    if (path[0] == '/') {
        snprintf(abs, sizeof(abs), "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return cf_err_sys(e, CF_E_IO, "unable to get the working directory");
        snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
    }
    l = cf_calloc(1, sizeof(*l));
    l->root = cf_strdup(abs);
    l->desc = cf_asprintf("local %s", abs);
    *priv = l;
    return 0;
}

static void local_close(void *priv)
{
    struct local *l = priv;
    if (l == NULL)
        return;
    free(l->root);
    free(l->desc);
    free(l);
}

static const char *local_describe(void *priv)
{
    return ((struct local *)priv)->desc;
}

/* Create @dir (absolute) and its missing parents, 0700. A directory's entry lives in its
 * parent, so each directory created here is made durable by an fsync of its parent, as
 * rdbSave() and pgBackRest's storagePosixPathCreate() do: without it, a power cut after a
 * commit could lose backups/<source>/<id>/ and with it the objects the commit made durable.
 * Directories that already existed are not synced again (their creator did it). */
static int mkdir_durable(const char *dir, struct cf_err *e)
{
    char *p = cf_strdup(dir);
    int rc = 0;

    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) == 0) {
            char *parent = fs_dirname(p);
            rc = fs_fsync_dir(parent, e);
            free(parent);
        } else if (errno != EEXIST) {
            rc = cf_err_sys(e, CF_E_IO, "unable to create directory '%s'", p);
        }
        *s = c;
        if (rc != 0 || c == '\0')
            break;
    }
    free(p);
    return rc;
}

/* keys are relative, '/'-separated, without '.' or '..' components */
static int key_check(const char *key, struct cf_err *e)
{
    const char *p = key;
    if (*key == '\0' || *key == '/')
        return cf_err_set(e, CF_E_INTERNAL, "bad object key '%s'", key);
    while (*p) {
        const char *s = strchr(p, '/');
        size_t n = s ? (size_t)(s - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return cf_err_set(e, CF_E_INTERNAL, "bad object key '%s'", key);
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

static int local_put_begin(void *priv, const char *key, uint64_t size_hint, unsigned flags,
                           void **out, struct cf_err *e)
{
    struct local *l = priv;
    struct local_writer *w;
    char *path;
    int rc;

    (void)size_hint;
    if (key_check(key, e) != 0)
        return -1;
    w = cf_calloc(1, sizeof(*w));
    w->l = l;
    w->flags = flags;
    path = cf_asprintf("%s/%s", l->root, key);
    w->dir = fs_dirname(path);
    rc = mkdir_durable(w->dir, e) == 0 ? afile_begin(&w->f, path, ".tmp-", 0600, e) : -1;
    free(path);
    if (rc != 0) {
        free(w->dir);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int local_write(void *wp, const void *buf, size_t len, struct cf_err *e)
{
    struct local_writer *w = wp;
    return afile_write(&w->f, buf, len, e);
}

/* remove @dir and its parents while they are empty, up to (not including) the root */
static void prune_empty_dirs(const struct local *l, const char *dir)
{
    char *d = cf_strdup(dir);
    while (strlen(d) > strlen(l->root) && rmdir(d) == 0) {
        char *up = fs_dirname(d);
        free(d);
        d = up;
    }
    free(d);
}

static int local_commit(void *wp, struct cf_err *e)
{
    struct local_writer *w = wp;

    if (afile_commit(&w->f, w->flags & TARGET_PUT_NOREPLACE ? AFILE_NOREPLACE : 0, e) != 0)
        return -1;   /* the caller aborts */
    free(w->dir);
    free(w);
    return 0;
}

static void local_abort(void *wp)
{
    struct local_writer *w = wp;
    if (w == NULL)
        return;
    afile_abort(&w->f);
    prune_empty_dirs(w->l, w->dir);   /* an aborted put leaves no trace */
    free(w->dir);
    free(w);
}

static int local_get_begin(void *priv, const char *key, void **out, struct cf_err *e)
{
    struct local *l = priv;
    struct local_reader *r;
    char *path;
    int fd;

    if (key_check(key, e) != 0)
        return -1;
    path = cf_asprintf("%s/%s", l->root, key);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "unable to open '%s'", path);
        free(path);
        return -1;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r = cf_calloc(1, sizeof(*r));
    r->fd = fd;
    r->path = path;
    *out = r;
    return 0;
}

static ssize_t local_read(void *rp, void *buf, size_t cap, struct cf_err *e)
{
    struct local_reader *r = rp;
    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return cf_err_sys(e, CF_E_IO, "unable to read '%s'", r->path);
    }
}

static void local_get_end(void *rp)
{
    struct local_reader *r = rp;
    if (r == NULL)
        return;
    close(r->fd);
    free(r->path);
    free(r);
}

static int local_stat(void *priv, const char *key, uint64_t *size, struct cf_err *e)
{
    struct local *l = priv;
    struct stat st;
    char *path;
    int rc = 0;

    if (key_check(key, e) != 0)
        return -1;
    path = cf_asprintf("%s/%s", l->root, key);
    if (stat(path, &st) != 0)
        rc = cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "unable to stat '%s'",
                        path);
    else
        *size = (uint64_t)st.st_size;
    free(path);
    return rc;
}

/* walk @dir (absolute) whose key prefix is @rel ("" or "a/b/"), calling back for files whose
 * key starts with @prefix; temporary files of unfinished puts are skipped */
static int list_dir(const char *dir, const char *rel, const char *prefix, target_list_cb cb,
                    void *arg, struct cf_err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : cf_err_sys(e, CF_E_IO, "unable to list '%s'", dir);
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
                                     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
            continue;
        char *key = cf_asprintf("%s%s", rel, de->d_name);
        size_t klen = strlen(key), plen = strlen(prefix);
        /* descend only where the prefix can still match */
        bool may_match = strncmp(key, prefix, klen < plen ? klen : plen) == 0;
        if (may_match) {
            char *path = cf_asprintf("%s/%s", dir, de->d_name);
            struct stat st;
            if (lstat(path, &st) != 0) {
                if (errno != ENOENT)
                    rc = cf_err_sys(e, CF_E_IO, "unable to stat '%s'", path);
            } else if (S_ISDIR(st.st_mode)) {
                char *sub = cf_asprintf("%s/", key);
                rc = list_dir(path, sub, prefix, cb, arg, e);
                free(sub);
            } else if (S_ISREG(st.st_mode) && klen >= plen && strstr(de->d_name, ".tmp-") == NULL) {
                rc = cb(arg, key, (uint64_t)st.st_size);
                if (rc != 0 && e->code == CF_E_OK)
                    cf_err_set(e, CF_E_INTERNAL, "listing stopped by its caller");
            }
            free(path);
        }
        free(key);
    }
    if (rc == 0 && errno != 0)
        rc = cf_err_sys(e, CF_E_IO, "unable to list '%s'", dir);
    closedir(d);
    return rc;
}

static int local_list(void *priv, const char *prefix, target_list_cb cb, void *arg,
                      struct cf_err *e)
{
    struct local *l = priv;
    return list_dir(l->root, "", prefix, cb, arg, e);
}

static int local_remove(void *priv, const char *key, struct cf_err *e)
{
    struct local *l = priv;
    char *path, *dir;
    int rc = 0;

    if (key_check(key, e) != 0)
        return -1;
    path = cf_asprintf("%s/%s", l->root, key);
    dir = fs_dirname(path);
    if (unlink(path) == 0) {
        /* the removal durable before the caller's next step: prune removes a manifest, then
         * the data, and a power cut must not bring back a manifest whose data is gone */
        rc = fs_fsync_dir(dir, e);
    } else if (errno != ENOENT) {
        rc = cf_err_sys(e, CF_E_IO, "unable to remove '%s'", path);
    }
    if (rc == 0)
        prune_empty_dirs(l, dir);   /* drop directories left empty, up to the root */
    free(dir);
    free(path);
    return rc;
}

const struct target_ops tgt_local_ops = {
    .name = "local",
    .keys = local_keys,
    .open = local_open,
    .close = local_close,
    .describe = local_describe,
    .put_begin = local_put_begin,
    .write = local_write,
    .commit = local_commit,
    .abort = local_abort,
    .get_begin = local_get_begin,
    .read = local_read,
    .get_end = local_get_end,
    .stat = local_stat,
    .list = local_list,
    .remove = local_remove,
};
