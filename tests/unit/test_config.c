/* test_config.c - the INI dialect and coffer.conf validation (lib/validate): every error
 * names file and line. */
#include "unit.h"
#include "config/conf.h"
#include "config/ini.h"
#include "validate/validate.h"
#include "stream/stream_opts.h"
#include "metrics/metrics_http.h"
#include "core/util.h"

#include <fcntl.h>
#include <unistd.h>

static char dir[64];

static const char *write_conf(const char *text)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/c.conf", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* load must fail with @needle in the message */
static void bad(const char *text, const char *needle)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    if (validate_load(write_conf(text), &c, &e) == 0) {
        printf("#   accepted: %s\n", text);
        CHECK(0);
        conf_free(c);
        return;
    }
    CHECK(e.code == CF_E_CONFIG || e.code == CF_E_NOTFOUND);
    CHECK_MSG(e, needle);
}

#define REPO "[repository]\npath = /srv/b\nkey-file = /k\n"

TEST(ini_basics)
{
    struct ini *ini = NULL;
    struct cf_err e = CF_ERR_INIT;
    const char *v;
    const char *all[4];
    CHECK(ini_parse_string("; c\n# c\n[source a]\nk = v ; trailing\nx = a;b\nex = 1\nex = 2\n",
                           "f", &ini, &e) == 0);
    const struct ini_section *s = ini_find(ini, "source", "a");
    CHECK(s != NULL);
    CHECK(ini_get_str(s, "k", NULL, &v, &e) == 0);
    CHECK_STR(v, "v");
    CHECK(ini_get_str(s, "x", NULL, &v, &e) == 0);
    CHECK_STR(v, "a;b");
    CHECK_EQ_INT(ini_get_all(s, "ex", all, 4), 2);
    CHECK_STR(all[1], "2");
    CHECK(ini_get_str(s, "ex", NULL, &v, &e) != 0);
    CHECK_MSG(e, "f:7:");
    CHECK_MSG(e, "given twice");
    ini_free(ini);
}

TEST(ini_syntax_errors)
{
    struct ini *ini = NULL;
    struct cf_err e = CF_ERR_INIT;
    CHECK(ini_parse_string("[repository\n", "f", &ini, &e) != 0);
    CHECK_MSG(e, "f:1: section header without ']'");
    CHECK(ini_parse_string("[a]\njunk\n", "f", &ini, &e) != 0);
    CHECK_MSG(e, "f:2: expected 'key = value'");
    CHECK(ini_parse_string("k = v\n", "f", &ini, &e) != 0);
    CHECK_MSG(e, "before any [section]");
    CHECK(ini_parse_string("[a]\n[a]\n", "f", &ini, &e) != 0);
    CHECK_MSG(e, "f:2: section [a] already defined at line 1");
    CHECK(ini_parse_string("[source bad name!]\n", "f", &ini, &e) != 0);
    CHECK_MSG(e, "bad section header");
}

TEST(conf_good)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    const char *p = write_conf(REPO "object-size = 16MiB\n\n[source media]\ntype = volume\n"
                               "path = /srv/media\nexclude = *.tmp\nexclude = cache/\n"
                               "keep-daily = 7\nrpo = 26h\n\n[job nightly]\nsources = media\n"
                               "keep-last = 3\n");
    CHECK(validate_load(p, &c, &e) == 0);
    if (c) {
        CHECK_EQ_INT(c->nsources, 1);
        CHECK_EQ_INT(c->njobs, 1);
        CHECK(conf_job(c, "nightly") != NULL);
        CHECK_STR(conf_job(c, "nightly")->sources[0], "media");
    }
    conf_free(c);
}

/* [mirror NAME] sections, and --repository NAME choosing one's target in place of
 * [repository]'s (the key section stays [repository]) */
