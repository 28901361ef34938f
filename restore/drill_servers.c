/* drill_servers.c - the drill's throwaway servers: PostgreSQL (initdb, pg_ctl), MariaDB
 * (mariadb-install-db, mariadbd) and Redis (redis-server) from the host's packages, each in
 * the drill's scratch directory on a unix socket only, stopped by PID at the end, also when
 * the drill fails or is interrupted. */
#include "drill.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/core/buf.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"

extern char **environ;

#define PG_ROOT "/usr/lib/postgresql"
#define START_WAIT_MS 120000

/* the servers running now and the scratch directory, for the signal handler */
#define LIVE_MAX 16
static volatile pid_t live_pid[LIVE_MAX];
static volatile int live_sig[LIVE_MAX];
static char scratch_path[4096];
static volatile pid_t fg_pid;   /* the tool drill_spawn waits for (its own process group) */
/* while pg_ctl starts a server: its postmaster.pid. The postmaster is in a session of its own
 * and not yet in live_pid, so an interrupt then finds it by this file */
static char pg_starting[4096];

static void live_set(pid_t pid, int sig)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live_pid[i] == 0) {
            live_sig[i] = sig;
            live_pid[i] = pid;
            return;
        }
}

static void live_clear(pid_t pid)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live_pid[i] == pid)
            live_pid[i] = 0;
}

/* wait until @pid is gone (reaping it when it is our child), up to @ms; async-signal-safe */
static bool wait_gone(pid_t pid, int ms)
{
    struct timespec ts = { 0, 20 * 1000000L };
    for (int waited = 0; waited <= ms; waited += 20) {
        if (waitpid(pid, NULL, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH))
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

static void stop_pid(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    if (!wait_gone(pid, 30000)) {
        kill(pid, SIGKILL);
        wait_gone(pid, 5000);
    }
}

/* the PID on the first line of @path, 0 when none; async-signal-safe */
static pid_t pidfile_read(const char *path)
{
    char b[32];
    long v = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
    if (fd >= 0)
        close(fd);
    for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++)
        v = v * 10 + (b[i] - '0');
    return (pid_t)v;
}

static void on_signal(int sig)
{
    if (fg_pid > 0)
        kill(-fg_pid, SIGTERM);
    if (pg_starting[0]) {
        pid_t pm = pidfile_read(pg_starting);
        if (pm > 0) {
            kill(pm, SIGINT);
            if (!wait_gone(pm, 30000))
                kill(pm, SIGKILL);
        }
    }
    for (int i = 0; i < LIVE_MAX; i++)
        if (live_pid[i] > 0)
            kill(live_pid[i], live_sig[i]);
    for (int i = 0; i < LIVE_MAX; i++)
        if (live_pid[i] > 0 && !wait_gone(live_pid[i], 30000))
            kill(live_pid[i], SIGKILL);
    if (fg_pid > 0 && !wait_gone(fg_pid, 10000))
        kill(-fg_pid, SIGKILL);
    if (scratch_path[0]) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/rm", "rm", "-rf", "--", scratch_path, (char *)NULL);
            _exit(127);
        }
        if (p > 0)
            waitpid(p, NULL, 0);
    }
    _exit(128 + sig);
}

/* the last bytes of @path, on one line, for an error message */
static void log_tail(const char *path, struct buf *out)
{
    char b[1200];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof(b) - 1 ? end - (off_t)sizeof(b) + 1 : 0;
    ssize_t n = pread(fd, b, sizeof(b) - 1, from);
    close(fd);
    if (n <= 0)
        return;
    b[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (b[i] == '\n' || b[i] == '\r')
            b[i] = i == n - 1 ? '\0' : ' ';
    buf_printf(out, ": %s", b);
}

/* an interrupt of the drill reaches its children through the drill only: it stops them */
int drill_spawn(char *const argv[], const char *log, bool wait, pid_t *pid, struct cf_err *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int st, rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        errno = rc;
        return cf_err_sys(e, CF_E_SOURCE, "unable to run %s", argv[0]);
    }
    if (!wait)
        return 0;
    fg_pid = *pid;
    while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
        ;
    fg_pid = 0;
    *pid = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    struct buf t = BUF_INIT;
    log_tail(log, &t);
    cf_err_set(e, CF_E_SOURCE, "%s failed (%s %d)%s", argv[0],
               WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
               t.data ? t.data : "");
    buf_free(&t);
    return -1;
}

