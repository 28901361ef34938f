/* child.c - the dump and load tools of the database sources as child processes: a pipe, a
 * private environment, stderr kept for the error message. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"

extern char **environ;

#define CHILD_PIPE_SIZE (1 << 20)
/* coreutils' stdbuf library (coreutils is Essential on Debian) */
#define STDBUF_LIB "/usr/libexec/coreutils/libstdbuf.so"

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
    /* a pipe of 1 MiB rather than 64 KiB: the tool and this process wake each other far less
     * often (best effort: the kernel's pipe-max-size may be lower) */
    (void)fcntl(p[1], F_SETPIPE_SZ, CHILD_PIPE_SIZE);
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

const char *const *src_child_stdio_env(struct child_stdio_env *s, enum child_pipe dir)
{
    const char *pre = getenv("LD_PRELOAD");
    memset(s, 0, sizeof(*s));
    if (access(STDBUF_LIB, R_OK) != 0)
        return s->v;
    if (pre && *pre)
        snprintf(s->preload, sizeof(s->preload), "LD_PRELOAD=%s:%s", STDBUF_LIB, pre);
    else
        snprintf(s->preload, sizeof(s->preload), "LD_PRELOAD=%s", STDBUF_LIB);
    s->v[0] = s->preload;
    s->v[1] = dir == CHILD_READ ? "_STDBUF_O=1048576" : "_STDBUF_I=1048576";
    return s->v;
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
