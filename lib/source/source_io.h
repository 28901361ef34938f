/* source_io.h - for the code that implements the stream a source exports into and imports
 * from (the frame writer and reader, lib/stream/frame.c), not for drivers: a driver includes
 * source.h, where `struct source_out` and `struct source_in` are opaque, and calls the
 * source_out_*() and source_in_*() wrappers, which go through these tables.
 *
 * An implementation embeds the struct as its first member and sets @ops. */
#ifndef CF_SOURCE_IO_H
#define CF_SOURCE_IO_H

#include <sys/types.h>

#include "../core/err.h"

struct source_out;
struct source_in;

struct source_out_ops {
    /* source_out_part(): end the current part, start one named @name */
    int (*part)(struct source_out *o, const char *name, struct cf_err *e);
    /* source_out_write(): bytes of the current part (a part named by default if none) */
    int (*write)(struct source_out *o, const void *buf, size_t len, struct cf_err *e);
};

struct source_out {
    const struct source_out_ops *ops;
};

struct source_in_ops {
    /* source_in_next_part(): 1 with @name set, 0 after the last part, -1 on error */
    int (*next_part)(struct source_in *in, const char **name, struct cf_err *e);
    /* source_in_read(): bytes read from the current part, 0 at its end, -1 on error */
    ssize_t (*read)(struct source_in *in, void *buf, size_t cap, struct cf_err *e);
};

struct source_in {
    const struct source_in_ops *ops;
};

#endif