/* until a client can connect to the unix socket @path, or @pid (our child) has exited */
static int wait_socket(const char *path, pid_t pid, const char *log, struct cf_err *e)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct timespec ts = { 0, 50 * 1000000L };

    if (strlen(path) >= sizeof(a.sun_path))
        return cf_err_set(e, CF_E_SOURCE, "its socket path '%s' is longer than a unix socket "
                          "allows (%zu bytes); HINT: a shorter --scratch-dir", path,
                          sizeof(a.sun_path) - 1);
    memcpy(a.sun_path, path, strlen(path) + 1);
    for (int waited = 0; waited < START_WAIT_MS; waited += 50) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            close(fd);
            return 0;
        }
        if (fd >= 0)
            close(fd);
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
            struct buf t = BUF_INIT;
            log_tail(log, &t);
            cf_err_set(e, CF_E_SOURCE, "it exited while starting%s", t.data ? t.data : "");
            buf_free(&t);
            return -1;
        }
        nanosleep(&ts, NULL);
    }
    return cf_err_set(e, CF_E_SOURCE, "not accepting connections on %s after %d s", path,
                      START_WAIT_MS / 1000);
}

/* argv for running @argv as user postgres when we are root (initdb refuses root) */
static void as_postgres(char **out, char *const argv[])
{
    size_t i = 0, k = 0;
    if (geteuid() == 0) {
        out[i++] = "runuser";
        out[i++] = "-u";
        out[i++] = "postgres";
        out[i++] = "--";
    }
    while (argv[k])
        out[i++] = argv[k++];
    out[i] = NULL;
}

/* The restored copy of a physical source runs on the data directory restore left in
 * @s->dir/data with the cluster's own settings, through a postgresql.conf of the drill's that
 * includes the data directory's when there is one (Debian keeps it in /etc/postgresql;
 * postgresql.auto.conf, with the recovery settings and archive_mode off, is read from the
 * data directory in any case), except what a throwaway server must change: the drill's own
 * pg_hba.conf (trust on the socket) and an empty pg_ident.conf, no TLS (the certificates stay
 * with production), no archiving, connections during recovery. */
static char *pg_restored_opts(struct drill_server *s, const char *data, struct cf_err *e)
{
    char *hba = cf_asprintf("%s/drill_hba.conf", s->dir);
    char *ident = cf_asprintf("%s/drill_ident.conf", s->dir);
    char *conf = cf_asprintf("%s/drill_postgresql.conf", s->dir), *opts = NULL;
    const char trust[] = "local all all trust\nlocal replication all trust\n";
    struct buf inc = BUF_INIT;

    buf_puts(&inc, "# coffer drill: the cluster's own settings, when its data directory holds "
                   "them\ninclude_if_exists = '");
    for (const char *p = data; *p; p++)
        buf_puts(&inc, *p == '\'' ? "''" : (char[]){ *p, 0 });
    buf_puts(&inc, "/postgresql.conf'\n");
    if (fs_write_file_atomic(conf, inc.data, inc.len, 0644, e) != 0 ||
        fs_write_file_atomic(hba, trust, sizeof(trust) - 1, 0644, e) != 0 ||
        fs_write_file_atomic(ident, "", 0, 0644, e) != 0)
        goto out;
    /* data_directory too: a setting in the included file must never point elsewhere */
    opts = cf_asprintf(" -c config_file=%s -c data_directory=%s -c hba_file=%s -c ident_file=%s "
                       "-c ssl=off -c archive_mode=off -c hot_standby=on", conf, data, hba,
                       ident);
out:
    buf_free(&inc);
    free(conf);
    free(ident);
    free(hba);
    return opts;
}

