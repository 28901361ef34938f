#include "catalog.h"

#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/stream/pipeline.h"

/* One listing row: what the manifest says, or why it could not be read. */
static json_t *row_for(struct repo *r, const struct repo_ref *ref, json_t **manifest_out)
{
    struct cf_err e = CF_ERR_INIT;
    json_t *m = NULL, *row;
    char started[32];

    time_format_rfc3339(ref->time, started, sizeof(started));
    row = json_pack("{s:s,s:s,s:s}", "id", ref->id, "source", ref->source, "started", started);
    if (repo_manifest_load(r, ref->source, ref->id, &m, &e) != 0) {
        json_object_set_new(row, "status", json_string(repo_can_read(r) ? "damaged" : "sealed"));
        json_object_set_new(row, "error", json_string(e.msg));
        return row;
    }
    static const char *const copy[] = { "kind", "job", "started", "finished", "bytes_in",
                                        "bytes_stored", "host", "tool", NULL };
    for (size_t i = 0; copy[i]; i++)
        json_object_set(row, copy[i], json_object_get(m, copy[i]));
    json_object_set_new(row, "objects",
                        json_integer((json_int_t)json_array_size(json_object_get(m, "objects"))));
    json_object_set_new(row, "status", json_string("complete"));
    if (manifest_out)
        *manifest_out = m;
    else
        json_decref(m);
    return row;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
}

static const char *str(json_t *row, const char *k)
{
    const char *s = json_string_value(json_object_get(row, k));
    return s ? s : "-";
}

int catalog_list(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct repo_ref *refs = NULL;
    size_t n = 0;
    json_t *rows = json_array();
    int rc = EXIT_OK;

    if (repo_open(c, u, &r, &e) != 0 || repo_list(r, o->source, &refs, &n, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, row_for(r, &refs[i], NULL));
    if (o->json) {
        print_json(rows);
        goto out;
    }
    if (n == 0) {
        printf("no backups%s%s\n", o->source ? " of source " : "", o->source ? o->source : "");
        goto out;
    }
    printf("%-16s %-26s %-8s %-21s %10s %10s  %s\n", "SOURCE", "ID", "KIND", "STARTED", "IN",
           "STORED", "STATUS");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        char in[32] = "-", st[32] = "-";
        if (json_object_get(row, "bytes_in")) {
            format_bytes((uint64_t)json_integer_value(json_object_get(row, "bytes_in")), in,
                         sizeof(in));
            format_bytes((uint64_t)json_integer_value(json_object_get(row, "bytes_stored")), st,
                         sizeof(st));
        }
        printf("%-16s %-26s %-8s %-21s %10s %10s  %s\n", str(row, "source"), str(row, "id"),
               str(row, "kind"), str(row, "started"), in, st, str(row, "status"));
    }
out:
    json_decref(rows);
    free(refs);
    repo_close(r);
    return rc;
}

/* the backup named @id (any source unless o->source) */
static int find_ref(struct repo *r, const char *id, const struct catalog_opts *o,
                    struct repo_ref *out, struct cf_err *e)
{
    struct repo_ref *refs = NULL;
    size_t n = 0;
    if (repo_list(r, o->source, &refs, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(refs[i].id, id) == 0) {
            *out = refs[i];
            free(refs);
            return 0;
        }
    free(refs);
    return cf_err_set(e, CF_E_NOTFOUND, "no backup '%s' in the repository; HINT: 'catalog list' "
                      "shows the ids", id);
}

int catalog_show(const struct conf *c, const struct repo_unlock *u, const char *id,
                 const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct repo_ref ref;
    json_t *m = NULL, *row = NULL;
    int rc = EXIT_OK;

    if (repo_open(c, u, &r, &e) != 0 || find_ref(r, id, o, &ref, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    row = row_for(r, &ref, &m);
    if (m) {
        json_object_set(row, "consistency", json_object_get(json_object_get(m, "info"),
                                                             "consistency"));
        json_object_set(row, "info", json_object_get(m, "info"));
        json_object_set(row, "parts", json_object_get(m, "parts"));
        json_object_set(row, "compression", json_object_get(m, "compression"));
        json_object_set(row, "object_list", json_object_get(m, "objects"));
    }
    if (o->json) {
        print_json(row);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%-13s %s\n", k, s ? s : json_string_value(v));
            free(s);
        }
    }
    if (m == NULL)
        rc = EXIT_FAILED;
out:
    json_decref(m);
    json_decref(row);
    repo_close(r);
    return rc;
}

int catalog_verify(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct repo_ref *refs = NULL, one;
    size_t n = 0, bad = 0;
    json_t *rows = json_array();
    int rc = EXIT_OK;

    if (repo_open(c, u, &r, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (!repo_can_read(r)) {
        cf_err_set(&e, CF_E_CRYPTO, "verifying reads every byte: this repository is sealed to "
                                    "a public key; HINT: pass --secret-key-file FILE");
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (o->all) {
        if (repo_list(r, o->source, &refs, &n, &e) != 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
    } else {
        if (find_ref(r, id, o, &one, &e) != 0) {
            rc = cli_fail("catalog", &e);
            goto out;
        }
        refs = cf_malloc(sizeof(*refs));
        refs[0] = one;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = NULL;
        uint64_t t0 = time_mono_ms();
        cf_err_clear(&e);
        int k = repo_manifest_load(r, refs[i].source, refs[i].id, &m, &e);
        if (k == 0)
            k = pipeline_verify(r, refs[i].source, refs[i].id, m, &e);
        json_decref(m);
        if (k != 0 && e.code != CF_E_CORRUPT && e.code != CF_E_CRYPTO &&
            e.code != CF_E_NOTFOUND) {
            rc = cli_fail("catalog", &e);   /* not damage: the repository is unreachable */
            goto out;
        }
        if (k != 0)
            bad++;
        json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s?,s:I}", "id", refs[i].id,
                                              "source", refs[i].source, "result",
                                              k == 0 ? "ok" : "damaged", "error",
                                              k == 0 ? NULL : e.msg, "ms",
                                              (json_int_t)(time_mono_ms() - t0)));
        if (!o->json) {
            if (k == 0)
                printf("%s/%s: ok\n", refs[i].source, refs[i].id);
            else
                printf("%s/%s: DAMAGED: %s\n", refs[i].source, refs[i].id, e.msg);
            fflush(stdout);
        }
        if (k != 0)
            log_error("verify failed source=%s id=%s: %s", refs[i].source, refs[i].id, e.msg);
    }
    if (o->json)
        print_json(rows);
    else
        printf("%zu backups verified, %zu damaged\n", n, bad);
    rc = bad ? EXIT_FAILED : EXIT_OK;
out:
    json_decref(rows);
    free(refs);
    repo_close(r);
    return rc;
}
