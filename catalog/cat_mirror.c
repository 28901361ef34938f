/* cat_mirror.c - `catalog sync MIRROR` and the mirrors' part of `catalog status`. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/repo/repo_mirror.h"
#include "cat_ctx.h"

int catalog_mirror_sync(const struct conf *c, const struct repo_unlock *u, const char *name,
                        const struct catalog_opts *o)
{
    const struct ini_section *m = conf_mirror(c, name);
    struct cf_err e = CF_ERR_INIT;
    struct repo_mirror_stats st;
    struct repo *r = NULL;
    uint64_t t0 = time_mono_ms();
    int rc;

    if (c->target_name != NULL) {
        cf_err_set(&e, CF_E_USAGE, "sync copies [repository] to a mirror: it takes no "
                   "--repository");
        return cli_fail("catalog", &e);
    }
    if (m == NULL) {
        cf_err_set(&e, CF_E_USAGE, "sync %s: no [mirror %s] in %s", name, name, c->ini->file);
        return cli_fail("catalog", &e);
    }
    if (repo_open(c, u, &r, &e) != 0)
        return cli_fail("catalog", &e);
    if (!repo_can_read(r))
        fprintf(stderr, "catalog: warning: without the secret key the copies are checked "
                "against the listing's sizes only, not against the manifests' BLAKE2b; HINT: "
                "pass --secret-key-file FILE\n");
    rc = repo_mirror_sync(r, m, true, &st, &e);
    repo_close(r);
    if (o->json) {
        json_t *j = json_pack("{s:s, s:b, s:s?, s:I, s:I, s:I, s:I, s:I, s:b}", "mirror", name,
                              "ok", rc == 0, "error", rc == 0 ? NULL : e.msg, "backups",
                              (json_int_t)st.backups, "objects", (json_int_t)st.objects,
                              "bytes", (json_int_t)st.bytes, "skipped", (json_int_t)st.skipped,
                              "damaged", (json_int_t)st.damaged, "repo_json", st.repo_json);
        cat_print_json(j);
        json_decref(j);
    }
    if (rc != 0)
        return cli_fail("catalog", &e);
    log_info("mirror synced mirror=%s backups=%zu objects=%zu bytes=%" PRIu64 " ms=%" PRIu64,
             name, st.backups, st.objects, st.bytes, time_mono_ms() - t0);
    if (!o->json) {
        char b[32];
        format_bytes(st.bytes, b, sizeof(b));
        printf("mirror %s: %zu backups copied, %zu objects, %s%s%s\n", name, st.backups,
               st.objects, b, st.repo_json ? ", repo.json copied" : "",
               st.skipped ? ", backups its own prune removed left out" : "");
    }
    /* its own retention rules, if it has any: pruned as `catalog --repository NAME prune` */
    bool rules = false;
    for (size_t i = 0; i < m->n; i++)
        rules |= strncmp(m->kv[i].key, "keep-", 5) == 0;
    if (!rules)
        return EXIT_OK;
    struct conf mc = *c;
    mc.target = m;
    mc.target_name = m->name;
    return catalog_prune(&mc, u, o);
}

void cat_mirror_status(const struct cat_ctx *ctx, const struct catalog_opts *o, json_t *arr,
                       size_t *notok)
{
    const struct conf *c = ctx->c;
    time_t now = time(NULL);

    if (c->target_name != NULL || c->nmirrors == 0 || ctx->r == NULL)
        return;
    if (!o->json)
        printf("\n%-16s %-8s %-8s %-10s %-8s %s\n", "MIRROR", "BACKUPS", "MISSING", "LAG",
               "MAX-LAG", "STATE");
    for (size_t i = 0; i < c->nmirrors; i++) {
        const struct ini_section *m = c->mirrors[i];
        struct repo_mirror_lag l;
        struct cf_err e = CF_ERR_INIT;
        int64_t lag = 0;
        char lags[32] = "-", maxs[32] = "-", oldest[200] = "";
        const char *state;

        if (repo_mirror_lag(ctx->r, m, &l, &e) != 0) {
            state = e.code == CF_E_CONFIG ? "FOREIGN" : "UNREACHABLE";
            fprintf(stderr, "catalog: %s\n", e.msg);
        } else {
            lag = l.oldest_missing ? (int64_t)(now - l.oldest_missing) : 0;
            state = lag > l.max_lag ? "BEHIND" : "OK";
            cat_fmt_age(l.max_lag, maxs, sizeof(maxs));
            if (l.missing) {
                cat_fmt_age(lag, lags, sizeof(lags));
                snprintf(oldest, sizeof(oldest), "%s/%s", l.oldest_source, l.oldest_id);
            }
            if (lag > l.max_lag)
                fprintf(stderr, "catalog: mirror %s is BEHIND: backup %s is %s old and not on "
                        "it; HINT: run 'catalog sync %s'\n", m->name, oldest, lags, m->name);
        }
        if (strcmp(state, "OK") != 0)
            (*notok)++;
        if (!o->json) {
            char nb[24] = "-", nm[24] = "-";
            if (e.code == CF_E_OK) {
                snprintf(nb, sizeof(nb), "%zu", l.backups);
                snprintf(nm, sizeof(nm), "%zu", l.missing);
            }
            printf("%-16s %-8s %-8s %-10s %-8s %s\n", m->name, nb, nm, lags, maxs, state);
            continue;
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:s?}", "mirror", m->name,
                           "state", state, "error", e.code == CF_E_OK ? NULL : e.msg,
                           "backups", (json_int_t)(e.code == CF_E_OK ? l.backups : 0),
                           "missing", (json_int_t)(e.code == CF_E_OK ? l.missing : 0),
                           "lag_seconds", (json_int_t)lag, "max_lag_seconds",
                           (json_int_t)(e.code == CF_E_OK ? l.max_lag : 0), "oldest_missing",
                           oldest[0] ? oldest : NULL));
    }
}