static int pg_start(struct drill_server *s, const char *major, bool restored, struct cf_err *e)
{
    char *extra = NULL;
    char *initdb = NULL, *pg_ctl = NULL, *data = NULL, *log = NULL, *opts = NULL;
    char *pidfile = NULL;
    char *av[24];
    pid_t pid = 0;
    int rc = -1;

    if (major == NULL) {   /* the newest installed */
        glob_t g;
        if (glob(PG_ROOT "/[0-9]*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            const char *p = g.gl_pathv[g.gl_pathc - 1] + strlen(PG_ROOT "/");
            snprintf(s->major, sizeof(s->major), "%.*s", (int)strcspn(p, "/"), p);
        }
        globfree(&g);
    } else {
        snprintf(s->major, sizeof(s->major), "%s", major);
    }
    s->bindir = cf_asprintf(PG_ROOT "/%s/bin", s->major[0] ? s->major : "?");
    initdb = cf_asprintf("%s/initdb", s->bindir);
    pg_ctl = cf_asprintf("%s/pg_ctl", s->bindir);
    if (access(initdb, X_OK) != 0) {
        cf_err_set(e, CF_E_SOURCE, "no PostgreSQL %s on this host (%s is missing); HINT: install "
                   "postgresql-%s", s->major[0] ? s->major : "", initdb, s->major);
        goto out;
    }
    data = cf_asprintf("%s/data", s->dir);
    log = cf_asprintf("%s/server.log", s->dir);
    s->sock = cf_strdup(s->dir);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL || chown(s->dir, pw->pw_uid, pw->pw_gid) != 0) {
            cf_err_sys(e, CF_E_SOURCE, "unable to give '%s' to user postgres", s->dir);
            goto out;
        }
    }
    /* initdb's and pg_ctl's words in files of ours; the server's log is postgres's own */
    char *ilog = cf_asprintf("%s/initdb.log", s->dir), *clog = cf_asprintf("%s/pg_ctl.log", s->dir);
    char *init_argv[] = { initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
                          "-E", "UTF8", "--locale=C.UTF-8", NULL };
    as_postgres(av, init_argv);
    int irc = restored ? ((extra = pg_restored_opts(s, data, e)) ? 0 : -1)
                       : drill_spawn(av, ilog, true, &pid, e);
    free(ilog);
    if (irc != 0) {
        free(clog);
        goto out;
    }
    opts = cf_asprintf("-k %s -c listen_addresses='' -p 5432%s", s->sock, extra ? extra : "");
    char *ctl_argv[] = { pg_ctl, "-D", data, "-l", log, "-w", "-t", "120", "-o", opts, "start",
                         NULL };
    as_postgres(av, ctl_argv);
    pidfile = cf_asprintf("%s/postmaster.pid", data);
    snprintf(pg_starting, sizeof(pg_starting), "%s", pidfile);
    int crc = drill_spawn(av, clog, true, &pid, e);
    free(clog);
    if (crc != 0) {
        struct buf t = BUF_INIT;
        log_tail(log, &t);
        cf_err_ctx(e, "%s", t.data ? t.data + 2 : "pg_ctl start");
        buf_free(&t);
        goto out;
    }
    pid_t p = pidfile_read(pidfile);
    if (p <= 0)
        cf_err_set(e, CF_E_SOURCE, "no PID in %s", pidfile);
    free(pidfile);
    pidfile = NULL;
    if (p <= 0)
        goto out;
    s->pid = p;
    live_set(s->pid, SIGINT);   /* fast shutdown */
    rc = 0;
out:
    if (pidfile != NULL) {   /* pg_ctl failed: a postmaster it left is stopped too */
        pid_t left = pidfile_read(pidfile);
        if (left > 0)
            stop_pid(left, SIGINT);
        free(pidfile);
    }
    pg_starting[0] = '\0';
    free(extra);
    free(opts);
    free(log);
    free(data);
    free(pg_ctl);
    free(initdb);
    return rc;
}

/* run the server @argv in the background, then wait until its socket accepts */
static int launch(struct drill_server *s, char *const argv[], const char *log, struct cf_err *e)
{
    pid_t pid = 0;
    if (drill_spawn(argv, log, false, &pid, e) != 0)
        return -1;
    s->pid = pid;
    live_set(pid, SIGTERM);
    return wait_socket(s->sock, pid, log, e);
}

static int maria_start(struct drill_server *s, struct cf_err *e)
{
    char *data = cf_asprintf("%s/data", s->dir), *log = cf_asprintf("%s/server.log", s->dir);
    char *dd = cf_asprintf("--datadir=%s", data), *so = NULL, *pf = NULL, *le = NULL;
    /* as root the server must be told to stay root; otherwise it runs as whoever we are */
    char *user = geteuid() == 0 ? "--user=root" : "--skip-name-resolve";
    pid_t pid = 0;
    int rc = -1;

    s->sock = cf_asprintf("%s/mariadb.sock", s->dir);
    so = cf_asprintf("--socket=%s", s->sock);
    pf = cf_asprintf("--pid-file=%s/mariadb.pid", s->dir);
    le = cf_asprintf("--log-error=%s", log);
    char *inst[] = { "mariadb-install-db", "--no-defaults", user, dd,
                     "--auth-root-authentication-method=normal", "--skip-test-db", NULL };
    if (drill_spawn(inst, log, true, &pid, e) != 0)
        goto out;
    char *run[] = { "mariadbd", "--no-defaults", user, dd, so, pf, le, "--skip-networking",
                    "--innodb-flush-log-at-trx-commit=0", NULL };
    rc = launch(s, run, log, e);
out:
    free(le);
    free(pf);
    free(so);
    free(dd);
    free(log);
    free(data);
    return rc;
}

