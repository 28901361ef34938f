/* src_child.c - child processes, secrets and the forwarding reader of the database sources. */
#include "src_child.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "source.h"

extern char **environ;

/* --- child processes --- */

/* an unlinked 0600 temp file for the child's stderr */
static int stderr_file(struct cf_err *e)
{
    const char *dir = getenv("TMPDIR");
    char *path = cf_asprintf("%s/coffer-err.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create a temp file in '%s'", dir && *dir ? dir : "/tmp");
        free(path);
        return -1;
    }
    unlink(path);
    free(path);
    return fd;
}

static bool env_overridden(const char *var, const char *const env[])
{
    size_t n = strcspn(var, "=");
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], var, n) == 0 && env[i][n] == '=')
            return true;
    return false;
}

int src_child_start(struct child *c, const char *what, char *const argv[],
                    const char *const env[], enum child_pipe dir, struct cf_err *e)
{
    int rc = -1, p[2] = { -1, -1 }, devnull = -1, err_fd = -1;
    size_t n = 0, k = 0;
    char **envp = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def;
    bool fa_init = false, attr_init = false;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->err_fd = -1;
    signal(SIGPIPE, SIG_IGN);

    for (char **v = environ; v && *v; v++)
        n++;
    for (size_t i = 0; env && env[i]; i++)
        n++;
    envp = cf_calloc(n + 1, sizeof(*envp));
    for (char **v = environ; v && *v; v++)
        if (!env_overridden(*v, env))
            envp[k++] = *v;
    for (size_t i = 0; env && env[i]; i++)
        envp[k++] = (char *)env[i];

    if ((err_fd = stderr_file(e)) < 0)
        goto out;
    if (pipe2(p, O_CLOEXEC) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to create a pipe for %s", what);
        goto out;
    }
    if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        cf_err_sys(e, CF_E_IO, "unable to open /dev/null");
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    fa_init = true;
    if (dir == CHILD_READ) {
        posix_spawn_file_actions_adddup2(&fa, devnull, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    } else {
        posix_spawn_file_actions_adddup2(&fa, p[0], 0);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    }
    posix_spawnattr_init(&attr);
    attr_init = true;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

    int err = strchr(argv[0], '/') ? posix_spawn(&c->pid, argv[0], &fa, &attr, argv, envp)
                                   : posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, envp);
    if (err != 0) {
        errno = err;
        c->pid = 0;
        cf_err_sys(e, CF_E_SOURCE, "unable to run %s ('%s')", what, argv[0]);
        goto out;
    }
    if (dir == CHILD_READ) {
        c->fd = p[0];
        p[0] = -1;
    } else {
        c->fd = p[1];
        p[1] = -1;
    }
    c->err_fd = err_fd;
    err_fd = -1;
    c->what = cf_strdup(what);
    rc = 0;
out:
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (devnull >= 0)
        close(devnull);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    if (err_fd >= 0)
        close(err_fd);
    free(envp);
    return rc;
}

void src_child_stderr(const struct child *c, size_t max, struct buf *out)
{
    struct stat st;
    if (c->err_fd < 0 || fstat(c->err_fd, &st) != 0)
        return;
    off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    size_t want = (size_t)(st.st_size - from);
    buf_reserve(out, want + 1);
    ssize_t got = pread(c->err_fd, out->data + out->len, want, from);
    if (got > 0) {
        out->len += (size_t)got;
        out->data[out->len] = '\0';
    }
}

/* the last non-empty lines of the child's stderr, joined with "; " */
static void stderr_summary(const struct child *c, struct buf *out)
{
    struct buf raw = BUF_INIT;
    src_child_stderr(c, 600, &raw);
    if (raw.len == 0) {
        buf_free(&raw);
        return;
    }
    char *s = raw.data;
    if (raw.len >= 600) {   /* cut: start at a line boundary */
        char *nl = strchr(s, '\n');
        if (nl)
            s = nl + 1;
    }
    bool first = true;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0')
            continue;
        if (!first)
            buf_puts(out, "; ");
        buf_puts(out, line);
        first = false;
    }
    buf_free(&raw);
}

static void child_release(struct child *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->err_fd >= 0)
        close(c->err_fd);
    c->err_fd = -1;
    free(c->what);
    c->what = NULL;
}

