/* stream_opts.h - how the pipeline compresses and cuts a backup: the stream's keys of
 * coffer.conf, their defaults and limits, in one place.
 *
 *   [repository]  compression-level (1..19, 3), compression-threads (0..256, 0: one per
 *                 core), object-size (1MiB..4GiB, 64MiB)
 *   [source NAME] compression-level, compression-threads: the source's own value wins; a
 *                 source of a kind with a level of its own (stream_kind_level: mariadb, 1)
 *                 has that level unless its section or [repository] sets one;
 *                 incremental (yes), full-every (N backups or a duration, 7), cache-dir
 *                 (volumes) */
#ifndef CF_STREAM_OPTS_H
#define CF_STREAM_OPTS_H

#include <stdint.h>

#include "../config/ini.h"

struct stream_opts {
    int level;              /* zstd compression level */
    int threads;            /* zstd workers; 0: one per core */
    uint64_t object_size;   /* bytes of stream per stored object */
    /* segmented (layout 3) volume backups, [source NAME]: */
    bool incremental;       /* incremental = yes: layout 3; no: layout 1, every backup a stream */
    long full_every;        /* full-every = N: every Nth backup is full (default 7) */
    int64_t full_every_s;   /* full-every = 7d: a full when the last is this old; 0: by count */
    const char *cache_dir;  /* cache-dir: the local copy of the last index; NULL: the caller's
                               default (beside the catalog's database) */
};

#define STREAM_LEVEL_DEFAULT 3

/* the keys the stream reads in [repository], and in [source] (NULL-terminated) */
extern const char *const stream_repo_keys[];
extern const char *const stream_source_keys[];

/* stream_kind_level() - the compression level of a source of kind @kind (its `type`; NULL:
 * none) when neither its section nor [repository] sets compression-level */
long stream_kind_level(const char *kind);

/* stream_opts_resolve() - the stream options of a backup of source section @src (NULL: none)
 * in repository section @repo (NULL: none): the defaults (the level of @src's type), then
 * @repo's values, then @src's. A value of the wrong form or out of range is CF_E_CONFIG
 * naming file and line. */
int stream_opts_resolve(const struct ini_section *repo, const struct ini_section *src,
                        struct stream_opts *o, struct cf_err *e);

#endif
