/* repo_pitr.c - "which base backup and which WAL for moment T": the one answer that
 * `restore --to-datadir` and `catalog at` print (repo_pitr.h), and the wait of a base
 * backup for its last segment.
 *
 * The archive's objects carry the time wal-push stored them: a segment holds nothing later
 * than its push time, so the segment that holds T is at most the first one (in WAL order on
 * the timeline followed) pushed at or after T. Timelines: recovery follows
 * recovery_target_timeline = latest, the highest timeline N+1, N+2... whose .history file is
 * archived; that file lists each ancestor timeline and the LSN where it ended. For each
 * segment, PostgreSQL reads the newest timeline of that history whose beginning is at or
 * before the segment; so does this walk. */
#include "repo_pitr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "manifest.h"

#define MAX_TLI 64

int repo_log_wait(struct repo *r, const char *source, const char *file, int64_t seconds,
                  struct cf_err *e)
{
    struct repo_log_meta m;
    uint64_t t0 = time_mono_ms();
    for (;;) {
        struct cf_err se = CF_ERR_INIT;
        if (repo_log_stat(r, source, file, &m, &se) == 0)
            return 0;
        if (se.code != CF_E_NOTFOUND) {
            *e = se;
            return cf_err_ctx(e, "waiting for WAL file %s in the archive", file);
        }
        if (time_mono_ms() - t0 >= (uint64_t)seconds * 1000)
            return cf_err_set(e, CF_E_SOURCE,
                              "WAL segment %s, the last one the base backup needs, is not in the "
                              "archive of source %s after %" PRId64 "s; the backup is not "
                              "committed. HINT: check the server's archive_command (it must run "
                              "'wal-push %s %%p') and pg_stat_archiver, or raise archive-wait",
                              file, source, seconds, source);
        usleep(200 * 1000);
    }
}

/* --- the archive's names, sorted --- */

struct names {
    char (*v)[40];
    uint64_t *stored;
    size_t n, cap;
};

static int names_add(void *arg, const char *file, uint64_t stored)
{
    struct names *ns = arg;
    if (strlen(file) >= sizeof(ns->v[0]))
        return 0;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 256;
        ns->v = cf_realloc(ns->v, ns->cap * sizeof(ns->v[0]));
        ns->stored = cf_realloc(ns->stored, ns->cap * sizeof(ns->stored[0]));
    }
    snprintf(ns->v[ns->n], sizeof(ns->v[0]), "%s", file);
    ns->stored[ns->n++] = stored;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* index of @file, or -1 */
static ssize_t names_find(const struct names *ns, const char *file)
{
    char key[40];
    snprintf(key, sizeof(key), "%s", file);
    const char (*p)[40] = bsearch(key, ns->v, ns->n, sizeof(ns->v[0]), name_cmp);
    return p ? p - (const char (*)[40])ns->v : -1;
}

/* --- timelines --- */

struct tl {
    uint32_t tli;
    uint64_t begin;   /* LSN where it begins (0 for the first) */
};

