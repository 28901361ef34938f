/* repo_log.c - the log archive: one object per archived file (a PostgreSQL WAL segment, a
 * timeline history or a backup label, under logs/<source>/<timeline>/<file>; a MariaDB
 * binlog file, under logs/<source>/binlog/<file>).
 *
 * An object is a sealed object of kind SEAL_LOG (lib/crypto/seal.h), with its own random
 * data key, whose id is "<source>/<file>#<digest>": the digest is the keyed BLAKE2b-256 of the
 * file's bytes (keys_digest_key). The id is part of the header and so of every message's
 * additional data: an object copied under another name or source fails to open as that
 * name, and the digest cannot be changed without the key. The plaintext of its messages is
 * one zstd frame of the file. A binlog object's id goes on with what its events say (times,
 * GTIDs: repo_log_meta), so that the catalog and a restore read it without a key.
 * docs/FORMAT.md "logs/" is the reference. */
#include "repo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "../core/afile.h"
#include "../core/buf.h"
#include "../core/log.h"
#include "../core/util.h"
#include "../crypto/seal.h"
#include "../db/db_binlog.h"
#include "repo_int.h"
#include "repo_logz.h"

/* files up to this size (a WAL segment of the default 16 MiB and up to 64 MiB) are read once,
 * digested and compressed in the same pass (repo_logz.c), the compressed frame kept in memory
 * until the digest (part of the header) is known; larger ones are read twice */
#define LOG_WHOLE_MAX ((uint64_t)64 << 20)

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

int repo_log_name(const char *file, char tl[9], struct cf_err *e)
{
    size_t n = strlen(file);
    bool ok = false;

    if (db_binlog_object_name(file, NULL, NULL, NULL)) {
        memcpy(tl, REPO_LOG_BINLOG_DIR, sizeof(REPO_LOG_BINLOG_DIR));
        return 0;
    }
    if (n >= 24 && all_hex(file, 24)) {
        const char *rest = file + 24;
        ok = *rest == '\0' || strcmp(rest, ".partial") == 0 ||
             (strlen(rest) == 16 && rest[0] == '.' && all_hex(rest + 1, 8) &&
              strcmp(rest + 9, ".backup") == 0);
    } else if (n == 16 && all_hex(file, 8) && strcmp(file + 8, ".history") == 0) {
        ok = true;
    }
    if (!ok)
        return cf_err_set(e, CF_E_USAGE,
                          "'%s' is not the name of a WAL file (a segment, .partial, .history "
                          "or .backup file) nor of a binlog file (<base>.<number>)", file);
    memcpy(tl, file, 8);
    tl[8] = '\0';
    return 0;
}

char *repo_key_log(const char *source, const char *file)
{
    char tl[9];
    if (repo_log_name(file, tl, NULL) != 0)
        return NULL;
    return cf_asprintf("logs/%s/%s/%s", source, tl, file);
}

/* the keyed digest of the rest of @fd's file, and its size */
static int digest_fd(int fd, const unsigned char key[KEY_BYTES], unsigned char out[32],
                     uint64_t *size, unsigned char *buf, const char *path, struct cf_err *e)
{
    crypto_generichash_state h;
    ssize_t k;

    *size = 0;
    crypto_generichash_init(&h, key, KEY_BYTES, 32);
    while ((k = read(fd, buf, LOGZ_CHUNK)) != 0) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
        }
        crypto_generichash_update(&h, buf, (size_t)k);
        *size += (uint64_t)k;
    }
    crypto_generichash_final(&h, out, 32);
    return 0;
}

/* "<source>/<file>#<digest>@<pushed>": what the object holds, and when it was pushed (Unix
 * seconds; objects written before the time was recorded end at the digest) */
static void log_id(const char *source, const char *file, const unsigned char dig[32],
                   int64_t pushed, const char *extra, char *out, size_t cap)
{
    char hex[65];
    hex_encode(dig, 32, hex);
    snprintf(out, cap, "%s/%s#%s@%lld%s%s", source, file, hex, (long long)pushed,
             extra ? ";" : "", extra ? extra : "");
}

/* the text after the push time: fields "name=value" apart by ';', of a small alphabet */
static bool extra_ok(const char *x)
{
    return x[0] != '\0' && strspn(x, "0123456789abcdefghijklmnopqrstuvwxyz.-,=;") == strlen(x);
}

