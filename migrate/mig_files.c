/* mig_files.c - the migrations directory: names, versions, pairs, checksums. */
#include "mig.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../lib/core/util.h"

#define MIG_FILE_MAX (64u << 20)

int mig_parse_version(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;

    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 19)
            return -1;
        v = v * 10 + (uint64_t)(s[n] - '0');
        if (v > (uint64_t)INT64_MAX)
            return -1;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t k = strlen(suffix);
    return len >= k && strcmp(s + len - k, suffix) == 0;
}

int mig_parse_name(const char *file, uint64_t *version, char **vtext, char **name, int *kind,
                   struct cf_err *e)
{
    size_t len = strlen(file), stem;
    const char *us;
    char *v;

    if (!ends_with(file, len, ".sql"))
        return 1;
    if (ends_with(file, len, ".up.sql")) {
        *kind = 1;
        stem = len - strlen(".up.sql");
    } else if (ends_with(file, len, ".down.sql")) {
        *kind = 2;
        stem = len - strlen(".down.sql");
    } else {
        return cf_err_set(e, CF_E_USAGE,
                          "'%s' is not a migration name: expected <version>_<name>.up.sql or "
                          "<version>_<name>.down.sql", file);
    }
    us = memchr(file, '_', stem);
    if (us == NULL || us == file || (size_t)(us - file) + 1 >= stem)
        return cf_err_set(e, CF_E_USAGE,
                          "'%s' is not a migration name: expected <version>_<name>.%s.sql", file,
                          *kind == 1 ? "up" : "down");
    v = cf_strndup(file, (size_t)(us - file));
    if (mig_parse_version(v, version) != 0) {
        cf_err_set(e, CF_E_USAGE,
                   "'%s': version '%s' must be digits only (an integer or a timestamp such as "
                   "20261122031500) no larger than 9223372036854775807", file, v);
        free(v);
        return -1;
    }
    for (const char *p = us + 1; p < file + stem; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
            cf_err_set(e, CF_E_USAGE,
                       "'%s': the name may hold only letters, digits, '_' and '-'", file);
            free(v);
            return -1;
        }
    *vtext = v;
    *name = cf_strndup(us + 1, (size_t)(file + stem - us - 1));
    return 0;
}

void mig_checksum(const char *sql, size_t len, char out[MIG_CHECKSUM_MAX])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    size_t start = 0;

    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < len; i++) {
        if (sql[i] != '\r')
            continue;
        crypto_hash_sha256_update(&st, (const unsigned char *)sql + start, i - start);
        crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
        if (i + 1 < len && sql[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    crypto_hash_sha256_update(&st, (const unsigned char *)sql + start, len - start);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, "sha256:", 7);
    hex_encode(h, sizeof(h), out + 7);
}

bool mig_is_no_tx(const char *sql)
{
    size_t k = strlen(MIG_NO_TX_MARKER);

    if (strncmp(sql, "\xef\xbb\xbf", 3) == 0)
        sql += 3;
    if (strncmp(sql, MIG_NO_TX_MARKER, k) != 0)
        return false;
    for (sql += k; *sql && *sql != '\n'; sql++)
        if (*sql != ' ' && *sql != '\t' && *sql != '\r')
            return false;
    return true;
}

static int file_cmp(const void *a, const void *b)
{
    const struct mig_file *x = a, *y = b;
    return x->version < y->version ? -1 : x->version > y->version;
}

static void file_clear(struct mig_file *f)
{
    free(f->vtext);
    free(f->name);
    free(f->up_path);
    free(f->down_path);
    free(f->up_sql);
    free(f->down_sql);
}

static int read_script(const char *path, char **out, struct cf_err *e)
{
    struct buf b = BUF_INIT;

    if (fs_read_file(path, MIG_FILE_MAX, &b, e) != 0) {
        buf_free(&b);
        return -1;
    }
    if (memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
        buf_free(&b);
        return cf_err_set(e, CF_E_USAGE, "'%s' holds a NUL byte: not an SQL script", path);
    }
    *out = b.data ? b.data : cf_strdup("");
    return 0;
}

static bool blank_script(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Add the file @fname (kind 1 up, 2 down) to @s: the up and down of a version must share
 * their name, and a version appears once. */
static int add_entry(struct mig_set *s, const char *dir, const char *fname, uint64_t version,
                     char *vtext, char *name, int kind, struct cf_err *e)
{
    struct mig_file *f = NULL;
    char **slot;

    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].version == version) {
            f = &s->f[i];
            break;
        }
    if (f != NULL) {
        const char *other = f->up_path ? f->up_path : f->down_path;
        const char *obase = strrchr(other, '/') + 1;
        slot = kind == 1 ? &f->up_path : &f->down_path;
        if (*slot != NULL || strcmp(f->name, name) != 0 || strcmp(f->vtext, vtext) != 0) {
            cf_err_set(e, CF_E_USAGE,
                       "duplicate version %" PRIu64 ": '%s' and '%s' in '%s'; HINT: give each "
                       "migration its own version (`migrate new NAME` picks the next one)",
                       version, obase, fname, dir);
            free(vtext);
            free(name);
            return -1;
        }
        free(vtext);
        free(name);
    } else {
        s->f = cf_realloc(s->f, (s->n + 1) * sizeof(*s->f));
        f = &s->f[s->n++];
        memset(f, 0, sizeof(*f));
        f->version = version;
        f->vtext = vtext;
        f->name = name;
        slot = kind == 1 ? &f->up_path : &f->down_path;
    }
    *slot = cf_asprintf("%s/%s", dir, fname);
    return 0;
}

