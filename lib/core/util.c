#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "afile.h"

void time_format_rfc3339(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_format_compact(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y%m%dT%H%M%SZ", &tm);
}

static int days_in_month(int y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int fields_to_time(int Y, int M, int D, int h, int m, int s, time_t *out)
{
    struct tm tm = { 0 };
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || s > 60)
        return -1;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    *out = timegm(&tm);
    return 0;
}

/* every form time_parse_rfc3339() and time_parse_at() take, for their one-line error */
#define TIME_FORMS                                                                                \
    "RFC 3339 with Z or an offset (2026-11-21T03:00:00Z, 2026-11-21T04:00:00+01:00 or +0100; "    \
    "seconds may be left out: 2026-11-21T03:00Z)"

/* "+01:00", "+0100", "-04:30": the offset in seconds east of UTC; @p moves past it */
static int parse_offset(const char **p, long *secs)
{
    const char *s = *p;
    int oh, om, sign = *s == '-' ? -1 : 1;
    if ((*s != '+' && *s != '-') || digits(s + 1, 2, &oh))
        return -1;
    s += 3;
    if (*s == ':')
        s++;
    if (digits(s, 2, &om) || oh > 23 || om > 59)
        return -1;
    *p = s + 2;
    *secs = sign * (oh * 3600L + om * 60L);
    return 0;
}

/* the RFC 3339 forms, without "now" */
static int parse_rfc3339(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec = 0;
    long off = 0;
    const char *p;
    time_t t;

    if (strlen(s) < 17 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m))
        return -1;
    p = s + 16;
    if (*p == ':') {
        if (digits(p + 1, 2, &sec))
            return -1;
        p += 3;
        if (*p == '.') {   /* fractions of a second: ignored */
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (parse_offset(&p, &off) != 0)
        return -1;
    if (*p != '\0' || fields_to_time(Y, M, D, h, m, sec, &t) != 0)
        return -1;
    *out = t - (time_t)off;
    return 0;
}

int time_parse_rfc3339(const char *s, time_t *out, struct cf_err *e)
{
    if (strcmp(s, "now") == 0) {
        *out = time(NULL);
        return 0;
    }
    if (parse_rfc3339(s, out) == 0)
        return 0;
    return cf_err_set(e, CF_E_USAGE, "'%s' is not a time: use " TIME_FORMS ", or 'now'", s);
}

int time_parse_at(const char *what, const char *s, bool latest_ok, time_t *out,
                  struct cf_err *e)
{
    if (latest_ok && strcmp(s, "latest") == 0) {
        *out = TIME_LATEST;
        return 0;
    }
    if (time_parse_rfc3339(s, out, NULL) == 0)
        return 0;
    return cf_err_set(e, CF_E_USAGE, "%s '%s' is not a time: use " TIME_FORMS ", 'now'%s", what,
                      s, latest_ok ? " or 'latest' (the newest intact backup)" : "");
}

int time_parse_compact(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec;
    if (digits(s, 4, &Y) || digits(s + 4, 2, &M) || digits(s + 6, 2, &D) || s[8] != 'T' ||
        digits(s + 9, 2, &h) || digits(s + 11, 2, &m) || digits(s + 13, 2, &sec) || s[15] != 'Z')
        return -1;
    return fields_to_time(Y, M, D, h, m, sec, out);
}

uint64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        { "", 1 },          { "b", 1 },           { "k", 1024 },         { "kb", 1000 },
        { "kib", 1024 },    { "m", 1 << 20 },     { "mb", 1000000 },     { "mib", 1 << 20 },
        { "g", 1ull << 30 }, { "gb", 1000000000 }, { "gib", 1ull << 30 }, { "t", 1ull << 40 },
        { "tb", 1000000000000ull }, { "tib", 1ull << 40 },
    };
    char *end;
    char unit[8];
    size_t n = 0;

    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    while (*end == ' ')
        end++;
    while (*end && n < sizeof(unit) - 1)
        unit[n++] = (char)tolower((unsigned char)*end++);
    unit[n] = '\0';
    if (*end)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

int parse_duration(const char *s, int64_t *out)
{
    char *end;
    int64_t mult;

    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    switch (*end) {
    case '\0':
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 7 * 86400; break;
    default: return -1;
    }
    if (*end && end[1] != '\0')
        return -1;
    if (v > INT64_MAX / mult)
        return -1;
    *out = (int64_t)v * mult;
    return 0;
}

void format_bytes(uint64_t n, char *out, size_t cap)
{
    static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, cap, "%" PRIu64 " B", n);
    else
        snprintf(out, cap, "%.1f %s", v, u[i]);
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int hex_decode(const char *in, unsigned char *out, size_t n)
{
    size_t bin_len;
    if (strlen(in) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, in, 2 * n, NULL, &bin_len, NULL) != 0 || bin_len != n)
        return -1;
    return 0;
}

