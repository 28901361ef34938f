/* notify.c - notification by command and by webhook (see notify.h). */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../core/version.h"

#define NOTIFY_TIMEOUT_DEFAULT 10
#define NOTIFY_RETRIES_DEFAULT 2

const char *const notify_keys[] = { "notify-command", "notify-url", "notify-timeout",
                                    "notify-retries", NULL };

int notify_check(const struct ini_section *s, struct cf_err *e)
{
    const char *cmd, *url;
    int64_t t;
    long r;

    if (ini_get_str(s, "notify-command", NULL, &cmd, e) != 0 ||
        ini_get_str(s, "notify-url", NULL, &url, e) != 0 ||
        ini_get_duration(s, "notify-timeout", NOTIFY_TIMEOUT_DEFAULT, &t, e) != 0 ||
        ini_get_int(s, "notify-retries", NOTIFY_RETRIES_DEFAULT, 0, 10, &r, e) != 0)
        return -1;
    if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return ini_err(s, "notify-url", e, "notify-url: not an http:// or https:// URL");
    if (t < 1 || t > 300)
        return ini_err(s, "notify-timeout", e, "notify-timeout: between 1s and 5min");
    if (cmd != NULL && cmd[0] == '\0')
        return ini_err(s, "notify-command", e, "notify-command: empty");
    return 0;
}

/* @key from the job's section, else from [notify] */
static const struct ini_section *owner(const struct conf *c, const struct conf_job *j,
                                       const char *key)
{
    if (j != NULL && ini_kv_find(j->sec, key) != NULL)
        return j->sec;
    return c->notify;
}

int notify_config(const struct conf *c, const struct conf_job *j, struct notify_cfg *out,
                  struct cf_err *e)
{
    const struct ini_section *s;

    memset(out, 0, sizeof(*out));
    out->timeout = NOTIFY_TIMEOUT_DEFAULT;
    out->retries = NOTIFY_RETRIES_DEFAULT;
    if ((s = owner(c, j, "notify-command")) != NULL &&
        ini_get_str(s, "notify-command", NULL, &out->command, e) != 0)
        return -1;
    if ((s = owner(c, j, "notify-url")) != NULL &&
        ini_get_str(s, "notify-url", NULL, &out->url, e) != 0)
        return -1;
    if ((s = owner(c, j, "notify-timeout")) != NULL &&
        ini_get_duration(s, "notify-timeout", NOTIFY_TIMEOUT_DEFAULT, &out->timeout, e) != 0)
        return -1;
    if ((s = owner(c, j, "notify-retries")) != NULL &&
        ini_get_int(s, "notify-retries", NOTIFY_RETRIES_DEFAULT, 0, 10, &out->retries, e) != 0)
        return -1;
    return 0;
}

/* ---- the command ---- */

/* The command's whole environment: the event and a few harmless variables of ours. Nothing
 * else is passed on: backupd's environment may hold secrets (PGPASSWORD, S3 keys). */
struct env {
    char *v[24];
    size_t n;
};

static void env_add(struct env *env, const char *name, const char *value)
{
    if (value != NULL && env->n < sizeof(env->v) / sizeof(*env->v) - 1)
        env->v[env->n++] = cf_asprintf("%s=%s", name, value);
}

static void env_num(struct env *env, const char *name, double v)
{
    char s[48];
    snprintf(s, sizeof(s), v == (double)(int64_t)v ? "%.0f" : "%.3f", v);
    env_add(env, name, s);
}

