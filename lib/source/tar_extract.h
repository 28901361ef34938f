/* tar_extract.h - extracting a tar stream of a backup (volumes, PostgreSQL base backups). */
#ifndef CF_TAR_EXTRACT_H
#define CF_TAR_EXTRACT_H

#include <archive.h>
#include <archive_entry.h>

#include "../core/err.h"

struct source_in;

/* the extraction flags of every restore: modes, owners (when root), times, ACLs, xattrs, and
 * libarchive's secure checks */
#define SRC_TAR_EXTRACT_FLAGS                                                                \
    (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |                   \
     ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS |                  \
     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |                     \
     ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* src_tar_extract_entry() - extract the entry of @ar whose header was just read into @dw
 * (opened with SRC_TAR_EXTRACT_FLAGS), after our own check of its name and link target (an
 * absolute path or a ".." component is refused, naming it); @what names the stream */
int src_tar_extract_entry(struct archive *ar, struct archive *dw, struct archive_entry *entry,
                          const char *what, struct cf_err *e);

/* src_tar_extract() - extract the tar stream of the current part of @in into the working
 * directory with libarchive's secure flags (no "..", no absolute paths, no writing through
 * symlinks), keeping modes, owners (when root), times, ACLs and xattrs. @what names the
 * stream in errors ("volume stream"). Stops at the archive's end: the caller checks the rest
 * of the part (src_tar_rest_is_padding). */
int src_tar_extract(struct source_in *in, const char *what, struct cf_err *e);
/* src_tar_rest_is_padding() - the rest of the current part of @in holds only zero bytes (the
 * part ends where the archive did); @what names the archive in the error */
int src_tar_rest_is_padding(struct source_in *in, const char *what, struct cf_err *e);

/* how a part is extracted into the working directory, when it is not one tar stream (a
 * segmented volume backup: vol_seg.c) */
typedef int (*src_extract_fn)(struct source_in *in, void *arg, struct cf_err *e);
/* src_tar_extract_beside() - extract the next part of @in into a new directory beside @dest
 * (".<name>.coffer-partial-XXXXXX", mode 0700; @dest's parent must exist), the working
 * directory meanwhile: by @extract(@in, @arg) when given, else as a tar stream proved to end
 * where the part does. 0 with *@tmp naming it (the caller renames it into place or drops it);
 * on -1 nothing is left. */
int src_tar_extract_beside(struct source_in *in, const char *dest, const char *what,
                           src_extract_fn extract, void *arg, char **tmp, struct cf_err *e);
/* src_tar_partial_place() - rename the partial directory *@tmp to @dest (which must not
 * exist), free it (*@tmp = NULL) and sync the parent; on a failed rename *@tmp is kept */
int src_tar_partial_place(char **tmp, const char *dest, struct cf_err *e);
/* src_tar_dest_path() - the destination @to of a restore as an absolute path without a
 * trailing slash (libarchive's secure checks run with another working directory); free() it */
char *src_tar_dest_path(const char *to);
/* src_tar_partial_drop() - remove the partial directory @tmp and free it (NULL is fine) */
void src_tar_partial_drop(char *tmp);

#endif