TEST(conf_mirrors)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    const char *p = write_conf(REPO "\n[mirror far]\npath = /mnt/far\nkeep-monthly = 24\n"
                               "max-lag = 2d\n\n[mirror cloud]\ntarget = local\npath = /mnt/cloud\n");
    CHECK(validate_load(p, &c, &e) == 0);
    if (c == NULL)
        return;
    CHECK_EQ_INT(c->nmirrors, 2);
    CHECK(c->target == c->repository && c->target_name == NULL);
    CHECK(conf_use_repository(c, NULL, &e) == 0 && c->target == c->repository);
    CHECK(conf_use_repository(c, "", &e) == 0 && c->target == c->repository);
    CHECK(conf_use_repository(c, "nowhere", &e) == -1 && e.code == CF_E_USAGE);
    CHECK_MSG(e, "--repository nowhere: no [mirror nowhere] in");
    CHECK(c->target == c->repository);
    CHECK(conf_use_repository(c, "cloud", &e) == 0);
    CHECK(c->target == conf_mirror(c, "cloud") && c->target != NULL);
    CHECK_STR(c->target_name, "cloud");
    conf_free(c);
}

/* the daemon's keys: schedule, jitter and timezone in a job, [daemon], [metrics] listen */
TEST(conf_daemon_keys)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct daemon_opts o;
    const char *listen;
    const char *p = write_conf(REPO "[source media]\ntype = volume\npath = /srv/media\n"
                               "[job nightly]\nsources = media\nschedule = 30 2 * * mon-fri\n"
                               "timezone = Europe/Berlin\njitter = 10m\n"
                               "[daemon]\nmax-jobs = 3\nstop-grace = 90s\nruntime-dir = /run/x\n"
                               "[metrics]\nlisten = [::1]:9999\n");
    CHECK(validate_load(p, &c, &e) == 0);
    if (c) {
        CHECK(daemon_opts_read(c, &o, &e) == 0);
        CHECK_EQ_INT(o.max_jobs, 3);
        CHECK_EQ_INT(o.stop_grace, 90);
        CHECK_STR(o.runtime_dir, "/run/x");
        CHECK(metrics_listen_get(c->metrics, &listen, &e) == 0);
        CHECK_STR(listen, "[::1]:9999");
    }
    conf_free(c);
    c = NULL;
    p = write_conf(REPO "[metrics]\nlisten = no\n");
    CHECK(validate_load(p, &c, &e) == 0);
    if (c) {
        CHECK(daemon_opts_read(c, &o, &e) == 0);
        CHECK_EQ_INT(o.max_jobs, 1);
        CHECK_EQ_INT(o.stop_grace, 300);
        CHECK_STR(o.runtime_dir, "/run/coffer");
        CHECK(metrics_listen_get(c->metrics, &listen, &e) == 0 && listen == NULL);
        CHECK(metrics_listen_get(NULL, &listen, &e) == 0);
        CHECK_STR(listen, "127.0.0.1:9771");
    }
    conf_free(c);
}