static void env_build(const struct notify_event *ev, struct env *env)
{
    static const char *const keep[] = { "PATH", "HOME", "LANG", "LC_ALL", "TZ", NULL };
    char host[256] = "", t[32];

    for (size_t i = 0; keep[i]; i++)
        env_add(env, keep[i], getenv(keep[i]));
    if (getenv("PATH") == NULL)
        env_add(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
    gethostname(host, sizeof(host) - 1);
    time_format_rfc3339(ev->time, t, sizeof(t));
    env_add(env, "COFFER_EVENT", ev->event);
    env_add(env, "COFFER_JOB", ev->job);
    env_add(env, "COFFER_SOURCE", ev->source);
    env_add(env, "COFFER_HOST", host);
    env_add(env, "COFFER_TIME", t);
    env_add(env, "COFFER_MESSAGE", ev->message);
    env_add(env, "COFFER_ERROR", ev->error);
    env_add(env, "COFFER_BACKUP_ID", ev->backup_id);
    if (ev->duration > 0)
        env_num(env, "COFFER_DURATION_SECONDS", ev->duration);
    if (ev->rpo > 0)
        env_num(env, "COFFER_RPO_SECONDS", (double)ev->rpo);
    if (ev->age >= 0)
        env_num(env, "COFFER_AGE_SECONDS", (double)ev->age);
    env->v[env->n] = NULL;
}

static void run_command(const struct notify_cfg *cfg, const struct notify_event *ev)
{
    struct env env = { .n = 0 };
    uint64_t deadline = time_mono_ms() + (uint64_t)cfg->timeout * 1000;
    int status = 0;
    pid_t pid, w;

    env_build(ev, &env);
    pid = fork();
    if (pid == 0) {
        /* its own process group, so that a timeout kills whatever it started too; its output
         * goes to our stderr (the log), never into our stdout */
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(2, 1);
        execle("/bin/sh", "sh", "-c", cfg->command, (char *)NULL, env.v);
        _exit(127);
    }
    for (size_t i = 0; i < env.n; i++)
        free(env.v[i]);
    if (pid < 0) {
        log_warn("notification %s of source %s not sent: unable to start notify-command: %s",
                 ev->event, ev->source, strerror(errno));
        return;
    }
    setpgid(pid, pid);
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time_mono_ms() < deadline)
        usleep(20000);
    if (w == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        log_warn("notification %s of source %s: notify-command killed after %" PRId64 " s; "
                 "HINT: make it finish sooner, or raise notify-timeout",
                 ev->event, ev->source, cfg->timeout);
    } else if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_warn("notification %s of source %s: notify-command failed (%s %d)", ev->event,
                 ev->source, w >= 0 && WIFSIGNALED(status) ? "signal" : "exit status",
                 w < 0 ? -1 : WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else {
        log_info("notification sent event=%s source=%s via=command", ev->event, ev->source);
    }
}

/* ---- the webhook ---- */

/* the URL as logs may show it: scheme and host only (a webhook's path often is its secret) */
static void url_safe(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    size_t n = h ? (size_t)(h + 3 - url) + strcspn(h + 3, "/?#") : 0;
    const char *at = h ? memchr(h + 3, '@', n - (size_t)(h + 3 - url)) : NULL;
    if (at != NULL)   /* user:password@host: drop the credentials */
        snprintf(out, cap, "%.*s%.*s", (int)(h + 3 - url), url, (int)(url + n - at - 1), at + 1);
    else
        snprintf(out, cap, "%.*s", (int)n, url);
}

static char *event_json(const struct notify_event *ev)
{
    char host[256] = "", t[32];
    json_t *o;
    char *s;

    gethostname(host, sizeof(host) - 1);
    time_format_rfc3339(ev->time, t, sizeof(t));
    o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "event", ev->event,
                  "source", ev->source, "job", ev->job, "host", host, "time", t, "message",
                  ev->message, "error", ev->error, "backup_id", ev->backup_id, "version",
                  COFFER_VERSION);
    if (ev->duration > 0)
        json_object_set_new(o, "duration_seconds", json_real(ev->duration));
    if (ev->rpo > 0)
        json_object_set_new(o, "rpo_seconds", json_integer(ev->rpo));
    if (ev->age >= 0)
        json_object_set_new(o, "age_seconds", json_integer(ev->age));
    s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static void post_webhook(const struct notify_cfg *cfg, const struct notify_event *ev)
{
    char safe[256], why[CURL_ERROR_SIZE + 64] = "", cerr[CURL_ERROR_SIZE];
    char *body = event_json(ev);
    struct curl_slist *h = NULL;
    CURL *cu;
    long code = 0;

    url_safe(cfg->url, safe, sizeof(safe));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (body == NULL || (cu = curl_easy_init()) == NULL) {
        log_warn("notification %s of source %s not sent to %s: out of memory", ev->event,
                 ev->source, safe);
        free(body);
        return;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(cu, CURLOPT_URL, cfg->url);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)cfg->timeout * 1000);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, cerr);
    for (long try = 0; try <= cfg->retries; try++) {
        if (try > 0)
            sleep((unsigned)(try < 3 ? try : 3));   /* 1 s, 2 s, then 3 s between tries */
        cerr[0] = '\0';
        CURLcode rc = curl_easy_perform(cu);
        code = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        if (rc == CURLE_OK && code >= 200 && code < 300) {
            log_info("notification sent event=%s source=%s via=%s status=%ld", ev->event,
                     ev->source, safe, code);
            goto out;
        }
        if (rc != CURLE_OK)
            snprintf(why, sizeof(why), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        else
            snprintf(why, sizeof(why), "HTTP status %ld", code);
        /* a refusal that another try would not change */
        if (rc == CURLE_OK && code >= 400 && code < 500 && code != 408 && code != 429)
            break;
    }
    log_warn("notification %s of source %s not delivered to %s: %s; HINT: check notify-url "
             "and that the receiver is up (the backup itself is not affected)",
             ev->event, ev->source, safe, why);
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(cu);
    free(body);
}

void notify_send(const struct notify_cfg *cfg, const struct notify_event *ev)
{
    if (cfg->command != NULL)
        run_command(cfg, ev);
    if (cfg->url != NULL)
        post_webhook(cfg, ev);
}