int src_child_finish(struct child *c, struct cf_err *e)
{
    int status, rc = -1;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->pid <= 0) {
        child_release(c);
        return 0;
    }
    while (waitpid(c->pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cf_err_sys(e, CF_E_INTERNAL, "unable to wait for %s", c->what);
            c->pid = 0;
            goto out;
        }
    }
    c->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
        goto out;
    }
    struct buf msg = BUF_INIT;
    stderr_summary(c, &msg);
    if (WIFSIGNALED(status))
        cf_err_set(e, CF_E_SOURCE, "%s was killed by signal %d%s%s", c->what, WTERMSIG(status),
                   msg.len ? ": " : "", msg.len ? msg.data : "");
    else
        cf_err_set(e, CF_E_SOURCE, "%s failed with exit status %d%s%s", c->what,
                   WEXITSTATUS(status), msg.len ? ": " : "", msg.len ? msg.data : "");
    buf_free(&msg);
out:
    child_release(c);
    return rc;
}

int src_child_conclude(struct child *c, int check_rc, bool stream_ended, struct cf_err *e)
{
    struct cf_err ce = CF_ERR_INIT;
    if (check_rc != 0 && !stream_ended && e->sys_errno != EPIPE) {
        src_child_kill(c);
        return -1;
    }
    if (src_child_finish(c, &ce) != 0) {
        cf_err_clear(e);
        cf_err_keep(e, &ce);
        return -1;
    }
    return check_rc;
}

void src_child_kill(struct child *c)
{
    if (c->pid > 0)   /* before closing its input: a loader must not see a clean end */
        kill(c->pid, SIGTERM);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->pid > 0) {
        for (int i = 0; i < 50; i++) {
            if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                c->pid = 0;
                break;
            }
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            c->pid = 0;
        }
    }
    child_release(c);
}

char *src_tool_path(const char *tool, const char *bindir, const char *glob_dir)
{
    if (bindir && *bindir)
        return cf_asprintf("%s/%s", bindir, tool);
    if (glob_dir) {
        glob_t g;
        char *best = NULL;
        if (glob(glob_dir, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                char *p = cf_asprintf("%s/%s", g.gl_pathv[i], tool);
                if (access(p, X_OK) == 0 && (best == NULL || strverscmp(p, best) > 0)) {
                    free(best);
                    best = p;
                } else {
                    free(p);
                }
            }
            globfree(&g);
        }
        if (best)
            return best;
    }
    return cf_strdup(tool);
}

/* --- the forwarding reader --- */

#define READER_CHUNK (256 * 1024)

static ssize_t fd_read(void *ctx, void *buf, size_t cap, struct cf_err *e)
{
    struct src_reader *r = ctx;
    for (;;) {
        ssize_t got = read(r->fd, buf, cap);
        if (got >= 0)
            return got;
        if (errno != EINTR)
            return cf_err_sys(e, CF_E_SOURCE, "unable to read %s", r->what);
    }
}

void src_reader_init_fn(struct src_reader *r, src_read_fn fn, void *fn_ctx, const char *what,
                        src_sink_fn sink, void *sink_ctx)
{
    memset(r, 0, sizeof(*r));
    r->read = fn;
    r->read_ctx = fn_ctx;
    r->fd = -1;
    r->what = what;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->limit = UINT64_MAX;
}

void src_reader_init(struct src_reader *r, int fd, const char *what, src_sink_fn sink,
                     void *sink_ctx)
{
    memset(r, 0, sizeof(*r));
    r->read = fd_read;
    r->read_ctx = r;
    r->fd = fd;
    r->what = what;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->limit = UINT64_MAX;
}

