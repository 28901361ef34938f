/* tar_extract.h - extracting a tar stream of a backup (volumes, PostgreSQL base backups). */
#ifndef CF_TAR_EXTRACT_H
#define CF_TAR_EXTRACT_H

#include "../core/err.h"

struct source_in;

/* src_tar_extract() - extract the tar stream of the current part of @in into the working
 * directory with libarchive's secure flags (no "..", no absolute paths, no writing through
 * symlinks), keeping modes, owners (when root), times, ACLs and xattrs. @what names the
 * stream in errors ("volume stream"). Stops at the archive's end: the caller checks the rest
 * of the part (src_tar_rest_is_padding). */
int src_tar_extract(struct source_in *in, const char *what, struct cf_err *e);
/* src_tar_rest_is_padding() - the rest of the current part of @in holds only zero bytes (the
 * part ends where the archive did); @what names the archive in the error */
int src_tar_rest_is_padding(struct source_in *in, const char *what, struct cf_err *e);

/* src_tar_extract_beside() - extract the next part of @in, a tar stream, into a new directory
 * beside @dest (".<name>.coffer-partial-XXXXXX", mode 0700; @dest's parent must exist), the
 * working directory meanwhile, proving the part ends where the archive does. 0 with *@tmp
 * naming it (the caller renames it into place or drops it); on -1 nothing is left. */
int src_tar_extract_beside(struct source_in *in, const char *dest, const char *what, char **tmp,
                           struct cf_err *e);
/* src_tar_partial_place() - rename the partial directory *@tmp to @dest (which must not
 * exist), free it (*@tmp = NULL) and sync the parent; on a failed rename *@tmp is kept */
int src_tar_partial_place(char **tmp, const char *dest, struct cf_err *e);
/* src_tar_dest_path() - the destination @to of a restore as an absolute path without a
 * trailing slash (libarchive's secure checks run with another working directory); free() it */
char *src_tar_dest_path(const char *to);
/* src_tar_partial_drop() - remove the partial directory @tmp and free it (NULL is fine) */
void src_tar_partial_drop(char *tmp);

#endif
