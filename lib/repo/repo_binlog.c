/* repo_binlog.c - the MariaDB binlog archive as a whole: which names it holds, and how far a
 * replay from a recorded binlog file can go, from the object headers alone (no key, nothing
 * fetched: the times in each object's id, repo_log_stat). docs/PITR.md "MariaDB". */
#include "repo.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../db/db_binlog.h"

struct binlog_names {
    char **v;
    size_t n;
};

static int binlog_one(void *arg, const char *file, uint64_t stored)
{
    struct binlog_names *l = arg;
    (void)stored;
    if (!db_binlog_object_name(file, NULL, NULL, NULL))
        return 0;
    l->v = cf_realloc(l->v, (l->n + 1) * sizeof(char *));
    l->v[l->n++] = cf_strdup(file);
    return 0;
}

int repo_binlog_names(struct repo *r, const char *source, char ***names, size_t *n,
                      struct cf_err *e)
{
    struct binlog_names l = { NULL, 0 };
    int rc = repo_log_list(r, source, binlog_one, &l, e);
    if (rc != 0) {
        for (size_t i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        l.v = NULL;
        l.n = 0;
    }
    *names = l.v;
    *n = l.n;
    return rc;
}

/* the longest partial object of @file among @v, or NULL */
static const char *longest_partial(char **v, size_t n, const char *file)
{
    const char *best = NULL;
    uint64_t best_len = 0, len;
    size_t fl = strlen(file);
    for (size_t i = 0; i < n; i++)
        if (strncmp(v[i], file, fl) == 0 && v[i][fl] == '.' &&
            db_binlog_object_name(v[i], NULL, NULL, &len) && len > best_len) {
            best = v[i];
            best_len = len;
        }
    return best;
}

const char *repo_binlog_object(char **names, size_t n, const char *file)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], file) == 0)
            return names[i];
    return longest_partial(names, n, file);
}

/* whether a file of @file's base numbered above (@after) or below it is archived */
static bool binlog_beside(char **names, size_t n, const char *file, bool after)
{
    uint64_t seq, s;
    size_t bl, l;
    if (!db_binlog_name(file, &seq, &bl))
        return false;
    for (size_t i = 0; i < n; i++)
        if (db_binlog_object_name(names[i], &s, &l, NULL) && l == bl &&
            strncmp(names[i], file, bl) == 0 && (after ? s > seq : s < seq))
            return true;
    return false;
}

bool repo_binlog_after(char **names, size_t n, const char *file)
{
    return binlog_beside(names, n, file, true);
}

bool repo_binlog_before(char **names, size_t n, const char *file)
{
    return binlog_beside(names, n, file, false);
}

void repo_binlog_next(const char *file, char *out, size_t cap)
{
    uint64_t seq;
    size_t bl;
    char *f = cf_strdup(file);   /* @out may be @file */
    const char *dot = strrchr(f, '.');
    if (!db_binlog_name(f, &seq, &bl) || dot == NULL)
        snprintf(out, cap, "%s", f);
    else
        snprintf(out, cap, "%.*s.%0*" PRIu64, (int)bl, f, (int)strlen(dot + 1), seq + 1);
    free(f);
}

int repo_binlog_reach(struct repo *r, const char *source, const char *first, int64_t at,
                      struct repo_binlog_reach *out, struct cf_err *e)
{
    char **names = NULL, file[300];
    size_t n = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!db_binlog_name(first, NULL, NULL))
        return cf_err_set(e, CF_E_CORRUPT, "'%s' is not a binlog file's name", first);
    if (repo_binlog_names(r, source, &names, &n, e) != 0)
        return -1;
    snprintf(file, sizeof(file), "%s", first);
    for (;;) {
        const char *obj = repo_binlog_object(names, n, file);
        struct repo_log_meta m;
        if (obj == NULL) {
            if (repo_binlog_after(names, n, file)) {
                snprintf(out->gap, sizeof(out->gap), "%s", file);
                out->pruned = out->files == 0 && !repo_binlog_before(names, n, file);
            }
            break;
        }
        if (repo_log_stat(r, source, obj, &m, e) != 0)
            goto out;
        out->files++;
        snprintf(out->last_file, sizeof(out->last_file), "%s", obj);
        if (m.last_event > out->last)
            out->last = m.last_event;
        if (m.last_event >= at) {   /* an event at or after @at: everything before is here */
            out->ok = true;
            break;
        }
        if (!m.closed)
            break;
        repo_binlog_next(file, file, sizeof(file));
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
