/* fixture.h - a throwaway local repository and an in-memory source for unit tests. */
#ifndef CF_FIXTURE_H
#define CF_FIXTURE_H

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/conf.h"
#include "core/buf.h"
#include "core/util.h"
#include "repo/repo.h"
#include "source/source.h"
#include "stream/pipeline.h"
#include "validate/validate.h"

struct fixture {
    char dir[64];
    char conf_path[128];
    struct conf *conf;
    struct repo *repo;
    struct stream_opts so;   /* the repository's, for pipeline_backup */
};

/* a repository in a new temp dir; @extra is appended to [repository] */
static inline int fixture_open(struct fixture *f, const char *extra)
{
    struct cf_err e = CF_ERR_INIT;
    char *text, *key;
    snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-unit.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    key = cf_asprintf("%s/repo.key", f->dir);
    text = cf_asprintf("[repository]\npath = %s/repo\nkey-file = %s\ncompression-level = 1\n%s\n"
                       "[source media]\ntype = volume\npath = /nonexistent\n",
                       f->dir, key, extra ? extra : "");
    snprintf(f->conf_path, sizeof(f->conf_path), "%s/coffer.conf", f->dir);
    int fd = open(f->conf_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        return -1;
    close(fd);
    free(text);
    if (validate_load(f->conf_path, &f->conf, &e) != 0 ||
        stream_opts_resolve(f->conf->repository, NULL, &f->so, &e) != 0 ||
        repo_init(f->conf, key, &e) != 0 || repo_open(f->conf, NULL, &f->repo, &e) != 0) {
        printf("# fixture: %s\n", e.msg);
        free(key);
        return -1;
    }
    free(key);
    return 0;
}

static inline void fixture_close(struct fixture *f)
{
    struct cf_err e = CF_ERR_INIT;
    repo_close(f->repo);
    conf_free(f->conf);
    fs_remove_tree(f->dir, &e);
}

/* An in-memory source: export writes @data in uneven pieces (failing after @fail_at bytes if
 * set); import collects what it is given into @got. */
struct memsrc {
    const unsigned char *data;
    size_t len;
    long fail_at;
    struct buf got;
};

static inline int mem_export(void *priv, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct memsrc *m = priv;
    size_t off = 0, step = 1;
    (void)info;
    while (off < m->len) {
        size_t n = m->len - off < step ? m->len - off : step;
        if (m->fail_at >= 0 && off + n > (size_t)m->fail_at)
            return cf_err_set(e, CF_E_SOURCE, "simulated source failure");
        if (source_out_write(out, m->data + off, n, e) != 0)
            return -1;
        off += n;
        step = step * 7 % 300007 + 1;   /* uneven writes, up to ~300 KB */
    }
    return 0;
}

static inline int mem_import(void *priv, struct source_in *in, const struct restore_opts *o,
                             json_t *info, struct cf_err *e)
{
    struct memsrc *m = priv;
    const char *name;
    char tmp[70000];
    ssize_t n;
    (void)o;
    (void)info;
    int k = source_in_next_part(in, &name, e);
    if (k <= 0)
        return k < 0 ? -1 : cf_err_set(e, CF_E_CORRUPT, "no part");
    while ((n = source_in_read(in, tmp, sizeof(tmp), e)) > 0)
        buf_append(&m->got, tmp, (size_t)n);
    return n < 0 ? -1 : 0;
}

static inline int mem_plan(void *p, const struct restore_opts *o, json_t *i, struct buf *l,
                           struct cf_err *e)
{
    (void)p, (void)o, (void)i, (void)l, (void)e;
    return 0;
}

static inline void mem_close(void *p)
{
    (void)p;
}

static const struct source_ops memsrc_ops = {
    .name = "mem", .export = mem_export, .import = mem_import, .plan = mem_plan,
    .close = mem_close,
};

#endif