void src_reader_free(struct src_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

int src_reader_flush(struct src_reader *r, struct cf_err *e)
{
    size_t n = r->pos - r->fwd;
    if (n == 0)
        return 0;
    if (r->crc)
        r->crc64 = src_crc64(r->crc64, r->buf + r->fwd, n);
    if (r->sink && r->sink(r->sink_ctx, r->buf + r->fwd, n, e) != 0)
        return -1;
    r->fwd = r->pos;
    return 0;
}

int src_reader_fill(struct src_reader *r, size_t n, struct cf_err *e)
{
    if (r->len - r->pos >= n)
        return 1;
    if (src_reader_flush(r, e) != 0)
        return -1;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = r->fwd = 0;
    }
    if (r->cap < n || r->cap < READER_CHUNK) {
        size_t cap = n > READER_CHUNK ? n : READER_CHUNK;
        r->buf = cf_realloc(r->buf, cap);
        r->cap = cap;
    }
    while (r->len < n && !r->eof) {
        size_t want = r->cap - r->len;
        if ((uint64_t)want > r->limit - r->nread)
            want = (size_t)(r->limit - r->nread);
        if (want == 0) {
            r->eof = true;
            break;
        }
        ssize_t got = r->read(r->read_ctx, r->buf + r->len, want, e);
        if (got < 0)
            return -1;
        if (got == 0) {
            r->eof = true;
            break;
        }
        r->len += (size_t)got;
        r->nread += (uint64_t)got;
    }
    return r->len >= n ? 1 : 0;
}

const unsigned char *src_reader_peek(const struct src_reader *r)
{
    return r->buf ? r->buf + r->pos : (const unsigned char *)"";
}

size_t src_reader_avail(const struct src_reader *r)
{
    return r->len - r->pos;
}

void src_reader_consume(struct src_reader *r, size_t n)
{
    CF_ASSERT(n <= r->len - r->pos);
    if (r->capture)
        buf_append(r->capture, r->buf + r->pos, n);
    r->pos += n;
    r->consumed += n;
}

int src_reader_get(struct src_reader *r, void *out, size_t n, const char *field,
                   struct cf_err *e)
{
    if (out != NULL || n <= READER_CHUNK) {
        int f = src_reader_fill(r, n, e);
        if (f < 0)
            return -1;
        if (f == 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: truncated in %s at byte %llu", r->what,
                              field, (unsigned long long)r->consumed);
        if (out)
            memcpy(out, src_reader_peek(r), n);
        src_reader_consume(r, n);
        return 0;
    }
    while (n > 0) {   /* a large skip, one buffer at a time */
        int f = src_reader_fill(r, 1, e);
        if (f < 0)
            return -1;
        if (f == 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: truncated in %s at byte %llu", r->what,
                              field, (unsigned long long)r->consumed);
        size_t k = src_reader_avail(r) < n ? src_reader_avail(r) : n;
        src_reader_consume(r, k);
        n -= k;
    }
    return 0;
}

int src_reader_at_eof(struct src_reader *r, struct cf_err *e)
{
    int f = src_reader_fill(r, 1, e);
    if (f < 0)
        return -1;
    return f == 0 ? 1 : 0;
}

int src_pump(struct src_reader *r, struct buf *head, size_t head_cap, struct buf *tail,
             size_t tail_cap, struct cf_err *e)
{
    for (;;) {
        int f = src_reader_fill(r, 1, e);
        if (f < 0)
            return -1;
        if (f == 0)
            break;
        const unsigned char *p = src_reader_peek(r);
        size_t n = src_reader_avail(r);
        if (head && head->len < head_cap)
            buf_append(head, p, n < head_cap - head->len ? n : head_cap - head->len);
        if (tail) {
            if (n >= tail_cap) {
                buf_reset(tail);
                buf_append(tail, p + n - tail_cap, tail_cap);
            } else {
                buf_append(tail, p, n);
                if (tail->len > tail_cap) {
                    memmove(tail->data, tail->data + tail->len - tail_cap, tail_cap);
                    tail->len = tail_cap;
                    tail->data[tail->len] = '\0';
                }
            }
        }
        src_reader_consume(r, n);
    }
    return src_reader_flush(r, e);
}

/* --- crc64 (Redis: Jones polynomial 0xad93d23594c935a9, reflected, init 0) --- */

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    const uint64_t poly = 0x95ac9329ac4bc9b5ULL;   /* 0xad93d23594c935a9 reflected */
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        crc_table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint64_t src_crc64(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    pthread_once(&crc_once, crc_init);
    while (n >= 8) {   /* slicing by 8 */
        uint64_t v;
        memcpy(&v, s, 8);
        v ^= crc;
        crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
              crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
              crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
              crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* --- restore plumbing --- */

const char *src_info_db_name(json_t *info, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(info, "databases"), i),
                                             "name"));
}