TEST(conf_errors_name_the_line)
{
    bad("[source m]\ntype = volume\npath = /x\n", "no [repository] section");
    bad(REPO "pth = /x\n", "c.conf:4: [repository] unknown key 'pth'");
    bad(REPO "[source m]\ntype = volume\npath = /x\nexclud = a\n",
        "c.conf:7: [source m] unknown key 'exclud'");
    bad(REPO "[source m]\ntype = tape\n", "c.conf:5: [source m] type: unknown kind 'tape'");
    bad(REPO "[source m]\ntype = volume\n", "[source m] missing required key 'path'");
    bad(REPO "[source m]\ntype = volume\npath = relative/dir\n", "must be an absolute path");
    bad(REPO "object-size = huge\n", "c.conf:4: [repository] object-size: 'huge' is not a size");
    bad(REPO "compression-level = 99\n", "compression-level: '99' is not a whole number from 1 to 19");
    bad(REPO "[job j]\nsources = nope\n", "c.conf:5: [job j] sources: no [source nope]");
    bad(REPO "[job j]\nkeep-last = 2\n", "[job j] missing required key 'sources'");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[job j]\nsources = m\nschedule = daily\n",
        "c.conf:9: [job j] schedule 'daily': 1 fields, expected 5");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[job j]\nsources = m\nschedule = @reboot\n",
        "unknown shorthand");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[job j]\nsources = m\njitter = soon\n",
        "jitter: 'soon' is not a duration");
    bad(REPO "[source m]\ntype = volume\npath = /x\nschedule = @daily\n",
        "[source m] unknown key 'schedule'");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[job j]\nsources = m\nverify = yes\n",
        "verify: 'yes' is not quick, full or no");
    bad(REPO "[daemon]\nmax-jobs = 0\n", "c.conf:5: [daemon] max-jobs");
    bad(REPO "[daemon]\nstop-grace = later\n", "stop-grace: 'later' is not a duration");
    bad(REPO "[daemon]\nruntime-dir = run\n", "runtime-dir: 'run' is not an absolute path");
    bad(REPO "[daemon]\nlisten = 1\n", "[daemon] unknown key 'listen'");
    bad(REPO "[metrics]\nlisten = 9771\n", "c.conf:5: [metrics] listen: '9771' has no port");
    bad(REPO "[metrics]\nlisten = example.com:9771\n", "is not an IP address");
    bad(REPO "[metrics]\nlisten = 127.0.0.1:70000\n", "port must be 1-65535");
    bad(REPO "[metrics]\nlisten = [::1:9771\n", "is not an IP address");
    bad(REPO "[metric]\n", "unknown section [metric] (expected [repository], [source NAME], "
                           "[job NAME], [mirror NAME], [catalog], [metrics], [notify], [daemon] or "
                           "[restore-profile NAME])");
    /* a mirror: its target's keys, max-lag and retention; the key is [repository]'s */
    bad(REPO "[mirror m]\npath = /m\nkey-file = /k\n", "c.conf:6: [mirror m] unknown key 'key-file'");
    bad(REPO "[mirror m]\ntarget = ftp\n", "[mirror m] target: unknown kind 'ftp'");
    bad(REPO "[mirror m]\npath = /m\nmax-lag = 0\n", "max-lag: must be more than 0");
    bad(REPO "[mirror m]\npath = /m\nkeep-last = x\n", "[mirror m] keep-last");
    bad(REPO "[mirror m]\npath = /m\nrpo = 1h\n", "unknown key 'rpo'");
    bad(REPO "[metrics]\nlisten-port = 9\n", "unknown key 'listen-port'");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[restore-profile p]\nm.into = x\n",
        "c.conf:8: [restore-profile p] 'm.into' is not SOURCE.KEY with KEY one of to, to-file");
    bad(REPO "[restore-profile p]\nweb.to = /x\n", "web.to: no [source web] in this file");
    bad(REPO "[restore-profile p]\nto = /x\n", "'to' is not SOURCE.KEY");
    bad(REPO "[source m]\ntype = volume\npath = /x\ncheck-sql = SELECT 1\ncheck-expect = 1\n",
        "check-sql: only a postgres or mariadb source runs SQL, not a volume source");
    bad(REPO "[source m]\ntype = volume\npath = /x\ncheck-expect = 1\n",
        "check-sql and check-expect go together");
    bad(REPO "[source m]\ntype = volume\npath = /x\nrto = soon\n", "rto");
    bad(REPO "[source m]\ntype = volume\npath = /x\n[job j]\nsources = m\ndrill-every = x\n",
        "drill-every");
    bad(REPO "[source m]\ntype = volume\npath = /x\ndrill-every = 90d\n",
        "unknown key 'drill-every'");
    bad(REPO "[metrics]\ntextfile-dir = rel\n", "c.conf:5: [metrics] textfile-dir: 'rel' is not "
                                                  "an absolute path");
    bad(REPO "[notify]\nnotify-url = mailto:x\n", "c.conf:5: [notify] notify-url: not an http");
    bad(REPO "[notify]\nnotify-timeout = 0s\n", "notify-timeout: between 1s and 5min");
    bad(REPO "[source m]\ntype = volume\npath = /x\nnotify-url = http://x/\n",
        "unknown key 'notify-url'");
    bad(REPO "[source m]\ntype = volume\npath = /x\ncompression-level = 40\n",
        "c.conf:7: [source m] compression-level: '40' is not a whole number from 1 to 19");
    bad(REPO "[source m]\ntype = volume\npath = /x\nkeep-daily = lots\n",
        "keep-daily: 'lots' is not a whole number");
    bad(REPO "[source m]\ntype = volume\npath = /x\nrpo = soon\n", "rpo: 'soon' is not a duration");
    bad(REPO "[source m]\ntype = volume\npath = /x\nkeep-pitr = a week\n",
        "keep-pitr: 'a week' is not a duration");
    bad("[repository]\npath = /x\n", "give exactly one of key-file, passphrase-file or public-key-file");
    bad("[repository]\npath = /x\nkey-file = /k\npassphrase-file = /p\n", "give exactly one");
    bad("[repository]\ntarget = tape\nkey-file = /k\n", "target: unknown kind 'tape'");
    bad("[repository]\nkey-file = /k\n", "missing required key 'path'");
    bad(REPO "[weird]\n", "c.conf:4: unknown section [weird]");
    bad(REPO "[source m]\ntype = volume\npath =\n", "path: empty value");
}

