/* stream_opts.c - the stream's configuration keys and their defaults. */
#include "stream_opts.h"

const char *const stream_repo_keys[] = { "compression-level", "compression-threads",
                                         "object-size", NULL };
const char *const stream_source_keys[] = { "compression-level", "compression-threads", NULL };

int stream_opts_resolve(const struct ini_section *repo, const struct ini_section *src,
                        struct stream_opts *o, struct cf_err *e)
{
    long level, threads;

    /* the source's own compression settings win over the repository's */
    if (ini_get_int(repo, "compression-level", 3, 1, 19, &level, e) != 0 ||
        ini_get_int(repo, "compression-threads", 0, 0, 256, &threads, e) != 0 ||
        ini_get_int(src, "compression-level", level, 1, 19, &level, e) != 0 ||
        ini_get_int(src, "compression-threads", threads, 0, 256, &threads, e) != 0 ||
        ini_get_size(repo, "object-size", 64 << 20, 1 << 20, 1ull << 32, &o->object_size, e) != 0)
        return -1;
    o->level = (int)level;
    o->threads = (int)threads;
    return 0;
}