/* split the id @id of the archived @file of @source into its digest and push time (0 when
 * not recorded); CF_E_CORRUPT when the id names another file or is malformed */
static int parse_id(const char *id, const char *source, const char *file, unsigned char dig[32],
                    int64_t *pushed, const char **extra, struct cf_err *e)
{
    size_t sl = strlen(source), fl = strlen(file);
    const char *p = id + sl + 1 + fl + 1;

    *pushed = 0;
    if (extra)
        *extra = NULL;
    if (strlen(id) < sl + fl + 66 || strncmp(id, source, sl) != 0 || id[sl] != '/' ||
        strncmp(id + sl + 1, file, fl) != 0 || p[-1] != '#')
        goto bad;
    char hex[65];
    memcpy(hex, p, 64);
    hex[64] = '\0';
    if (hex_decode(hex, dig, 32) != 0)
        goto bad;
    p += 64;
    if (*p == '@') {
        char *end;
        errno = 0;
        long long t = strtoll(p + 1, &end, 10);
        if (end == p + 1 || errno != 0 || t < 0 || (*end != '\0' && *end != ';'))
            goto bad;
        if (*end == ';') {
            if (!extra_ok(end + 1))
                goto bad;
            if (extra)
                *extra = end + 1;
        }
        *pushed = t;
    } else if (*p != '\0') {
        goto bad;
    }
    return 0;
bad:
    return cf_err_set(e, CF_E_CORRUPT, "the object holds '%s', not this file", id);
}

