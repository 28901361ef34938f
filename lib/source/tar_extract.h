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

#endif