static int parse_lsn(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    if (sscanf(s, "%X/%X", &hi, &lo) != 2)
        return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

/* the timelines recovery follows from @base_tli: the newest whose history is archived, and
 * its ancestors from that history (oldest first) */
static int timelines(struct repo *r, const char *source, const struct names *ns,
                     uint32_t base_tli, struct tl *out, size_t *n, struct cf_err *e)
{
    char hist[32], *tmp = NULL;
    uint32_t target = base_tli;
    struct buf text = BUF_INIT;
    int rc = -1;

    for (;;) {
        snprintf(hist, sizeof(hist), "%08X.history", target + 1);
        if (names_find(ns, hist) < 0)
            break;
        target++;
    }
    *n = 0;
    if (target == base_tli) {
        out[(*n)++] = (struct tl){ base_tli, 0 };
        return 0;
    }
    snprintf(hist, sizeof(hist), "%08X.history", target);
    const char *dir = getenv("TMPDIR");
    tmp = cf_asprintf("%s/coffer-history-%d-%08X", dir && *dir ? dir : "/tmp", (int)getpid(),
                      target);
    if (repo_log_fetch(r, source, hist, tmp, e) != 0 || fs_read_file(tmp, 1 << 20, &text, e) != 0)
        goto out;
    buf_append(&text, "", 1);
    uint64_t begin = 0;
    for (char *line = text.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned tli;
        char lsn[32];
        if (sscanf(line, "%u %31s", &tli, lsn) != 2)
            continue;   /* comments, blank lines */
        uint64_t end;
        if (parse_lsn(lsn, &end) != 0 || *n + 1 >= MAX_TLI) {
            cf_err_set(e, CF_E_CORRUPT, "timeline history %s does not parse", hist);
            goto out;
        }
        out[(*n)++] = (struct tl){ tli, begin };
        begin = end;
    }
    out[(*n)++] = (struct tl){ target, begin };
    size_t k;
    for (k = 0; k < *n && out[k].tli != base_tli; k++)
        ;
    if (k == *n) {
        cf_err_set(e, CF_E_SOURCE, "the archive's newest timeline %u does not descend from the "
                   "base backup's timeline %u (history %s)", target, base_tli, hist);
        goto out;
    }
    memmove(out, out + k, (*n - k) * sizeof(*out));   /* from the base backup's on */
    *n -= k;
    out[0].begin = 0;
    rc = 0;
out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    buf_free(&text);
    return rc;
}

/* --- the base backup --- */

struct base_ctx {
    struct repo *r;
    struct repo_ref *refs;
    struct repo_when at;
    struct manifest **m;
    bool failed;
    struct cf_err err;
};

static int base_judge(void *arg, size_t i)
{
    struct base_ctx *c = arg;
    struct cf_err me = CF_ERR_INIT;
    if (repo_manifest_load(c->r, c->refs[i].source, c->refs[i].id, c->m, &me) != 0) {
        if ((me.code != CF_E_CRYPTO && me.code != CF_E_CORRUPT && me.code != CF_E_NOTFOUND) ||
            !repo_can_read(c->r)) {
            c->failed = true;
            c->err = me;
            return REPO_STOP;
        }
        log_warn("skipping damaged backup %s/%s: %s", c->refs[i].source, c->refs[i].id, me.msg);
        return REPO_PASS;
    }
    json_t *info = (*c->m)->info;
    const char *method = json_string_value(json_object_get(info, "method"));
    json_int_t stop = json_integer_value(json_object_get(info, "stop_time"));
    /* stop_time is the whole second after pg_backup_stop returned: a base backup that stopped
     * in T's own second may be consistent only after T, so it must have stopped before it */
    if (method && strcmp(method, "physical") == 0 && json_string_value(
            json_object_get(info, "start_wal")) && (c->at.latest || stop < c->at.t))
        return REPO_TAKE;
    manifest_free(*c->m);
    *c->m = NULL;
    return REPO_PASS;
}

static int find_base(struct repo *r, const char *source, struct repo_when at,
                     struct repo_pitr *p, struct cf_err *e)
{
    struct base_ctx c = { r, NULL, at, &p->m, false, CF_ERR_INIT };
    size_t n = 0;
    char when[32];
    if (repo_list(r, source, &c.refs, &n, e) != 0)
        return -1;
    ssize_t k = repo_choose_at(c.refs, n, sizeof(*c.refs), offsetof(struct repo_ref, time), at,
                               base_judge, &c);
    if (k >= 0)
        p->base = c.refs[k];
    free(c.refs);
    if (k >= 0)
        return 0;
    if (c.failed) {
        *e = c.err;
        return -1;
    }
    repo_when_format(at, when, sizeof(when));
    return cf_err_set(e, CF_E_NOTFOUND,
                      "source '%s' has no physical base backup finished at or before %s. "
                      "HINT: 'catalog list --source %s' shows what there is", source, when,
                      source);
}

/* --- the walk --- */

static void seg_name(uint32_t tli, uint64_t seg, uint64_t per, char out[25])
{
    snprintf(out, 25, "%08X%08X%08X", tli, (unsigned)(seg / per), (unsigned)(seg % per));
}

static uint32_t seg_tli(const struct tl *tls, size_t ntl, uint64_t seg, uint64_t segsize)
{
    uint32_t tli = tls[0].tli;
    for (size_t i = 0; i < ntl; i++)
        if (tls[i].begin / segsize <= seg)
            tli = tls[i].tli;
    return tli;
}

static int64_t pushed_at(struct repo *r, const char *source, const char *file)
{
    struct repo_log_meta m;
    struct cf_err e = CF_ERR_INIT;
    return repo_log_stat(r, source, file, &m, &e) == 0 ? m.pushed : 0;
}

int repo_pitr_plan(struct repo *r, const char *source, struct repo_when at,
                   struct repo_pitr *p, struct cf_err *e)
{
    struct names ns = { 0 };
    struct tl tls[MAX_TLI];
    size_t ntl = 0;
    int rc = -1;

    memset(p, 0, sizeof(*p));
    if (find_base(r, source, at, p, e) != 0)
        return -1;
    json_t *info = p->m->info;
    uint64_t segsize = (uint64_t)json_integer_value(json_object_get(info, "wal_segment_size"));
    uint32_t base_tli = (uint32_t)json_integer_value(json_object_get(info, "timeline"));
    const char *start = json_string_value(json_object_get(info, "start_wal"));
    const char *stop = json_string_value(json_object_get(info, "stop_wal"));
    if (segsize == 0 || (segsize & (segsize - 1)) || base_tli == 0 || start == NULL ||
        stop == NULL || strlen(start) != 24 || strlen(stop) != 24) {
        cf_err_set(e, CF_E_CORRUPT, "the manifest of base backup %s lacks its WAL range",
                   p->base.id);
        goto out;
    }
    uint64_t per = UINT64_C(0x100000000) / segsize;
    unsigned hi, lo;
    sscanf(start + 8, "%8X%8X", &hi, &lo);
    uint64_t seg0 = (uint64_t)hi * per + lo;
    sscanf(stop + 8, "%8X%8X", &hi, &lo);
    uint64_t seg_stop = (uint64_t)hi * per + lo;

    if (repo_log_list(r, source, names_add, &ns, e) != 0)
        goto out;
    qsort(ns.v, ns.n, sizeof(ns.v[0]), name_cmp);
    if (timelines(r, source, &ns, base_tli, tls, &ntl, e) != 0)
        goto out;
    p->timeline = tls[ntl - 1].tli;

    /* the last segment archived on the path followed: beyond it, a missing one is the end */
    uint64_t seg_max = seg0;
    bool any = false;
    for (size_t i = 0; i < ns.n; i++) {
        unsigned t;
        if (strlen(ns.v[i]) != 24 || sscanf(ns.v[i], "%8X%8X%8X", &t, &hi, &lo) != 3)
            continue;
        uint64_t s = (uint64_t)hi * per + lo;
        if (s >= seg0 && seg_tli(tls, ntl, s, segsize) == t && (!any || s > seg_max)) {
            seg_max = s;
            any = true;
        }
    }
    char name[25], prev[25] = "";
    for (uint64_t s = seg0;; s++) {
        seg_name(seg_tli(tls, ntl, s, segsize), s, per, name);
        ssize_t k = names_find(&ns, name);
        if (k < 0) {
            bool gap = any && s < seg_max;
            if (!gap && s > seg_stop && at.latest) {
                p->to_end = true;
                break;
            }
            char reach[32] = "?";
            int64_t t = prev[0] ? pushed_at(r, source, prev) : 0;
            if (t > 0)
                time_format_rfc3339(t, reach, sizeof(reach));
            if (s <= seg_stop)
                cf_err_set(e, CF_E_NOTFOUND,
                           "the WAL archive of source %s lacks segment %s (timeline %u), which "
                           "base backup %s needs to be consistent. HINT: check archiving "
                           "(pg_stat_archiver) and take a new base backup",
                           source, name, seg_tli(tls, ntl, s, segsize), p->base.id);
            else if (gap)
                cf_err_set(e, CF_E_NOTFOUND,
                           "the WAL archive of source %s lacks segment %s (timeline %u): "
                           "recovery from base backup %s can reach only about %s (when %s was "
                           "archived). HINT: restore to that moment or earlier, or from a base "
                           "backup taken after the gap",
                           source, name, seg_tli(tls, ntl, s, segsize), p->base.id, reach,
                           prev);
            else
                cf_err_set(e, CF_E_NOTFOUND,
                           "the WAL archive of source %s ends at segment %s, archived %s: the "
                           "requested moment is later. HINT: --at latest recovers all there is; "
                           "check archiving if the server is still writing",
                           source, prev, reach);
            goto out;
        }
        snprintf(prev, sizeof(prev), "%s", name);
        if (p->segments == 0)
            snprintf(p->first, sizeof(p->first), "%s", name);
        snprintf(p->last, sizeof(p->last), "%s", name);
        p->segments++;
        p->stored += ns.stored[k];
        if (!at.latest && s >= seg_stop) {
            int64_t t = pushed_at(r, source, name);
            if (t >= at.t) {
                p->reach = t;
                break;
            }
        }
    }
    if (p->to_end)
        p->reach = pushed_at(r, source, p->last);
    p->wal_bytes = p->segments * segsize;
    rc = 0;
out:
    if (rc != 0) {
        manifest_free(p->m);
        p->m = NULL;
    }
    free(ns.v);
    free(ns.stored);
    return rc;
}

void repo_pitr_describe(const struct repo_pitr *p, const char *source, struct repo_when at,
                        struct buf *out)
{
    json_t *info = p->m->info;
    char when[32], reach[32] = "(time not recorded)", wal[32], stored[32];

    time_format_rfc3339((time_t)json_integer_value(json_object_get(info, "stop_time")), when,
                        sizeof(when));
    if (p->reach > 0)
        time_format_rfc3339(p->reach, reach, sizeof(reach));
    format_bytes(p->wal_bytes, wal, sizeof(wal));
    format_bytes(p->stored, stored, sizeof(stored));
    buf_printf(out, "  source   %s (postgres, physical: base backup and WAL archive)\n", source);
    buf_printf(out, "  backup   %s, base backup finished %s, WAL %s..%s on timeline %d\n", p->base.id,
           when, json_string_value(json_object_get(info, "start_lsn")),
           json_string_value(json_object_get(info, "stop_lsn")),
           (int)json_integer_value(json_object_get(info, "timeline")));
    buf_printf(out, "  wal      %s .. %s: %llu segments to replay (%s, %s stored), ending on timeline "
           "%u\n", p->first, p->last, (unsigned long long)p->segments, wal, stored,
           p->timeline);
    if (at.latest) {
        buf_printf(out, "  target   the end of the archive (its last segment archived %s)\n", reach);
    } else {
        time_format_rfc3339(at.t, when, sizeof(when));
        buf_printf(out, "  target   %s (recovery_target_time; the last segment needed was archived "
               "%s)\n", when, reach);
    }
}

void repo_pitr_free(struct repo_pitr *p)
{
    manifest_free(p->m);
    p->m = NULL;
}