/* the id in the header of the object @key: 0 with @id set, CF_E_NOTFOUND when there is none */
static int stored_id(struct repo *r, const char *key, char id[SEAL_ID_MAX + 1], struct cf_err *e)
{
    struct target_reader *rd = NULL;
    unsigned char hdr[17 + SEAL_ID_MAX];
    size_t got = 0;
    uint8_t kind;
    int rc = -1;

    if (target_get_begin(repo_target(r), key, &rd, e) != 0)
        return -1;
    while (got < sizeof(hdr)) {
        ssize_t k = target_read(rd, hdr + got, sizeof(hdr) - got, e);
        if (k < 0)
            goto out;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    if (seal_hdr_id(hdr, got, &kind, id, e) != 0)
        goto out;
    if (kind != SEAL_LOG) {
        cf_err_set(e, CF_E_CORRUPT, "object is of kind %u, not a log file", kind);
        goto out;
    }
    rc = 0;
out:
    target_get_end(rd);
    return rc;
}

/* does the archived object whose header id is @have hold @source's @file with digest @dig?
 * 1 yes; -1 with @e otherwise (CF_E_EXISTS: another content) */
static int same_content(struct repo *r, const char *have, const char *source, const char *file,
                        const unsigned char dig[32], struct cf_err *e)
{
    unsigned char hdig[32];
    int64_t pushed;
    struct cf_err ge = CF_ERR_INIT;

    if (parse_id(have, source, file, hdig, &pushed, NULL, &ge) != 0) {
        cf_err_keep(e, &ge);
        return cf_err_ctx(e, "the archived '%s' at %s", file, repo_describe(r));
    }
    if (sodium_memcmp(hdig, dig, 32) == 0)
        return 1;
    return cf_err_set(e, CF_E_EXISTS,
                      "'%s' is already archived at %s with different content: refusing to "
                      "replace it. HINT: two clusters may be archiving into one source, or a "
                      "restored copy still runs archive_command; give each cluster its own "
                      "source (and turn archiving off in copies)", file, repo_describe(r));
}

/* the id in the header of the object @key when there is one: 1 with @have set, 0 absent,
 * -1 with @e when it cannot be read */
static int archived_id(struct repo *r, const char *key, const char *file,
                       char have[SEAL_ID_MAX + 1], struct cf_err *e)
{
    struct cf_err ge = CF_ERR_INIT;

    if (stored_id(r, key, have, &ge) == 0)
        return 1;
    if (ge.code == CF_E_NOTFOUND)
        return 0;
    cf_err_keep(e, &ge);
    return cf_err_ctx(e, "unable to read the archived '%s' at %s", file, repo_describe(r));
}

/* is @key there, holding @source's @file with digest @dig? 1 yes, 0 absent, -1 with @e:
 * another content (CF_E_EXISTS) or the check failed */
static int already_there(struct repo *r, const char *key, const char *source, const char *file,
                         const unsigned char dig[32], struct cf_err *e)
{
    char have[SEAL_ID_MAX + 1];
    int there = archived_id(r, key, file, have, e);

    return there == 1 ? same_content(r, have, source, file, dig, e) : there;
}

/* seal the compressed bytes @p[0..@len) into @w as messages of SEAL_MSG_MAX plaintext bytes:
 * when @final, all of them, the last (tagged FINAL) with the rest (1..SEAL_MSG_MAX bytes, or
 * none when @len is 0); otherwise only while more than SEAL_MSG_MAX bytes are left, so that
 * the FINAL message is never empty. *@used gets how many bytes went into messages. */
static int seal_msgs(struct target_writer *w, struct seal_w *sw, const unsigned char *p,
                     size_t len, bool final, unsigned char *msg, uint64_t *stored,
                     size_t *used, struct cf_err *e)
{
    size_t off = 0;

    while (len - off > SEAL_MSG_MAX) {
        size_t n = seal_push(sw, p + off, SEAL_MSG_MAX, SEAL_TAG_MESSAGE, msg);
        if (target_write(w, msg, n, e) != 0)
            return -1;
        *stored += n;
        off += SEAL_MSG_MAX;
    }
    if (final) {
        size_t n = seal_push(sw, p + off, len - off, SEAL_TAG_FINAL, msg);
        if (target_write(w, msg, n, e) != 0)
            return -1;
        *stored += n;
        off = len;
    }
    *used = off;
    return 0;
}

/* compress and seal what is left of @fd into @w, hashing the file's bytes again into *@h
 * (a file too large to be held compressed in memory, read a second time) */
static int push_body(int fd, const char *path, struct target_writer *w, struct seal_w *sw,
                     int level, crypto_generichash_state *h, unsigned char *in,
                     unsigned char *msg, uint64_t *stored, struct cf_err *e)
{
    ZSTD_CCtx *z = logz_cctx(level);
    size_t zcap = ZSTD_CStreamOutSize(), pend_len = 0, used;
    unsigned char *zout = cf_malloc(zcap);
    unsigned char *pend = cf_malloc(SEAL_MSG_MAX + zcap); /* compressed bytes not sealed yet */
    int rc = -1;
    bool last = false;

    if (z == NULL) {
        cf_err_set(e, CF_E_INTERNAL, "unable to set up zstd");
        goto out;
    }
    while (!last) {
        ssize_t k = read(fd, in, LOGZ_CHUNK);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
            goto out;
        }
        last = k == 0;
        crypto_generichash_update(h, in, (size_t)k);
        ZSTD_inBuffer ib = { in, (size_t)k, 0 };
        size_t left;
        do {
            ZSTD_outBuffer ob = { zout, zcap, 0 };
            left = ZSTD_compressStream2(z, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left)) {
                cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(left));
                goto out;
            }
            memcpy(pend + pend_len, zout, ob.pos);
            pend_len += ob.pos;
            if (seal_msgs(w, sw, pend, pend_len, false, msg, stored, &used, e) != 0)
                goto out;
            pend_len -= used;
            memmove(pend, pend + used, pend_len);
        } while (ib.pos < ib.size || (last && left != 0));
    }
    if (seal_msgs(w, sw, pend, pend_len, true, msg, stored, &used, e) != 0)
        goto out;
    rc = 0;
out:
    free(pend);
    free(zout);
    ZSTD_freeCCtx(z);
    return rc;
}

int repo_log_push(struct repo *r, const char *source, const char *path, int level,
                  struct repo_log_stats *st, struct cf_err *e)
{
    return repo_log_push_extra(r, source, path, level, NULL, st, e);
}