int src_select_db(json_t *info, const char *want, bool one_needed, const char *what,
                  const char **out, struct cf_err *e)
{
    size_t n = json_array_size(json_object_get(info, "databases"));
    *out = NULL;
    if (want) {
        struct buf names = BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(src_info_db_name(info, i), want) == 0) {
                *out = src_info_db_name(info, i);
                buf_free(&names);
                return 0;
            }
            buf_printf(&names, "%s%s", i ? ", " : "", src_info_db_name(info, i));
        }
        cf_err_set(e, CF_E_NOTFOUND, "the backup holds no database '%s' (it holds: %s)", want,
                   names.data ? names.data : "none");
        buf_free(&names);
        return -1;
    }
    if (!one_needed)
        return 0;
    if (n == 1) {
        *out = src_info_db_name(info, 0);
        return 0;
    }
    return cf_err_set(e, CF_E_USAGE,
                      "%s takes one database and the backup holds %zu: name it with --database DB",
                      what, n);
}

const char *src_dest_db(const struct restore_opts *o, const char *orig)
{
    return src_into_named(o) ? o->into_db : orig;
}

bool src_into_named(const struct restore_opts *o)
{
    return o->into_db != NULL && strcmp(o->into_db, "SAME") != 0;
}

char *src_plan_db_size(json_t *info, const char *name)
{
    json_t *dbs = json_object_get(info, "databases"), *bytes = NULL;
    char part[32];

    for (size_t i = 0; i < json_array_size(dbs); i++)
        if (strcmp(src_info_db_name(info, i), name) == 0)
            bytes = json_object_get(json_array_get(dbs, i), "bytes");
    if (!json_is_integer(bytes))
        return cf_strdup("");
    format_bytes((uint64_t)json_integer_value(bytes), part, sizeof(part));
    return cf_asprintf("; %s of the backup's dump", part);
}

int src_in_next_db(struct source_in *in, const char **part, char **db, struct cf_err *e)
{
    *db = NULL;
    int k = source_in_next_part(in, part, e);
    if (k == 1 && strncmp(*part, SRC_PART_DB_PREFIX, strlen(SRC_PART_DB_PREFIX)) == 0)
        *db = cf_strdup(*part + strlen(SRC_PART_DB_PREFIX));
    return k;
}

ssize_t src_in_read_fn(void *ctx, void *buf, size_t cap, struct cf_err *e)
{
    return source_in_read(ctx, buf, cap, e);
}

int src_fd_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return fs_write_all(*(int *)ctx, buf, len, "the restore tool's input", e);
}

int src_outfile_check(const char *path, bool force, struct cf_err *e)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return cf_err_set(e, CF_E_USAGE, "--to-file '%s' is a directory: name a file", path);
        if (!force)
            return cf_err_set(e, CF_E_EXISTS,
                              "--to-file '%s' exists. HINT: name a new file, or add --force to replace it",
                              path);
    }
    char *dir = fs_dirname(path);
    int rc = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = cf_err_set(e, CF_E_USAGE, "--to-file '%s': directory '%s' does not exist", path, dir);
    free(dir);
    return rc;
}

int src_outfile_begin(struct src_outfile *f, const char *path, bool force, struct cf_err *e)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (src_outfile_check(path, force, e) != 0)
        return -1;
    f->tmp = cf_asprintf("%s.coffer-partial-XXXXXX", path);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create '%s'", f->tmp);
        free(f->tmp);
        f->tmp = NULL;
        return -1;
    }
    f->path = cf_strdup(path);
    return 0;
}

int src_outfile_commit(struct src_outfile *f, struct cf_err *e)
{
    if (fsync(f->fd) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to sync '%s'", f->tmp);
    if (close(f->fd) != 0) {
        f->fd = -1;
        return cf_err_sys(e, CF_E_IO, "unable to close '%s'", f->tmp);
    }
    f->fd = -1;
    if (rename(f->tmp, f->path) != 0)
        return cf_err_sys(e, CF_E_IO, "unable to rename '%s' to '%s'", f->tmp, f->path);
    free(f->tmp);
    f->tmp = NULL;
    char *dir = fs_dirname(f->path);
    int rc = fs_fsync_dir(dir, e);
    free(dir);
    free(f->path);
    f->path = NULL;
    return rc;
}

void src_outfile_abort(struct src_outfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    free(f->path);
    f->path = NULL;
}
