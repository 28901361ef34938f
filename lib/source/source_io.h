/* source_io.h - for the code that implements the stream a source exports into and imports
 * from (the frame writer and reader, lib/stream/frame.c), not for drivers: a driver includes
 * source.h, where `struct source_out` and `struct source_in` are opaque, and calls the
 * source_out_*() and source_in_*() wrappers, which go through these tables.
 *
 * An implementation embeds the struct as its first member and sets @ops. */
#ifndef CF_SOURCE_IO_H
#define CF_SOURCE_IO_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../core/err.h"

struct source_out;
struct source_in;

struct source_out_ops {
    /* source_out_part(): end the current part, start one named @name */
    int (*part)(struct source_out *o, const char *name, struct cf_err *e);
    /* source_out_write(): bytes of the current part (a part named by default if none) */
    int (*write)(struct source_out *o, const void *buf, size_t len, struct cf_err *e);
    /* Optional (segmented streams, docs/FORMAT.md "Volume backups, layout 3"): */
    /* source_out_seg_mark(): an entry boundary; where the next byte will land */
    int (*seg_mark)(struct source_out *o, uint32_t *n, uint64_t *off, struct cf_err *e);
    /* source_out_seg_parent(): the parent's index, NULL for a full backup */
    json_t *(*seg_parent)(struct source_out *o);
    /* source_out_seg_id(): this backup's id */
    const char *(*seg_id)(struct source_out *o);
    /* source_out_seg_index(): hand over the finished index (the stream takes the reference) */
    int (*seg_index)(struct source_out *o, json_t *index, struct cf_err *e);
};

struct source_out {
    const struct source_out_ops *ops;
};

struct source_in_ops {
    /* source_in_next_part(): 1 with @name set, 0 after the last part, -1 on error */
    int (*next_part)(struct source_in *in, const char **name, struct cf_err *e);
    /* source_in_read(): bytes read from the current part, 0 at its end, -1 on error */
    ssize_t (*read)(struct source_in *in, void *buf, size_t cap, struct cf_err *e);
    /* Optional (segmented streams): */
    /* source_in_seg_index(): the backup's file index (borrowed), NULL when not segmented */
    json_t *(*seg_index)(struct source_in *in);
    /* source_in_seg_open(): from now on read() gives segment @n of backup @id */
    int (*seg_open)(struct source_in *in, const char *id, uint32_t n, struct cf_err *e);
};

struct source_in {
    const struct source_in_ops *ops;
};

#endif