/* the level of a backup: the source's compression-level, else [repository]'s, else its
 * kind's (mariadb: 1), else 3 */
static long level_of(const char *text)
{
    struct ini *ini = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct stream_opts so = { .level = 0 };
    CHECK(ini_parse_string(text, "l.conf", &ini, &e) == 0);
    CHECK(stream_opts_resolve(ini_find(ini, "repository", NULL), ini_find(ini, "source", "s"),
                              &so, &e) == 0);
    ini_free(ini);
    return so.level;
}

TEST(stream_level_by_kind)
{
    CHECK_EQ_INT(stream_kind_level("mariadb"), 1);
    CHECK_EQ_INT(stream_kind_level("postgres"), 3);
    CHECK_EQ_INT(stream_kind_level(NULL), 3);
    CHECK_EQ_INT(level_of("[repository]\n[source s]\ntype = mariadb\n"), 1);
    CHECK_EQ_INT(level_of("[repository]\n[source s]\ntype = postgres\n"), 3);
    CHECK_EQ_INT(level_of("[repository]\n[source s]\ntype = volume\n"), 3);
    CHECK_EQ_INT(level_of("[repository]\n[source s]\ntype = redis\n"), 3);
    /* a level set anywhere wins over the kind's */
    CHECK_EQ_INT(level_of("[repository]\ncompression-level = 3\n[source s]\ntype = mariadb\n"), 3);
    CHECK_EQ_INT(level_of("[repository]\ncompression-level = 6\n[source s]\ntype = volume\n"), 6);
    CHECK_EQ_INT(level_of("[repository]\n[source s]\ntype = mariadb\ncompression-level = 2\n"), 2);
    CHECK_EQ_INT(level_of("[repository]\ncompression-level = 9\n[source s]\ntype = mariadb\n"
                          "compression-level = 4\n"), 4);
    CHECK_EQ_INT(level_of("[repository]\n"), 3);
}

/* lib/config alone only reads and sorts: the keys and values are the validation step's */
TEST(conf_read_only_parses)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    const char *p = write_conf(REPO "pth = /x\n[source m]\ntype = tape\ncompression-level = 99\n"
                               "[job j]\nsources = m\nschedule = daily\n");
    CHECK(conf_read(p, NULL, NULL, NULL, &c, &e) == 0);
    if (c) {
        CHECK_EQ_INT(c->nsources, 1);
        CHECK_STR(conf_job(c, "j")->sources[0], "m");
    }
    conf_free(c);
    c = NULL;
    CHECK(validate_load(p, &c, &e) != 0);
    CHECK_MSG(e, "[source m] type: unknown kind 'tape'");
    CHECK(conf_read(write_conf(REPO "[job j]\nsources = nope\n"), NULL, NULL, NULL, &c, &e) != 0);
    CHECK_MSG(e, "sources: no [source nope]");
}

TEST(conf_missing_file)
{
    struct conf *c = NULL;
    struct cf_err e = CF_ERR_INIT;
    CHECK(validate_load("/nonexistent/coffer.conf", &c, &e) != 0);
    CHECK_MSG(e, "unable to read configuration");
    CHECK_MSG(e, "/nonexistent/coffer.conf");
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/coffer-conf.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(ini_basics);
    RUN(ini_syntax_errors);
    RUN(conf_good);
    RUN(conf_mirrors);
    RUN(conf_daemon_keys);
    RUN(conf_errors_name_the_line);
    RUN(conf_read_only_parses);
    RUN(conf_missing_file);
    RUN(stream_level_by_kind);
    struct cf_err e = CF_ERR_INIT;
    fs_remove_tree(dir, &e);
    return unit_done();
}