static int redis_start(struct drill_server *s, struct cf_err *e)
{
    char *conf = cf_asprintf("%s/redis.conf", s->dir), *log = cf_asprintf("%s/server.log", s->dir);
    struct buf text = BUF_INIT;
    int rc = -1;

    s->sock = cf_asprintf("%s/redis.sock", s->dir);
    /* Debian's stock file, then what a throwaway instance changes (the last one wins) */
    if (fs_read_file("/etc/redis/redis.conf", 1 << 20, &text, e) != 0)
        cf_err_clear(e);
    buf_printf(&text, "\n# coffer drill: a throwaway instance\nport 0\nunixsocket %s\n"
               "unixsocketperm 700\ndaemonize no\nsupervised no\npidfile %s/redis.pid\n"
               "logfile %s\ndir %s\nsave \"\"\nappendonly no\n", s->sock, s->dir, log, s->dir);
    if (fs_write_file_atomic(conf, text.data, text.len, 0600, e) != 0)
        goto out;
    char *run[] = { "redis-server", conf, NULL };
    rc = launch(s, run, log, e);
out:
    buf_free(&text);
    free(log);
    free(conf);
    return rc;
}

void drill_log_tail(const char *path, struct buf *out)
{
    log_tail(path, out);
}

static int server_start(struct drill_server *s, const char *kind, const char *major,
                        const char *base, const char *label, bool restored, struct cf_err *e)
{
    uint64_t t0 = time_mono_ms();
    int rc;

    memset(s, 0, sizeof(*s));
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    s->dir = cf_asprintf("%s/%s", base, label);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST)
        return cf_err_sys(e, CF_E_SOURCE, "unable to create '%s'", s->dir);
    if (strcmp(kind, "postgres") == 0)
        rc = pg_start(s, major, restored, e);
    else if (strcmp(kind, "mariadb") == 0)
        rc = maria_start(s, e);
    else
        rc = redis_start(s, e);
    s->start_ms = time_mono_ms() - t0;
    if (rc != 0) {
        cf_err_ctx(e, "scratch %s server%s%s did not start", kind, s->major[0] ? " " : "",
                   s->major);
        drill_server_stop(s);
        return -1;
    }
    log_info("drill scratch server kind=%s major=%s pid=%ld dir=%s ms=%" PRIu64, kind, s->major,
             (long)s->pid, s->dir, s->start_ms);
    return 0;
}

int drill_server_start(struct drill_server *s, const char *kind, const char *major,
                       const char *base, const char *label, struct cf_err *e)
{
    return server_start(s, kind, major, base, label, false, e);
}

int drill_server_start_restored(struct drill_server *s, const char *major, const char *base,
                                const char *label, struct cf_err *e)
{
    return server_start(s, "postgres", major, base, label, true, e);
}

void drill_server_stop(struct drill_server *s)
{
    if (s == NULL)
        return;
    if (s->pid > 0) {
        stop_pid(s->pid, strcmp(s->kind, "postgres") == 0 ? SIGINT : SIGTERM);
        live_clear(s->pid);
        log_info("drill scratch server stopped kind=%s pid=%ld", s->kind, (long)s->pid);
        s->pid = 0;
    }
    free(s->dir);
    free(s->sock);
    free(s->bindir);
    s->dir = s->sock = s->bindir = NULL;
}

int drill_scratch_begin(const char *base, char **dir, struct cf_err *e)
{
    struct sigaction sa;
    char *d = cf_asprintf("%s/coffer-drill-XXXXXX", base);

    if (mkdtemp(d) == NULL) {
        cf_err_sys(e, CF_E_SOURCE, "unable to create the scratch directory under '%s'", base);
        free(d);
        return -1;
    }
    /* the postgres user must reach its directory inside */
    if (chmod(d, 0755) != 0) {
        cf_err_sys(e, CF_E_SOURCE, "unable to open '%s' to the servers' users", d);
        rmdir(d);
        free(d);
        return -1;
    }
    snprintf(scratch_path, sizeof(scratch_path), "%s", d);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    *dir = d;
    return 0;
}

void drill_scratch_end(char *dir)
{
    if (dir == NULL)
        return;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    struct cf_err e = CF_ERR_INIT;
    if (fs_remove_tree(dir, &e) != 0)
        log_warn("drill scratch directory %s not removed: %s", dir, e.msg);
    scratch_path[0] = '\0';
    free(dir);
}
