/* afile.h - one file written atomically: a temporary file in the destination's directory,
 * written, fsync'd, renamed onto the name (or linked, when the name must not exist yet), and
 * the directory fsync'd, so the name holds either nothing, the old file or the whole new one.
 * An abort removes the temporary file. What every writer of a whole file uses (the local
 * target's objects, the configuration helpers, restore's --to-file). */
#ifndef CF_AFILE_H
#define CF_AFILE_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct afile {
    int fd;           /* the temporary file, open for writing; -1 once closed */
    char *path;       /* the name it takes at commit */
    char *tmp;        /* "<path><suffix>XXXXXX", in the same directory */
    char *dir;        /* the directory fsync'd after the rename */
    uint64_t written, flushed;
};

/* afile_commit() flags */
#define AFILE_NOREPLACE 1u   /* publish with link(2): CF_E_EXISTS when @path exists */

/* afile_begin() - create the temporary file "<@path><@suffix>XXXXXX" with @mode (the
 * directory must exist). On -1 (@e set) nothing is left behind and @f needs no abort. */
int afile_begin(struct afile *f, const char *path, const char *suffix, mode_t mode,
                struct cf_err *e);
/* afile_write() - append @len bytes; writeback is started every few MiB so that the final
 * fsync waits for little */
int afile_write(struct afile *f, const void *buf, size_t len, struct cf_err *e);
/* afile_commit() - fsync, close, rename (link with AFILE_NOREPLACE) onto the name, fsync the
 * directory; 0 releases @f. On -1 (@e set) the caller must still call afile_abort(@f): the
 * file may already carry its name (a failed directory fsync), which the abort leaves. */
int afile_commit(struct afile *f, unsigned flags, struct cf_err *e);
/* afile_abort() - close and remove the temporary file, release @f; safe after a successful
 * commit, and twice */
void afile_abort(struct afile *f);

#endif
