/* stream_opts.c - the stream's configuration keys and their defaults. */
#include "stream_opts.h"

#include <string.h>

const char *const stream_repo_keys[] = { "compression-level", "compression-threads",
                                         "object-size", NULL };
const char *const stream_source_keys[] = { "compression-level", "compression-threads",
                                           "incremental", "full-every", "cache-dir", NULL };

/* full-every: a count of backups (digits alone) or a duration ("7d") */
static int full_every(const struct ini_section *src, struct stream_opts *o, struct cf_err *e)
{
    const char *v;
    o->full_every = 7;
    o->full_every_s = 0;
    if (ini_get_str(src, "full-every", NULL, &v, e) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v))
        return ini_get_int(src, "full-every", 7, 1, 100000, &o->full_every, e);
    if (ini_get_duration(src, "full-every", 0, &o->full_every_s, e) != 0)
        return -1;
    if (o->full_every_s <= 0)
        return ini_err(src, "full-every", e, "full-every: '%s' must be a count of backups or "
                       "a duration above zero", v);
    return 0;
}

/* The level of a source kind whose section and [repository] set none. mariadb: 1. Its dump
 * is SQL text, which zstd level 1 compresses with a third to a half of level 3's CPU; on a
 * small host the server, mariadb-dump and zstd share the cores, and at level 3 a backup took
 * 1.4x as long as mariadb-dump alone (bench/databases.sh). The sizes and times at each level
 * are in docs/CONFIG.md "type = mariadb". */
static const struct {
    const char *kind;
    long level;
} kind_levels[] = { { "mariadb", 1 } };

long stream_kind_level(const char *kind)
{
    for (size_t i = 0; kind != NULL && i < sizeof(kind_levels) / sizeof(kind_levels[0]); i++)
        if (strcmp(kind, kind_levels[i].kind) == 0)
            return kind_levels[i].level;
    return STREAM_LEVEL_DEFAULT;
}

int stream_opts_resolve(const struct ini_section *repo, const struct ini_section *src,
                        struct stream_opts *o, struct cf_err *e)
{
    long level, threads;
    const char *kind = NULL;

    /* the source's own compression settings win over the repository's, and the
     * repository's over the kind's default */
    if (ini_get_str(src, "type", NULL, &kind, e) != 0 ||
        ini_get_int(repo, "compression-level", stream_kind_level(kind), 1, 19, &level, e) != 0 ||
        ini_get_int(repo, "compression-threads", 0, 0, 256, &threads, e) != 0 ||
        ini_get_int(src, "compression-level", level, 1, 19, &level, e) != 0 ||
        ini_get_int(src, "compression-threads", threads, 0, 256, &threads, e) != 0 ||
        ini_get_size(repo, "object-size", 64 << 20, 1 << 20, 1ull << 32, &o->object_size, e) != 0)
        return -1;
    o->cache_dir = NULL;
    if (ini_get_bool(src, "incremental", true, &o->incremental, e) != 0 ||
        full_every(src, o, e) != 0 || ini_get_str(src, "cache-dir", NULL, &o->cache_dir, e) != 0)
        return -1;
    o->level = (int)level;
    o->threads = (int)threads;
    return 0;
}
