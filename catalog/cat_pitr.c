/* cat_pitr.c - `catalog at T --source S` for a postgres source with `method = physical`: the
 * base backup and the archived WAL that `restore --at T --to-datadir` would use, from the
 * repository (repo_pitr_plan, the one answer both print); nothing is restored. */
#include "catalog.h"

#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/repo/manifest.h"
#include "../lib/repo/repo_pitr.h"

bool catalog_source_physical(const struct conf *c, const char *source)
{
    const struct ini_section *sec = conf_source(c, source);
    const char *type, *method;
    struct cf_err e = CF_ERR_INIT;
    /* the postgres driver's keys, read only to choose the question (validated at load) */
    return sec != NULL && ini_get_str(sec, "type", "", &type, &e) == 0 &&
           strcmp(type, "postgres") == 0 && ini_get_str(sec, "method", "logical", &method, &e) == 0 &&
           strcmp(method, "physical") == 0;
}

int catalog_at_pitr(const struct conf *c, const struct repo_unlock *u, struct repo_when when,
                    const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct repo_pitr p = { 0 };
    struct buf out = BUF_INIT;
    char ws[32];
    int rc;

    if (repo_open(c, u, &r, &e) != 0 || repo_pitr_plan(r, o->source, when, &p, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    repo_when_format(when, ws, sizeof(ws));
    if (o->json) {
        json_t *res = json_pack("{s:s, s:s, s:s, s:O, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:b}",
                                "at", ws, "source", o->source, "backup", p.base.id, "info",
                                p.m->info, "timeline", (json_int_t)p.timeline, "first_wal",
                                p.first, "last_wal", p.last, "segments",
                                (json_int_t)p.segments, "replay_bytes",
                                (json_int_t)p.wal_bytes, "stored_bytes", (json_int_t)p.stored,
                                "reach", (json_int_t)p.reach, "to_end", p.to_end);
        char *s = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
        json_decref(res);
    } else {
        printf("point-in-time recovery at %s\n", ws);
        repo_pitr_describe(&p, o->source, when, &out);
        fwrite(out.data, 1, out.len, stdout);
    }
    rc = EXIT_OK;
out:
    buf_free(&out);
    repo_pitr_free(&p);
    repo_close(r);
    return rc;
}
