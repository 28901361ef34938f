/* util.h - time, sizes, durations, hex, and careful file system helpers. */
#ifndef CF_UTIL_H
#define CF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "tz.h"   /* time zones; time_zone_check() */

/* --- time --- */

/* "2026-11-22T03:15:00Z" into @out (at least 21 bytes) */
void time_format_rfc3339(time_t t, char *out, size_t cap);
/* RFC 3339 with 'Z' or a numeric offset ("2026-11-21T03:00:00+01:00"); also what operators
 * type during incidents: the offset without its colon ("+0100") and the time without seconds
 * ("2026-11-21T03:00Z"); fractions of a second are ignored; "now". Returns 0 or -1 (@e, one
 * line naming every accepted form). */
int time_parse_rfc3339(const char *s, time_t *out, struct cf_err *e);
/* TIME_LATEST - what "latest" asks for: no moment, the newest backup there is. Its value
 * (9999-12-31T23:59:59Z) lies after every backup's time, so a search "at or before" it finds
 * the newest even when a fast clock dated it ahead. A request, not a date: compare with it,
 * never print it. */
#define TIME_LATEST ((time_t)253402300799)
/* time_parse_at() - an operator's "when" for option @what ("--at"): the forms of
 * time_parse_rfc3339(), and "latest" (TIME_LATEST) when @latest_ok. On -1, @e is one line
 * ("--at 'x' is not a time: use ...") listing every form accepted. */
int time_parse_at(const char *what, const char *s, bool latest_ok, time_t *out,
                  struct cf_err *e);
/* "20261122T031500Z" (16 chars + NUL) */
void time_format_compact(time_t t, char *out, size_t cap);
int time_parse_compact(const char *s, time_t *out);
/* monotonic milliseconds */
uint64_t time_mono_ms(void);

/* --- sizes and durations in configuration --- */

/* "64MiB", "16 MiB", "1GiB", "512KiB", "1000000", "10MB" -> bytes */
int parse_size(const char *s, uint64_t *out);
/* "90s", "30m", "26h", "2d", "1w" -> seconds; a bare number is seconds */
int parse_duration(const char *s, int64_t *out);
/* "1.5 GiB" style for humans */
void format_bytes(uint64_t n, char *out, size_t cap);

/* --- hex --- */

void hex_encode(const unsigned char *in, size_t n, char *out /* 2n+1 */);
/* exact length: @n bytes from 2n hex chars; -1 on bad input */
int hex_decode(const char *in, unsigned char *out, size_t n);

/* --- file system --- */

/* write all of @buf, retrying on EINTR and short writes */
int fs_write_all(int fd, const void *buf, size_t len, const char *what, struct cf_err *e);
/* read up to @cap bytes (fewer only at EOF); returns bytes read or -1 */
ssize_t fs_read_full(int fd, void *buf, size_t cap, const char *what, struct cf_err *e);
/* read a whole (small) file, refusing files larger than @max */
int fs_read_file(const char *path, size_t max, struct buf *out, struct cf_err *e);
/* the whole of @data into @path through an afile (afile.h): temp file beside @path, write,
 * fsync, rename, fsync the directory; @mode applied */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct cf_err *e);
int fs_fsync_dir(const char *dir, struct cf_err *e);
/* the directory part of @path ("." when none), freshly allocated */
char *fs_dirname(const char *path);
/* create @path and missing parents with @mode; existing directories are fine */
int fs_mkdir_p(const char *path, mode_t mode, struct cf_err *e);
/* refuse a secret file that group or others can read or write */
int fs_check_private(const char *path, const char *what, struct cf_err *e);
/* read a secret file: private, non-empty; one trailing newline is dropped */
int fs_read_secret(const char *path, const char *what, struct buf *out, struct cf_err *e);
/* remove a tree (no following of symlinks); missing is fine */
int fs_remove_tree(const char *path, struct cf_err *e);
/* fs_private_tmpdir() - a new directory "coffer-@what-XXXXXX" (mode 0700) under $TMPDIR, or
 * /tmp: *@out names it (free() it); on -1 *@out is NULL */
int fs_private_tmpdir(const char *what, char **out, struct cf_err *e);
/* true if @path is a directory with no entries */
int fs_dir_is_empty(const char *path, bool *empty, struct cf_err *e);

/* number of online cores, at least 1 */
int sys_ncpu(void);

#endif
