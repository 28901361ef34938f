/* test_mig_run.c - migrate_run() up to the point where it would connect: arguments,
 * configuration, the migrations directory, and `new`. No server is needed: every case here
 * must fail (or finish) before a connection is attempted; the configuration names a port
 * where nothing listens, so a connection attempt would show as exit 1 instead of 2. */
#include "unit.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../migrate/mig.h"
#include "core/util.h"

static char dir[64];

static char *path(const char *name)
{
    return cf_asprintf("%s/%s", dir, name);
}

static void put(const char *name, const char *text)
{
    char *p = path(name);
    FILE *f = fopen(p, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
    free(p);
}

static struct mig_opts opts(const char *command)
{
    static char *conf;
    struct mig_opts o;
    memset(&o, 0, sizeof(o));
    free(conf);
    conf = path("coffer.conf");
    o.config = conf;
    o.source = "app";
    o.command = command;
    o.lock_timeout_ms = 1000;
    return o;
}

static void conf(const char *source_body)
{
    char *text = cf_asprintf("[repository]\ntarget = local\npath = %s/repo\nkey-file = %s/k\n\n"
                             "[source app]\n%s", dir, dir, source_body);
    put("coffer.conf", text);
    free(text);
}

static size_t count_files(const char *sub)
{
    char *p = path(sub);
    DIR *d = opendir(p);
    struct dirent *de;
    size_t n = 0;
    free(p);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

TEST(usage)
{
    struct mig_opts o = opts("frobnicate");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);
    o = opts("status");
    o.source = NULL;
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);
    o = opts("new");
    o.source = NULL;
    o.arg = "x";
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* no --dir */
}

TEST(config_errors)
{
    struct mig_opts o = opts("status");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* no file */
    conf("type = volume\npath = /tmp\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* not a database */
    o.source = "other";
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* no such section */
    o = opts("status");
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = a, b\nmigrations = m\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* several databases */
    o.database = "c";
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* not one of them */
    conf("type = postgres\nhost = /nonexistent\nport = 1\nmigrations = m\n");
    o = opts("status");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* all databases, none chosen */
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = all\nmigrations = m\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);
    o.database = "any";
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* chosen: now the missing directory */
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = a\n");
    o = opts("status");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* no migrations directory */
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = a'b\nmigrations = m\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* unsafe database name */
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = a\nmigratons = m\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* misspelt key */
}

TEST(directory_checked_before_connecting)
{
    struct mig_opts o = opts("up");
    char *m = path("m");
    conf("type = postgres\nhost = /nonexistent\nport = 1\ndatabases = a\nmigrations = m\n");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* directory missing */
    mkdir(m, 0755);
    put("m/1_a.up.sql", "select 1;");
    put("m/01_b.up.sql", "select 1;");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* duplicate */
    char *dup = path("m/01_b.up.sql");
    unlink(dup);
    free(dup);
    put("m/2_b.up.sql", "select 'x;");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* unterminated */
    put("m/2_b.up.sql", "begin; select 1; commit;");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);   /* transaction control */
    put("m/2_b.up.sql", "-- coffer:no-transaction\nbegin; select 1; commit;");
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_FAILED);  /* fine: now it tries to connect */
    o.dir = m;   /* --dir wins over the configuration */
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_FAILED);
    free(m);
}

TEST(new_pairs)
{
    struct mig_opts o = opts("new");
    char *n = path("new");
    o.source = NULL;
    o.dir = n;
    o.arg = "bad name";
    CHECK_EQ_INT(migrate_run(&o), MIG_EXIT_USAGE);
    o.arg = "first";
    o.dry_run = true;
    CHECK_EQ_INT(migrate_run(&o), 0);
    CHECK_EQ_INT(count_files("new"), 0);
    o.dry_run = false;
    CHECK_EQ_INT(migrate_run(&o), 0);
    CHECK_EQ_INT(count_files("new"), 2);
    o.arg = "second";
    CHECK_EQ_INT(migrate_run(&o), 0);
    CHECK_EQ_INT(count_files("new"), 4);
    /* the new files scan cleanly, versions in order */
    struct mig_set s;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(mig_scan(n, &s, &e), 0);
    CHECK_EQ_INT(s.n, 2);
    if (s.n == 2) {
        CHECK_STR(s.f[0].name, "first");
        CHECK_STR(s.f[1].name, "second");
        CHECK(s.f[0].down_sql != NULL);
    }
    mig_set_free(&s);
    free(n);
}

int main(void)
{
    struct cf_err e = CF_ERR_INIT;
    strcpy(dir, "/tmp/coffer-migrun.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(usage);
    RUN(config_errors);
    RUN(directory_checked_before_connecting);
    RUN(new_pairs);
    fs_remove_tree(dir, &e);
    return unit_done();
}
