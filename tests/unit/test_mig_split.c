/* test_mig_split.c - statement splitting for PostgreSQL and MariaDB scripts. */
#include "unit.h"

#include <stdlib.h>

#include "../../migrate/mig.h"

static struct mig_stmts st;
static struct cf_err err;

static int split(enum mig_engine eng, const char *sql)
{
    mig_stmts_free(&st);
    cf_err_clear(&err);
    return mig_split(eng, sql, &st, &err);
}

#define STMT(i, text) CHECK_STR((st.n > (i) ? st.s[i].sql : NULL), text)

TEST(pg_basic)
{
    CHECK_EQ_INT(split(MIG_PG, "create table a (x int);\ninsert into a values (1);\n"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "create table a (x int)");
    STMT(1, "insert into a values (1)");
    CHECK_EQ_INT(st.s[1].line, 2);
    /* last statement without a semicolon */
    CHECK_EQ_INT(split(MIG_PG, "select 1;\n\n  select 2\n"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(1, "select 2");
    CHECK_EQ_INT(st.s[1].line, 3);
    /* empty statements and comment-only tails are dropped */
    CHECK_EQ_INT(split(MIG_PG, ";;\n select 1;;\n-- the end\n/* really */\n"), 0);
    CHECK_EQ_INT(st.n, 1);
    STMT(0, "select 1");
    CHECK_EQ_INT(split(MIG_PG, ""), 0);
    CHECK_EQ_INT(st.n, 0);
    CHECK_EQ_INT(split(MIG_PG, "-- only a comment\n"), 0);
    CHECK_EQ_INT(st.n, 0);
}

TEST(pg_quotes)
{
    CHECK_EQ_INT(split(MIG_PG, "insert into t values ('a;b', 'it''s;');select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "insert into t values ('a;b', 'it''s;')");
    /* standard strings: a backslash is literal, so '\' ends the string */
    CHECK_EQ_INT(split(MIG_PG, "select '\\'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select '\\'");
    /* E'' strings: backslash escapes the quote */
    CHECK_EQ_INT(split(MIG_PG, "select E'a\\';b'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select E'a\\';b'");
    CHECK_EQ_INT(split(MIG_PG, "select e'\\\\'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    /* an identifier ending in e is not an E string */
    CHECK_EQ_INT(split(MIG_PG, "select some'x;y'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select some'x;y'");
    CHECK_EQ_INT(split(MIG_PG, "create table \"a;b\"\"c\" (x int); select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "create table \"a;b\"\"c\" (x int)");
}

TEST(pg_comments)
{
    CHECK_EQ_INT(split(MIG_PG, "select 1 -- a; b\n; select /* ; */ 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select 1 -- a; b");
    STMT(1, "select /* ; */ 2");
    /* nested block comments */
    CHECK_EQ_INT(split(MIG_PG, "/* a /* b; */ c; */ select 1; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    /* quotes inside comments do not open strings */
    CHECK_EQ_INT(split(MIG_PG, "-- don't\nselect 1; /* it's */ select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    CHECK_EQ_INT(st.s[0].line, 2);
    /* comment markers inside strings */
    CHECK_EQ_INT(split(MIG_PG, "select '--;', '/*;'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
}

TEST(pg_dollar)
{
    const char *fn =
        "create function f() returns int language plpgsql as $$\n"
        "begin\n  perform 1; return 2;\nend;\n$$;\n"
        "create function g() returns text as $body$ select 'a;$$'; $body$ language sql;\n"
        "select $1;\n"
        "select a$b; select 3;";
    CHECK_EQ_INT(split(MIG_PG, fn), 0);
    CHECK_EQ_INT(st.n, 5);
    CHECK(st.n > 0 && strstr(st.s[0].sql, "return 2;\nend;\n$$") != NULL);
    CHECK(st.n > 1 && strstr(st.s[1].sql, "$body$ select 'a;$$'; $body$ language sql") != NULL);
    CHECK_EQ_INT(st.n > 1 ? st.s[1].line : 0, 6);
    STMT(2, "select $1");
    STMT(3, "select a$b");
    /* a different tag inside does not close */
    CHECK_EQ_INT(split(MIG_PG, "select $a$ $b$ ; $b$ $a$; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
}

TEST(pg_parens_and_atomic)
{
    /* a rule with several actions in parentheses */
    CHECK_EQ_INT(split(MIG_PG, "create rule r as on insert to t do also (insert into a values (1); insert into b values (2)); select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(1, "select 2");
    /* a stray ')' does not make the depth negative */
    CHECK_EQ_INT(split(MIG_PG, "select 1); select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    /* SQL-standard function bodies (PostgreSQL 14+) */
    const char *atomic =
        "CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n  SELECT a + b;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\n"
        "create procedure p() language sql begin atomic insert into t values (1); end;\n"
        "select 3;";
    CHECK_EQ_INT(split(MIG_PG, atomic), 0);
    CHECK_EQ_INT(st.n, 3);
    CHECK(st.n > 0 && strstr(st.s[0].sql, "ELSE 2 END;\nEND") != NULL);
    STMT(1, "create procedure p() language sql begin atomic insert into t values (1); end");
    STMT(2, "select 3");
    /* a function whose body is a CASE expression without BEGIN ATOMIC */
    CHECK_EQ_INT(split(MIG_PG, "create function s(a int) returns int language sql return case when a > 0 then 1 else 0 end; select 4;"), 0);
    CHECK_EQ_INT(st.n, 2);
    /* outside CREATE FUNCTION, BEGIN and END are ordinary statements */
    CHECK_EQ_INT(split(MIG_PG, "begin; select 1; end;"), 0);
    CHECK_EQ_INT(st.n, 3);
    /* CASE in an ordinary statement does not hold the semicolon */
    CHECK_EQ_INT(split(MIG_PG, "select case when true then 1 end; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
}

TEST(pg_unterminated)
{
    CHECK_EQ_INT(split(MIG_PG, "select 1;\nselect 'abc;\n"), -1);
    CHECK_MSG(err, "line 2: unterminated string");
    CHECK_EQ_INT(st.n, 0);
    CHECK_EQ_INT(split(MIG_PG, "select $$ x;"), -1);
    CHECK_MSG(err, "line 1: unterminated dollar-quoted string");
    CHECK_EQ_INT(split(MIG_PG, "\n\n/* /* */ select 1;"), -1);
    CHECK_MSG(err, "line 3: unterminated block comment");
    CHECK_EQ_INT(split(MIG_PG, "select \"abc"), -1);
    CHECK_MSG(err, "unterminated quoted identifier");
    CHECK_EQ_INT(split(MIG_PG, "select E'abc\\'"), -1);
    CHECK_MSG(err, "unterminated E'' string");
}

TEST(maria_basic)
{
    CHECK_EQ_INT(split(MIG_MARIA, "create table a (x int);\r\ninsert into a values (1);"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "create table a (x int)");
    STMT(1, "insert into a values (1)");
    CHECK_EQ_INT(split(MIG_MARIA, "select 'a\\';b', \"c;\\\"d\", 'e''f;'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select 'a\\';b', \"c;\\\"d\", 'e''f;'");
    CHECK_EQ_INT(split(MIG_MARIA, "create table `a;``b` (x int); select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "create table `a;``b` (x int)");
}

TEST(maria_comments)
{
    CHECK_EQ_INT(split(MIG_MARIA, "select 1 # a; b\n; select 2 -- c; d\n; select 3--1;"), 0);
    CHECK_EQ_INT(st.n, 3);
    STMT(2, "select 3--1");
    CHECK_EQ_INT(split(MIG_MARIA, "/* a; /* b; */ select 1; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
    STMT(0, "select 1");  /* leading comments are not sent */
    /* executable comments are code and are kept */
    CHECK_EQ_INT(split(MIG_MARIA, "/*!40101 SET NAMES utf8mb4 */;\n/* just a comment */;"), 0);
    CHECK_EQ_INT(st.n, 1);
    STMT(0, "/*!40101 SET NAMES utf8mb4 */");
    CHECK_EQ_INT(split(MIG_MARIA, "select 'it''s # not; a comment'; select 2;"), 0);
    CHECK_EQ_INT(st.n, 2);
}

TEST(maria_delimiter)
{
    const char *sql =
        "create table t (a int);\n"
        "DELIMITER //\n"
        "create procedure p()\nbegin\n  insert into t values (1);\n  select 2;\nend //\n"
        "create trigger tr before insert on t for each row begin set new.a = 1; end//\n"
        "delimiter ;\n"
        "select 3;\n"
        "DELIMITER $$\ncreate function f() returns int deterministic begin return 1; end $$\n"
        "DELIMITER ;\n";
    CHECK_EQ_INT(split(MIG_MARIA, sql), 0);
    CHECK_EQ_INT(st.n, 5);
    STMT(0, "create table t (a int)");
    STMT(1, "create procedure p()\nbegin\n  insert into t values (1);\n  select 2;\nend");
    CHECK_EQ_INT(st.n > 1 ? st.s[1].line : 0, 3);
    STMT(2, "create trigger tr before insert on t for each row begin set new.a = 1; end");
    STMT(3, "select 3");
    STMT(4, "create function f() returns int deterministic begin return 1; end");
    /* "delimiter" inside a statement is only a word */
    CHECK_EQ_INT(split(MIG_MARIA, "create table x (\ndelimiter int);select 1;"), 0);
    CHECK_EQ_INT(st.n, 2);
    CHECK_EQ_INT(split(MIG_MARIA, "DELIMITER \nselect 1;"), -1);
    CHECK_MSG(err, "DELIMITER needs a delimiter");
}

TEST(maria_unterminated)
{
    CHECK_EQ_INT(split(MIG_MARIA, "select 1;\n\nselect 'a\\'"), -1);
    CHECK_MSG(err, "line 3: unterminated string");
    CHECK_EQ_INT(split(MIG_MARIA, "select `a"), -1);
    CHECK_MSG(err, "unterminated quoted identifier");
    CHECK_EQ_INT(split(MIG_MARIA, "select 1 /* x"), -1);
    CHECK_MSG(err, "unterminated block comment");
}

TEST(bom_skipped)
{
    CHECK_EQ_INT(split(MIG_PG, "\xef\xbb\xbfselect 1;"), 0);
    STMT(0, "select 1");
}

TEST(tx_control)
{
    CHECK(mig_stmt_is_tx_control("BEGIN"));
    CHECK(mig_stmt_is_tx_control("begin transaction isolation level serializable"));
    CHECK(mig_stmt_is_tx_control("COMMIT"));
    CHECK(mig_stmt_is_tx_control("commit\nwork"));
    CHECK(mig_stmt_is_tx_control("ROLLBACK"));
    CHECK(mig_stmt_is_tx_control("end"));
    CHECK(mig_stmt_is_tx_control("START TRANSACTION"));
    CHECK(mig_stmt_is_tx_control("savepoint a"));
    CHECK(!mig_stmt_is_tx_control("beginning_table"));
    CHECK(!mig_stmt_is_tx_control("create table begin_log (a int)"));
    CHECK(!mig_stmt_is_tx_control("select 1"));
    CHECK(!mig_stmt_is_tx_control("end_date"));
    CHECK(!mig_stmt_is_tx_control("committed"));
    /* a function body holds them inside a dollar quote: one create statement */
    CHECK_EQ_INT(split(MIG_PG, "create function f() returns void language plpgsql as $$ begin commit; end $$;"), 0);
    CHECK_EQ_INT(st.n, 1);
    CHECK(!mig_stmt_is_tx_control(st.s[0].sql));
}

int main(void)
{
    RUN(pg_basic);
    RUN(pg_quotes);
    RUN(pg_comments);
    RUN(pg_dollar);
    RUN(pg_parens_and_atomic);
    RUN(pg_unterminated);
    RUN(maria_basic);
    RUN(maria_comments);
    RUN(maria_delimiter);
    RUN(maria_unterminated);
    RUN(bom_skipped);
    RUN(tx_control);
    mig_stmts_free(&st);
    return unit_done();
}