int repo_log_push_extra(struct repo *r, const char *source, const char *path, int level,
                        const char *extra, struct repo_log_stats *st, struct cf_err *e)
{
    const char *file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char tl[9], id[SEAL_ID_MAX + 1], have[SEAL_ID_MAX + 1], *key = NULL;
    unsigned char dkey[KEY_BYTES], dig[32], dig2[32];
    unsigned char *in = NULL, *msg = NULL;
    struct buf z = BUF_INIT;   /* the compressed file, when read once */
    struct seal_key sk;
    struct seal_w sw;
    struct target_writer *w = NULL;
    crypto_generichash_state h;
    struct stat sb;
    int fd = -1, rc = -1, there, once = 1;

    memset(st, 0, sizeof(*st));
    memset(&sk, 0, sizeof(sk));
    if (repo_log_name(file, tl, e) != 0)
        goto out;
    if (extra != NULL && !extra_ok(extra)) {
        cf_err_set(e, CF_E_INTERNAL, "'%s' cannot go in a log object's id", extra);
        goto out;
    }
    if (strlen(source) + strlen(file) + 66 + 21 + (extra ? strlen(extra) + 1 : 0) > SEAL_ID_MAX) {
        cf_err_set(e, CF_E_USAGE, "source name '%s' is too long for the log archive", source);
        goto out;
    }
    key = repo_key_log(source, file);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "unable to open '%s'", path);
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to stat '%s'", path);
        goto out;
    }
    keys_digest_key(repo_keys(r), dkey);
    in = cf_malloc(LOGZ_CHUNK);
    /* archived already (a retry, or a restored copy): the digest alone decides, nothing is
     * compressed */
    if ((there = archived_id(r, key, file, have, e)) != 0) {
        if (there == 1 && digest_fd(fd, dkey, dig, &st->bytes_in, in, path, e) == 0 &&
            same_content(r, have, source, file, dig, e) == 1) {
            st->existed = true;
            rc = 0;
        }
        goto out;
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= LOG_WHOLE_MAX &&
        (once = logz_squeeze(fd, path, level, (uint64_t)sb.st_size, LOG_WHOLE_MAX, dkey, dig,
                             &st->bytes_in, &z, e)) < 0)
        goto out;
    if (once != 0) {
        /* larger, or grew while read: digest it, then read it again to compress it */
        if (lseek(fd, 0, SEEK_SET) != 0) {
            cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
            goto out;
        }
        if (digest_fd(fd, dkey, dig, &st->bytes_in, in, path, e) != 0)
            goto out;
        if (lseek(fd, 0, SEEK_SET) != 0) {
            cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
            goto out;
        }
    }
    log_id(source, file, dig, (int64_t)time(NULL), extra, id, sizeof(id));
    if (seal_key_new(&sk, repo_keys(r), id, e) != 0)
        goto out;
    seal_begin(&sw, &sk, SEAL_LOG, 0);
    if (target_put_begin(repo_target(r), key, 0, TARGET_PUT_NOREPLACE, &w, e) != 0 ||
        target_write(w, sw.hdr, sw.hdr_len, e) != 0)
        goto out;
    st->bytes_stored = sw.hdr_len;
    msg = cf_malloc(SEAL_MSG_MAX + SEAL_MSG_OVERHEAD);
    if (once == 0) {
        size_t used;
        if (seal_msgs(w, &sw, (const unsigned char *)z.data, z.len, true, msg,
                      &st->bytes_stored, &used, e) != 0)
            goto out;
    } else {
        crypto_generichash_init(&h, dkey, KEY_BYTES, 32);
        if (push_body(fd, path, w, &sw, level, &h, in, msg, &st->bytes_stored, e) != 0)
            goto out;
        crypto_generichash_final(&h, dig2, 32);
        if (memcmp(dig, dig2, 32) != 0) {
            cf_err_set(e, CF_E_IO, "'%s' changed while it was archived", path);
            goto out;
        }
    }
    if (target_commit(w, e) != 0) {
        if (e->code != CF_E_EXISTS)
            goto out;
        /* another push of the same file won the race: the same content is success */
        struct cf_err ce = CF_ERR_INIT;
        if ((there = already_there(r, key, source, file, dig, &ce)) != 1) {
            if (there == 0)
                cf_err_set(&ce, CF_E_IO, "the target refused to replace '%s', which it "
                                         "then did not find", key);
            cf_err_clear(e);
            cf_err_keep(e, &ce);
            goto out;
        }
        cf_err_clear(e);
        st->existed = true;
        target_abort(w);   /* a commit that failed still owns its writer */
    }
    w = NULL;
    rc = 0;