int mig_scan(const char *dir, struct mig_set *out, struct cf_err *e)
{
    struct mig_set s = { NULL, 0 };
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = -1;

    if (d == NULL)
        return cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO,
                          "unable to open migrations directory '%s'", dir);
    for (;;) {
        uint64_t version;
        char *vtext, *name;
        int kind, r;
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                cf_err_sys(e, CF_E_IO, "unable to read migrations directory '%s'", dir);
                goto out;
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        r = mig_parse_name(de->d_name, &version, &vtext, &name, &kind, e);
        if (r == 1)
            continue;
        if (r != 0) {
            cf_err_ctx(e, "migrations directory '%s'", dir);
            goto out;
        }
        if (add_entry(&s, dir, de->d_name, version, vtext, name, kind, e) != 0)
            goto out;
    }
    if (s.n > 0)
        qsort(s.f, s.n, sizeof(*s.f), file_cmp);
    for (size_t i = 0; i < s.n; i++) {
        struct mig_file *f = &s.f[i];
        if (f->up_path == NULL) {
            cf_err_set(e, CF_E_USAGE,
                       "'%s' has no up script: expected '%s/%s_%s.up.sql' beside it",
                       f->down_path, dir, f->vtext, f->name);
            goto out;
        }
        if (read_script(f->up_path, &f->up_sql, e) != 0)
            goto out;
        if (blank_script(f->up_sql)) {
            cf_err_set(e, CF_E_USAGE, "'%s' is empty", f->up_path);
            goto out;
        }
        if (f->down_path != NULL && read_script(f->down_path, &f->down_sql, e) != 0)
            goto out;
        mig_checksum(f->up_sql, strlen(f->up_sql), f->checksum);
        f->no_tx = mig_is_no_tx(f->up_sql);
        f->down_no_tx = f->down_sql != NULL && mig_is_no_tx(f->down_sql);
    }
    *out = s;
    s.f = NULL;
    s.n = 0;
    rc = 0;
out:
    mig_set_free(&s);
    closedir(d);
    return rc;
}

void mig_set_free(struct mig_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        file_clear(&s->f[i]);
    free(s->f);
    s->f = NULL;
    s->n = 0;
}

const struct mig_file *mig_set_find(const struct mig_set *s, uint64_t version)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].version == version)
            return &s->f[i];
    return NULL;
}

/* versions from 1900-01-01 00:00:00 on, written as 14 digits, are timestamps */
#define MIG_TS_MIN UINT64_C(19000101000000)

void mig_new_version(const struct mig_set *s, int64_t now, char *out, size_t cap)
{
    const struct mig_file *last = s->n ? &s->f[s->n - 1] : NULL;
    char ts[32];
    struct tm tm;
    time_t t = (time_t)now;
    uint64_t v;

    if (last == NULL || last->version >= MIG_TS_MIN) {
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
        if (mig_parse_version(ts, &v) != 0)
            v = 0;
        if (last != NULL && v <= last->version)
            v = last->version + 1;
        snprintf(out, cap, "%" PRIu64, v);
        return;
    }
    snprintf(out, cap, "%0*" PRIu64, (int)strlen(last->vtext), last->version + 1);
}
