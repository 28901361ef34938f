/* chk.h - proofs that a dump stream is complete, read while it is being forwarded: one file
 * per format (chk_pgdump.c, chk_sqldump.c, chk_rdb.c), and by kind for restores (dump_file.c).
 *
 * A dump tool that exits 0 is not enough: each checker reads the stream itself and fails
 * unless the stream is whole (docs/SOURCES.md says how each works).
 *   pg_dump -Fc    header and table of contents parse; every data block the TOC announces
 *                  follows, in order, each ending with its zero-length terminator; the
 *                  stream ends exactly there
 *   SQL dumps      mariadb-dump: first line "-- MariaDB dump", last line "-- Dump completed";
 *                  pg_dumpall: last line "-- PostgreSQL database cluster dump complete"
 *   base backup    pg_basebackup's tar: every header and member, backup_label, pg_control and
 *                  backup_manifest present, the end-of-archive blocks (chk_pgtar.c)
 *   RDB            "REDIS" + version, every opcode and value parses, the EOF opcode, and the
 *                  CRC64 trailer matches the bytes before it */
#ifndef CF_CHK_H
#define CF_CHK_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/buf.h"
#include "reader.h"

struct pgdump_summary {
    int vmaj, vmin, vrev;        /* archive version, 1.14 for pg_dump 15 */
    int compression;             /* 0: none (-Z0) */
    char dbname[256];
    char server_version[64];     /* of the server dumped */
    char dump_version[64];       /* of pg_dump */
    unsigned toc_entries;
    unsigned data_entries;       /* TOC entries with data (tables, large objects) */
    unsigned large_objects;
    uint64_t bytes;              /* of the whole archive */
    /* pgdump_check_rows() only: each TABLE DATA entry with the rows its data holds, in TOC
     * order; NULL when the archive is compressed (-Z0 only) */
    struct pgdump_table *tables;
    size_t ntables;
};

/* a table's data in an uncompressed archive is its COPY text, one line per row (a newline in a
 * value is written as \n), then pg_dump's end marker "\.\n\n\n": its rows are its newlines
 * but those 3. Without the marker the rows are not @counted. */
struct pgdump_table {
    char *nsp, *name;
    uint64_t rows;
    bool counted;
};

/* pgdump_check() - consume the custom-format archive from @r (which forwards it) and prove it
 * complete. CF_E_CORRUPT names what is wrong ("truncated in data block of TOC entry 212").
 * A capture set on @r (r->capture) receives the header and the table of contents, and is
 * unset where the data blocks begin: an archive without its data, for what needs no data. */
int pgdump_check(struct src_reader *r, struct pgdump_summary *s, struct cf_err *e);
/* the same, counting each table's rows into s->tables (free with pgdump_summary_free(); after
 * an error there is nothing to free) */
int pgdump_check_rows(struct src_reader *r, struct pgdump_summary *s, struct cf_err *e);
void pgdump_summary_free(struct pgdump_summary *s);

/* sqldump_check() - one of the first three lines of @head (the first bytes of the dump) must
 * start with @first_line_prefix; the last line of @tail (its last bytes) that is neither blank
 * nor "--" must be @last_line_prefix, optionally followed by " on " and a 19-character date,
 * and end with a newline; with @exact_suffix (may be NULL) the dump must end with it. @what
 * names the stream in errors. */
#define SQLDUMP_MARIADB_FIRST "-- MariaDB dump"
#define SQLDUMP_MARIADB_LAST "-- Dump completed"
#define SQLDUMP_PGALL_FIRST "-- PostgreSQL database cluster dump"
#define SQLDUMP_PGALL_LAST "-- PostgreSQL database cluster dump complete"
#define SQLDUMP_PGALL_SUFFIX "-- PostgreSQL database cluster dump complete\n--\n\n"
int sqldump_check(const struct buf *head, const struct buf *tail, const char *first_line_prefix,
                  const char *last_line_prefix, const char *exact_suffix, const char *what,
                  struct cf_err *e);

/* what pgtar_check() keeps of a base backup's tar stream */
struct pgtar_summary {
    unsigned members;
    uint64_t bytes;                /* of the members' contents */
    struct buf label;              /* backup_label, NUL-terminated */
    struct buf manifest_tail;      /* the last 8 KiB of backup_manifest, NUL-terminated */
    uint64_t system_identifier;    /* from global/pg_control */
    unsigned tablespaces;          /* symbolic links under pg_tblspc/ */
    bool have_label, have_manifest, have_control;
};
/* pgtar_check() - consume pg_basebackup's tar stream (-Ft to stdout) from @r and prove it
 * whole: every header and member, backup_label, backup_manifest and global/pg_control
 * present, the end-of-archive blocks and only zeros after them (chk_pgtar.c). On return
 * (either way) free @s with pgtar_summary_free. */
int pgtar_check(struct src_reader *r, struct pgtar_summary *s, struct cf_err *e);
void pgtar_summary_free(struct pgtar_summary *s);

#define RDB_MAX_DBS 64

struct rdb_summary {
    int version;                 /* RDB version, 10 for Redis 7.0 */
    uint64_t keys;               /* keys in all databases */
    uint64_t keys_with_ttl;
    uint64_t db_keys[RDB_MAX_DBS];
    char redis_version[32];      /* the "redis-ver" aux field */
    uint64_t bytes;
};

/* called for each key when restoring: @payload is the key's value in DUMP/RESTORE format
 * minus the trailer (type byte + serialized value); @expire_ms is 0 without a TTL */
typedef int (*rdb_key_fn)(void *ctx, unsigned db, const char *key, size_t key_len,
                          int64_t expire_ms, const unsigned char *payload, size_t len,
                          struct cf_err *e);

/* rdb_check() - consume an RDB from @r and prove it complete: header, every record, the EOF
 * opcode and the CRC64 trailer. Reading stops right after the trailer (bytes beyond it are
 * left unread). @key_cb may be NULL. */
int rdb_check(struct src_reader *r, struct rdb_summary *s, rdb_key_fn key_cb, void *ctx,
              struct cf_err *e);

/* crc64 as Redis computes it (Jones polynomial, reflected); crc64(0, "123456789", 9) is
 * 0xe9c6d914c4b8d9ca */
uint64_t src_crc64(uint64_t crc, const void *p, size_t n);

/* --- the proofs by kind, for restores (dump_file.c) --- */

enum dump_kind {
    DUMP_PGDUMP,    /* pg_dump custom-format archive */
    DUMP_PGALL,     /* pg_dumpall --globals-only SQL */
    DUMP_MARIADB,   /* mariadb-dump SQL */
    DUMP_RDB,       /* Redis RDB */
};

/* dump_check() - consume the rest of @r and prove it a whole stream of @kind */
int dump_check(struct src_reader *r, enum dump_kind kind, struct cf_err *e);

struct source_in;
/* dump_part_to_file() - write the current part of @in to @path (restore --to-file): into a
 * temp file beside it, proved as @kind, then renamed into place; an existing @path is refused
 * unless @force. On failure nothing carries the name. */
int dump_part_to_file(struct source_in *in, enum dump_kind kind, const char *path, bool force,
                      struct cf_err *e);
/* the --to-file checks every kind shares, for plan(): refuses an existing file without --force
 * and a directory that does not exist */
int src_outfile_check(const char *path, bool force, struct cf_err *e);

#endif