out:
    if (rc != 0)
        rc = cf_err_ctx(e, "archive of '%s' for source '%s'", file, source);
    target_abort(w);
    seal_key_wipe(&sk);
    sodium_memzero(dkey, sizeof(dkey));
    buf_free(&z);
    free(msg);
    free(in);
    if (fd >= 0)
        close(fd);
    free(key);
    return rc;
}

static ssize_t reader_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    return target_read(arg, buf, cap, e);
}

/* decrypt, decompress and check the object open in @rd into @f (NULL: check only); @want is
 * the digest */
static int fetch_body(struct seal_r *sr, struct afile *f, const unsigned char dkey[KEY_BYTES],
                      const unsigned char want[32], struct cf_err *e)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    size_t ocap = ZSTD_DStreamOutSize(), zret = 1, len;
    unsigned char *out = cf_malloc(ocap), *pt = cf_malloc(SEAL_MSG_MAX), got[32], tag;
    crypto_generichash_state h;
    int rc = -1, k;

    if (z == NULL) {
        cf_err_set(e, CF_E_INTERNAL, "unable to set up zstd");
        goto out;
    }
    crypto_generichash_init(&h, dkey, KEY_BYTES, 32);
    while ((k = seal_next(sr, pt, &len, &tag, e)) == 1) {
        if (tag == SEAL_TAG_PUSH) {
            cf_err_set(e, CF_E_CORRUPT, "a log object ends with a PUSH message");
            goto out;
        }
        ZSTD_inBuffer ib = { pt, len, 0 };
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = { out, ocap, 0 };
            zret = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(zret)) {
                cf_err_set(e, CF_E_CORRUPT, "zstd: %s", ZSTD_getErrorName(zret));
                goto out;
            }
            crypto_generichash_update(&h, out, ob.pos);
            if (f != NULL && afile_write(f, out, ob.pos, e) != 0)
                goto out;
        }
    }
    if (k < 0)
        goto out;
    if (zret != 0) {
        cf_err_set(e, CF_E_CORRUPT, "the compressed file is truncated");
        goto out;
    }
    crypto_generichash_final(&h, got, 32);
    if (sodium_memcmp(got, want, 32) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "its content does not match the digest in its header");
        goto out;
    }
    rc = 0;
out:
    free(pt);
    free(out);
    ZSTD_freeDCtx(z);
    return rc;
}

/* fetch into @dest, or only check when @dest is NULL */
static int log_read(struct repo *r, const char *source, const char *file, const char *dest,
                    struct cf_err *e)
{
    char tl[9], *key = NULL;
    unsigned char dkey[KEY_BYTES], want[32];
    int64_t pushed;
    struct target_reader *rd = NULL;
    struct seal_key sk;
    struct seal_r sr;
    struct afile f;
    bool open_f = false;
    int rc = -1;

    memset(&sk, 0, sizeof(sk));
    memset(&sr, 0, sizeof(sr));
    if (repo_log_name(file, tl, e) != 0)
        goto out;
    key = repo_key_log(source, file);
    if (target_get_begin(repo_target(r), key, &rd, e) != 0)
        goto out;
    if (seal_open(&sr, reader_read, rd, repo_keys(r), &sk, SEAL_LOG, 0, NULL, e) != 0)
        goto out;
    if (parse_id(sk.id, source, file, want, &pushed, NULL, e) != 0)
        goto out;
    keys_digest_key(repo_keys(r), dkey);
    if (dest != NULL) {
        if (afile_begin(&f, dest, ".coffer-", 0600, e) != 0)
            goto out;
        open_f = true;
    }
    if (fetch_body(&sr, open_f ? &f : NULL, dkey, want, e) != 0 ||
        (open_f && afile_commit(&f, 0, e) != 0))
        goto out;
    rc = 0;
out:
    if (rc != 0 && e->code != CF_E_NOTFOUND)
        rc = cf_err_ctx(e, "archived '%s' of source '%s' at %s", file, source,
                        repo_describe(r));
    if (open_f)
        afile_abort(&f);
    seal_r_free(&sr);
    target_get_end(rd);
    seal_key_wipe(&sk);
    sodium_memzero(dkey, sizeof(dkey));
    free(key);
    return rc;
}

int repo_log_fetch(struct repo *r, const char *source, const char *file, const char *dest,
                   struct cf_err *e)
{
    return log_read(r, source, file, dest, e);
}

