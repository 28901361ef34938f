/* reader.h - a buffered reader that parses a stream while passing every byte it consumes on
 * to a sink: the dump checkers (chk.h) read a dump tool's output this way as it goes into the
 * backup stream, and a restore reads a part of the backup stream into a load tool. */
#ifndef CF_READER_H
#define CF_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../core/buf.h"
#include "../core/err.h"

typedef int (*src_sink_fn)(void *ctx, const void *buf, size_t len, struct cf_err *e);
/* bytes read (0 at the end) or -1 */
typedef ssize_t (*src_read_fn)(void *ctx, void *buf, size_t cap, struct cf_err *e);

struct src_reader {
    src_read_fn read;        /* where the bytes come from (a fd by default) */
    void *read_ctx;
    int fd;
    const char *what;        /* "pg_dump app output", for messages */
    src_sink_fn sink;        /* consumed bytes go here (may be NULL) */
    void *sink_ctx;
    bool crc;                /* keep crc64 (Redis's Jones polynomial) of consumed bytes */
    uint64_t crc64;
    uint64_t limit;          /* read at most this many bytes from fd in all (UINT64_MAX) */
    struct buf *capture;     /* when not NULL, consumed bytes are also appended here */
    /* private */
    unsigned char *buf;
    size_t cap, pos, len, fwd;   /* buf[fwd..pos) consumed but not yet forwarded */
    uint64_t nread;              /* bytes read from fd */
    uint64_t consumed;           /* bytes consumed */
    bool eof;
};

void src_reader_init(struct src_reader *r, int fd, const char *what, src_sink_fn sink,
                     void *sink_ctx);
/* as src_reader_init, reading through @fn (a restore reads the backup stream this way) */
void src_reader_init_fn(struct src_reader *r, src_read_fn fn, void *fn_ctx, const char *what,
                        src_sink_fn sink, void *sink_ctx);
void src_reader_free(struct src_reader *r);
/* make @n bytes available at src_reader_peek(); 1 when they are, 0 when the input ends
 * first, -1 on a read or sink error */
int src_reader_fill(struct src_reader *r, size_t n, struct cf_err *e);
/* the unconsumed bytes (valid until the next fill) */
const unsigned char *src_reader_peek(const struct src_reader *r);
size_t src_reader_avail(const struct src_reader *r);
/* consume @n available bytes */
void src_reader_consume(struct src_reader *r, size_t n);
/* read exactly @n bytes into @out (NULL: skip them, any size); a short input is CF_E_CORRUPT
 * "@what: truncated (...)" naming @field */
int src_reader_get(struct src_reader *r, void *out, size_t n, const char *field,
                   struct cf_err *e);
/* 1 when the input has ended with nothing unconsumed, 0 when bytes remain, -1 on error */
int src_reader_at_eof(struct src_reader *r, struct cf_err *e);
/* pass every consumed byte to the sink (and the crc) now */
int src_reader_flush(struct src_reader *r, struct cf_err *e);

/* src_pump() - consume the rest of @r, keeping its first @head_cap bytes in @head and its
 * last @tail_cap bytes in @tail (either may be NULL) */
int src_pump(struct src_reader *r, struct buf *head, size_t head_cap, struct buf *tail,
             size_t tail_cap, struct cf_err *e);

/* a src_read_fn over the current part of a backup stream (@ctx: struct source_in *) */
ssize_t src_in_read_fn(void *ctx, void *buf, size_t cap, struct cf_err *e);
/* a src_sink_fn writing to a file descriptor (@ctx: int * holding it) */
int src_fd_sink(void *ctx, const void *buf, size_t len, struct cf_err *e);

#endif
