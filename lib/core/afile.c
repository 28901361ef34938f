#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define WRITEBACK_STEP (8u << 20)

static void afile_release(struct afile *f)
{
    free(f->path);
    free(f->tmp);
    free(f->dir);
    f->path = f->tmp = f->dir = NULL;
}

int afile_begin(struct afile *f, const char *path, const char *suffix, mode_t mode,
                struct cf_err *e)
{
    memset(f, 0, sizeof(*f));
    f->path = cf_strdup(path);
    f->dir = fs_dirname(path);
    f->tmp = cf_asprintf("%s%sXXXXXX", path, suffix);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create a temporary file beside '%s'", path);
        goto fail;
    }
    if (fchmod(f->fd, mode) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to set the mode of '%s'", f->tmp);
        goto fail;
    }
    return 0;
fail:
    if (f->fd >= 0) {
        close(f->fd);
        unlink(f->tmp);
    }
    f->fd = -1;
    afile_release(f);
    return -1;
}

int afile_write(struct afile *f, const void *buf, size_t len, struct cf_err *e)
{
    if (fs_write_all(f->fd, buf, len, f->tmp, e) != 0)
        return -1;
    f->written += len;
    if (f->written - f->flushed >= WRITEBACK_STEP) {
        /* start writeback of what is written; never waits */
        (void)sync_file_range(f->fd, (off_t)f->flushed, (off_t)(f->written - f->flushed),
                              SYNC_FILE_RANGE_WRITE);
        f->flushed = f->written;
    }
    return 0;
}

int afile_commit(struct afile *f, unsigned flags, struct cf_err *e)
{
    if (fsync(f->fd) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to sync '%s'", f->tmp);
    if (close(f->fd) != 0) {
        f->fd = -1;
        return cf_err_sys(e, CF_E_IO, "unable to close '%s'", f->tmp);
    }
    f->fd = -1;
    if (flags & AFILE_NOREPLACE) {
        if (link(f->tmp, f->path) != 0)
            return cf_err_sys(e, errno == EEXIST ? CF_E_EXISTS : CF_E_IO,
                              "unable to publish '%s'", f->path);
        unlink(f->tmp);
    } else if (rename(f->tmp, f->path) != 0) {
        return cf_err_sys(e, CF_E_IO, "unable to rename '%s' to '%s'", f->tmp, f->path);
    }
    /* the temporary name is gone: an abort after this must not unlink anything */
    free(f->tmp);
    f->tmp = NULL;
    if (fs_fsync_dir(f->dir, e) != 0)
        return -1;   /* published but not yet durable; the caller aborts (a no-op now) */
    afile_release(f);
    return 0;
}

void afile_abort(struct afile *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp)
        unlink(f->tmp);
    afile_release(f);
}