int fs_write_all(int fd, const void *buf, size_t len, const char *what, struct cf_err *e)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_sys(e, CF_E_IO, "unable to write %s", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t fs_read_full(int fd, void *buf, size_t cap, const char *what, struct cf_err *e)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, (char *)buf + got, cap - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_sys(e, CF_E_IO, "unable to read %s", what);
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int fs_read_file(const char *path, size_t max, struct buf *out, struct cf_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int rc = -1;

    if (fd < 0)
        return cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "unable to open '%s'",
                          path);
    if (fstat(fd, &st) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to stat '%s'", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        cf_err_set(e, CF_E_IO, "'%s' is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        cf_err_set(e, CF_E_IO, "'%s' is too large (%lld bytes, at most %zu)", path,
                   (long long)st.st_size, max);
        goto out;
    }
    buf_reset(out);
    buf_reserve(out, (size_t)st.st_size);
    ssize_t n = fs_read_full(fd, out->data, (size_t)st.st_size, path, e);
    if (n < 0)
        goto out;
    out->len = (size_t)n;
    out->data[n] = '\0';
    rc = 0;
out:
    close(fd);
    return rc;
}

char *fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return cf_strdup(".");
    if (slash == path)
        return cf_strdup("/");
    return cf_strndup(path, (size_t)(slash - path));
}

int fs_fsync_dir(const char *dir, struct cf_err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cf_err_sys(e, CF_E_IO, "unable to open directory '%s'", dir);
    if (fsync(fd) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to sync directory '%s'", dir);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct cf_err *e)
{
    struct afile f;

    if (afile_begin(&f, path, ".tmp-", mode, e) != 0)
        return -1;
    if (afile_write(&f, data, len, e) != 0 || afile_commit(&f, 0, e) != 0) {
        afile_abort(&f);
        return -1;
    }
    return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct cf_err *e)
{
    char *p = cf_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                rc = cf_err_sys(e, CF_E_IO, "unable to create directory '%s'", p);
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = cf_err_sys(e, CF_E_IO, "unable to stat '%s'", path);
        else if (!S_ISDIR(st.st_mode))
            rc = cf_err_set(e, CF_E_IO, "'%s' exists and is not a directory", path);
    }
    free(p);
    return rc;
}

int fs_check_private(const char *path, const char *what, struct cf_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return cf_err_set(e, CF_E_NOTFOUND,
                              "unable to read %s '%s': no such file; HINT: create it (mode "
                              "0600) holding only the secret, or correct the path", what, path);
        return cf_err_sys(e, CF_E_IO, "unable to read %s '%s'", what, path);
    }
    if (st.st_mode & 077)
        return cf_err_set(e, CF_E_CONFIG,
                          "%s '%s' is readable by group or others (mode %04o); HINT: run "
                          "chmod 600 '%s'",
                          what, path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

int fs_read_secret(const char *path, const char *what, struct buf *out, struct cf_err *e)
{
    if (fs_check_private(path, what, e) != 0)
        return -1;
    if (fs_read_file(path, 64 * 1024, out, e) != 0)
        return cf_err_ctx(e, "%s", what);
    if (out->len > 0 && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    if (out->len > 0 && out->data[out->len - 1] == '\r')
        out->data[--out->len] = '\0';
    if (out->len == 0)
        return cf_err_set(e, CF_E_CONFIG, "%s '%s' is empty", what, path);
    return 0;
}

int fs_private_tmpdir(const char *what, char **out, struct cf_err *e)
{
    const char *tmp = getenv("TMPDIR");
    *out = cf_asprintf("%s/coffer-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
    if (mkdtemp(*out) == NULL) {   /* mode 0700 */
        cf_err_sys(e, CF_E_IO, "unable to create a private directory '%s'", *out);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path);
    return unlink(path);
}

int fs_remove_tree(const char *path, struct cf_err *e)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : cf_err_sys(e, CF_E_IO, "unable to stat '%s'", path);
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to remove '%s'", path);
    return 0;
}

int fs_dir_is_empty(const char *path, bool *empty, struct cf_err *e)
{
    DIR *d = opendir(path);
    struct dirent *de;
    if (d == NULL)
        return cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO,
                          "unable to open directory '%s'", path);
    *empty = true;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            *empty = false;
            break;
        }
    }
    closedir(d);
    return 0;
}

int sys_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
