/* vol_int.h - private to the volume driver (src_volume.c: configuration, the walk's helpers,
 * layout 1; vol_seg.c: layout 3, docs/FORMAT.md "Volume backups, layout 3"). */
#ifndef CF_VOL_INT_H
#define CF_VOL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "source.h"

struct volume {
    char *path;            /* as configured */
    char **excludes;
    size_t nexcludes;
};

struct export_ctx {
    struct source_out *out;
    json_t *warnings;
    unsigned nwarn;
    struct cf_err *e;
    uint64_t written;                  /* bytes passed to the stream */
    crypto_generichash_state *hash;    /* when set, the file data is hashed as written */
};

/* the exclude patterns' verdict on @rel */
bool vol_excluded(const struct volume *v, const char *rel, bool is_dir);
/* a warning kept in the manifest (at most 200) and logged */
void vol_warn(struct export_ctx *x, const char *fmt, ...) CF_PRINTF(2, 3);
/* libarchive's write callback into x->out */
la_ssize_t vol_out_write(struct archive *a, void *arg, const void *buf, size_t len);
/* a regular file's data from the disk reader into the pax writer (holes, growth, shrinkage) */
int vol_copy_file_data(struct archive *in, struct archive *out, struct archive_entry *entry,
                       const char *rel, struct export_ctx *x);
/* vol_walk_next() - the next entry of the disk walk @in of @v that is not excluded, its name
 * relative to the volume in @rel ("." for the root; @entry's pathname is set to it later by
 * the caller), directories descended into: 1 with *@entry (the caller frees it), 0 at the
 * end, -1 on a reading error. Entries libarchive cannot read are warnings and passed over;
 * excluded ones are counted in *@excluded. */
int vol_walk_next(struct volume *v, struct archive *in, struct export_ctx *x, char *rel,
                  size_t relcap, struct archive_entry **entry, uint64_t *excluded,
                  struct cf_err *e);

/* layout 3 (vol_seg.c): export into a segmented stream; extract from one */
int vol_seg_export(struct volume *v, struct source_out *out, json_t *info, struct cf_err *e);
int vol_seg_extract(struct source_in *in, json_t *index, struct cf_err *e);
/* the disk reader and pax writer both layouts use; @behavior is the disk reader's
 * (archive_read_disk_set_behavior: layout 3 walks with stat alone and reads the rest of an
 * entry's metadata only when it stores the entry) */
int vol_archives_open(struct volume *v, struct export_ctx *x, int behavior, struct archive **in,
                      struct archive **ar, struct archive_entry_linkresolver **res,
                      struct cf_err *e);
/* ...and what it opened freed (NULL is fine) */
void vol_archives_close(struct archive *in, struct archive *ar,
                        struct archive_entry_linkresolver *res);

#endif
