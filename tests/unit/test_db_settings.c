/* test_db_settings.c - lib/db without a server: database names, the settings of a [source]
 * section, the 0600 option file, and which dump tool can read which server. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db_maria.h"
#include "db/db_pg.h"
#include "db/db_settings.h"
#include "db/db_version.h"
#include "unit.h"

TEST(database_names)
{
    CHECK(db_name_is_safe("app"));
    CHECK(db_name_is_safe("my db-2"));
    CHECK(!db_name_is_safe(""));
    CHECK(!db_name_is_safe("a'b"));
    CHECK(!db_name_is_safe("a`b"));
    CHECK(!db_name_is_safe("a\nb"));
}

TEST(secret_file_private)
{
    struct cf_err e = CF_ERR_INIT;
    char *path = NULL;
    CHECK_EQ_INT(db_secret_file_write("[client]\npassword=x\n", &path, &e), 0);
    struct stat st;
    CHECK(path && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *copy = path ? strdup(path) : NULL;
    db_secret_file_remove(path);
    CHECK(copy && access(copy, F_OK) != 0);
    free(copy);
}

static struct ini *parse(const char *text)
{
    struct ini *ini = NULL;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(ini_parse_string(text, "t.conf", &ini, &e), 0);
    return ini;
}

TEST(settings_defaults)
{
    struct cf_err e = CF_ERR_INIT;
    struct ini *ini = parse("[source a]\ntype = mariadb\ndatabases = x, y\n");
    struct db_settings *s = NULL;

    unsetenv("MYSQL_PWD");
    CHECK_EQ_INT(db_maria_settings_load(&ini->sec[0], &s, &e), 0);
    if (s) {
        CHECK_STR(s->socket, "/run/mysqld/mysqld.sock");
        CHECK_STR(s->user, "root");
        CHECK_EQ_INT(s->port, 3306);
        CHECK(s->password == NULL);
        CHECK_EQ_INT(s->ndbs, 2);
        db_settings_only(s, "y");
        CHECK_EQ_INT(s->ndbs, 1);
        CHECK_STR(s->dbs[0], "y");
        CHECK(!s->all);
    }
    db_settings_free(s);
    s = NULL;
    setenv("PGPASSWORD", "pw", 1);
    CHECK_EQ_INT(db_pg_settings_load(&ini->sec[0], &s, &e), 0);
    if (s) {
        CHECK(s->socket == NULL && s->host == NULL && s->user == NULL);
        CHECK_EQ_INT(s->port, 5432);
        CHECK_STR(s->password, "pw");
    }
    unsetenv("PGPASSWORD");
    db_settings_free(s);
    ini_free(ini);

    s = NULL;
    ini = parse("[source a]\ntype = mariadb\nhost = h\nsocket = /s\n");
    CHECK_EQ_INT(db_maria_settings_load(&ini->sec[0], &s, &e), -1);
    CHECK_MSG(e, "either socket or host");
    CHECK(s == NULL);
    ini_free(ini);
}

TEST(tool_versions)
{
    struct cf_err e = CF_ERR_INIT;
    unsigned maj = 0, min = 0;

    CHECK_EQ_INT(db_version_parse("pg_dump (PostgreSQL) 15.8", "(PostgreSQL)", &maj, &min), 0);
    CHECK_EQ_INT(maj, 15);
    CHECK_EQ_INT(min, 8);
    CHECK_EQ_INT(db_version_parse("no digits", NULL, &maj, &min), -1);
    CHECK_EQ_INT(db_pg_tool_check("pg_dump", 15, 150004, &e), 0);
    CHECK_EQ_INT(db_pg_tool_check("pg_dump", 16, 150004, &e), 0);
    CHECK_EQ_INT(db_pg_tool_check("pg_dump", 13, 150004, &e), -1);
    CHECK_MSG(e, "pg_dump is major version 13, older than the server's 15");
    cf_err_clear(&e);
    const char *v = "mariadb-dump  Ver 10.19 Distrib 10.5.23-MariaDB, for debian-linux-gnu";
    CHECK_EQ_INT(db_maria_tool_check("mariadb-dump", v, 100523, &e), 0);
    CHECK_EQ_INT(db_maria_tool_check("mariadb-dump", v, 101106, &e), -1);
    CHECK_MSG(e, "is from MariaDB 10.5 and the server is 10.11");
    cf_err_clear(&e);
    CHECK_EQ_INT(db_maria_tool_check("mariadb-dump", "mariadb-dump from 11.8.2-MariaDB, client "
                                     "10.19", 101106, &e), 0);
    CHECK_EQ_INT(db_maria_tool_check("mariadb-dump", "garbage", 101106, &e), -1);
    CHECK_MSG(e, "unable to read the version");
}

int main(void)
{
    RUN(database_names);
    RUN(secret_file_private);
    RUN(settings_defaults);
    RUN(tool_versions);
    return unit_done();
}
