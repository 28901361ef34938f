/* frame.h - the parts of a source's stream, as records before compression.
 *
 *   record = type (1 byte) | length (u32 little-endian) | payload
 *   'P' part begins   payload: the part's name (1-255 bytes, no NUL)
 *   'D' data          payload: bytes of the current part (at most FRAME_DATA_MAX)
 *   'E' part ends     payload: u64 LE, the part's byte count
 *   'Z' stream ends   payload: u32 LE, the number of parts
 *
 * A stream is (P D* E)* Z and nothing after. The reader checks every count, so a stream cut
 * short or spliced is an error even before the crypto layer's own checks. */
#ifndef CF_FRAME_H
#define CF_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../source/source_io.h"

#define FRAME_DATA_MAX (256u << 10)
#define FRAME_NAME_MAX 255

typedef int (*frame_emit_fn)(void *arg, const void *buf, size_t len, struct cf_err *e);
typedef ssize_t (*frame_fill_fn)(void *arg, void *buf, size_t cap, struct cf_err *e);

/* the frame writer: what a source exports into (pass &base to source_export) */
struct frame_out {
    struct source_out base;
    frame_emit_fn emit;
    void *arg;
    char *buf;           /* pending data, flushed as one 'D' record */
    size_t len;
    bool in_part;
    char *default_name;  /* part name used when the source never names one */
    uint64_t part_bytes, total_bytes;
    uint32_t parts;
    json_t *parts_info;  /* [{"name":..., "bytes":...}] */
};

void frame_out_init(struct frame_out *o, frame_emit_fn emit, void *arg, const char *default_name);
/* end the last part and write 'Z' */
int frame_out_finish(struct frame_out *o, struct cf_err *e);
void frame_out_free(struct frame_out *o);

/* the frame reader: what a source imports from (pass &base to source_import) */
struct frame_in {
    struct source_in base;
    frame_fill_fn fill;
    void *arg;
    bool in_part, ended;
    uint64_t data_left, part_bytes;
    uint32_t parts;
    char name[FRAME_NAME_MAX + 1];
};

void frame_in_init(struct frame_in *in, frame_fill_fn fill, void *arg);
/* skip whatever the import left unread and check the stream ends properly */
int frame_in_finish(struct frame_in *in, struct cf_err *e);

#endif