int repo_log_verify(struct repo *r, const char *source, const char *file, struct cf_err *e)
{
    return log_read(r, source, file, NULL, e);
}

int repo_log_remove(struct repo *r, const char *source, const char *const *files, size_t n,
                    struct cf_err *e)
{
    char **keys = cf_calloc(n ? n : 1, sizeof(*keys));
    int rc = -1;

    for (size_t i = 0; i < n; i++)
        if ((keys[i] = repo_key_log(source, files[i])) == NULL) {
            cf_err_set(e, CF_E_USAGE, "'%s' is not the name of a log file", files[i]);
            goto out;
        }
    rc = target_remove_many(repo_target(r), (const char *const *)keys, n, e);
    if (rc != 0)
        cf_err_ctx(e, "removing %zu archived files of source '%s' at %s", n, source,
                   repo_describe(r));
out:
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* the fields of an id's extra text that @m knows ("events=F..L", "gtid=A..B", "closed");
 * others are passed over (a newer writer may add some) */
static void extra_parse(const char *x, struct repo_log_meta *m)
{
    while (*x) {
        size_t n = strcspn(x, ";");
        char f[SEAL_ID_MAX + 1], *dots;
        memcpy(f, x, n);
        f[n] = '\0';
        x += n + (x[n] == ';');
        dots = strstr(f, "..");
        if (strncmp(f, "events=", 7) == 0 && dots) {
            m->first_event = strtoll(f + 7, NULL, 10);
            m->last_event = strtoll(dots + 2, NULL, 10);
        } else if (strncmp(f, "gtid=", 5) == 0 && dots &&
                   (size_t)(dots - f - 5) < sizeof(m->gtid_first) &&
                   strlen(dots + 2) < sizeof(m->gtid_last)) {
            memcpy(m->gtid_first, f + 5, (size_t)(dots - f - 5));
            m->gtid_first[dots - f - 5] = '\0';
            strcpy(m->gtid_last, dots + 2);
        } else if (strcmp(f, "closed") == 0) {
            m->closed = true;
        }
    }
}

int repo_log_stat(struct repo *r, const char *source, const char *file,
                  struct repo_log_meta *m, struct cf_err *e)
{
    char tl[9], id[SEAL_ID_MAX + 1], *key = NULL;
    const char *extra;
    unsigned char dig[32];
    int rc = -1;

    memset(m, 0, sizeof(*m));
    if (repo_log_name(file, tl, e) != 0)
        goto out;
    key = repo_key_log(source, file);
    if (target_stat(repo_target(r), key, &m->stored, e) != 0 ||
        stored_id(r, key, id, e) != 0 ||
        parse_id(id, source, file, dig, &m->pushed, &extra, e) != 0)
        goto out;
    if (extra != NULL)
        extra_parse(extra, m);
    rc = 0;
out:
    if (rc != 0 && e->code != CF_E_NOTFOUND)
        rc = cf_err_ctx(e, "archived '%s' of source '%s' at %s", file, source,
                        repo_describe(r));
    free(key);
    return rc;
}

struct log_list {
    const char *source;
    repo_log_fn fn;
    void *arg;
};

static int log_list_one(void *arg, const char *key, uint64_t size)
{
    struct log_list *l = arg;
    size_t sl = strlen(l->source);
    const char *rest = key + 5 + sl + 1, *file = strchr(rest, '/');
    char tl[9];

    /* logs/<source>/<dir>/<file>, the directory being the file's own (its timeline, or
     * "binlog") */
    if (file == NULL)
        return 0;
    file++;
    if (strchr(file, '/') != NULL || repo_log_name(file, tl, NULL) != 0 ||
        strlen(tl) != (size_t)(file - 1 - rest) || strncmp(rest, tl, strlen(tl)) != 0)
        return 0;
    return l->fn(l->arg, file, size);
}

int repo_log_list(struct repo *r, const char *source, repo_log_fn fn, void *arg,
                  struct cf_err *e)
{
    struct log_list l = { source, fn, arg };
    char *prefix = cf_asprintf("logs/%s/", source);
    int rc = target_list(repo_target(r), prefix, log_list_one, &l, e);
    if (rc != 0)
        cf_err_ctx(e, "listing the log archive of source '%s' at %s", source,
                   repo_describe(r));
    free(prefix);
    return rc;
}

