/* repo_logz.h - private to lib/repo: a log file read once, digested and compressed in the same
 * pass (repo_logz.c), for repo_log.c. */
#ifndef CF_REPO_LOGZ_H
#define CF_REPO_LOGZ_H

#include <stdint.h>

#include <zstd.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "../crypto/keys.h"

/* the read size of a log file read twice */
#define LOGZ_CHUNK ((size_t)256 << 10)

/* logz_cctx() - a single-threaded zstd context at @level (a frame without zstd's content
 * checksum: the keyed digest checks the content); NULL when zstd cannot be set up */
ZSTD_CCtx *logz_cctx(int level);

/* logz_squeeze() - read the rest of @fd's file (@path, for messages; @size bytes when opened)
 * once into memory, then digest it with the keyed BLAKE2b-256 of @dkey on a second thread
 * (for a file of 2 chunks or more) while this one compresses the same bytes (level @level, one
 * zstd frame) into @z. 0 with @dig, *@len and @z set; 1 when the file holds more than @max
 * bytes (@z empty: read it another way); -1 with @e. */
int logz_squeeze(int fd, const char *path, int level, uint64_t size, uint64_t max,
                 const unsigned char dkey[KEY_BYTES], unsigned char dig[32], uint64_t *len,
                 struct buf *z, struct cf_err *e);

#endif
