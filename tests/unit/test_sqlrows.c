/* test_sqlrows.c - the row counter of mariadb-dump's SQL text (sqlrows.c): a dump as
 * mariadb-dump writes it, extended and single-row INSERTs, strings holding ");", quotes escaped
 * both ways, binary and hex literals, NULs, comments holding INSERTs, DELIMITER blocks, a
 * 10 MB line, INSERT forms it cannot count, and a text cut short anywhere. Every text is also
 * fed one byte at a time and in odd pieces: the counts never depend on where pieces end. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/source/sqlrows.h"
#include "unit.h"

/* @text fed in pieces of @piece bytes (0: whole); the counter, ended into @e */
static struct sqlrows *count_in(const char *text, size_t len, size_t piece, int *rc,
                                struct cf_err *e)
{
    struct sqlrows *c = sqlrows_new();
    for (size_t off = 0; off < len;) {
        size_t n = piece == 0 || len - off < piece ? len - off : piece;
        sqlrows_feed(c, text + off, n);
        off += n;
    }
    cf_err_clear(e);
    *rc = sqlrows_end(c, e);
    return c;
}

/* "t1=3 t2=1" for @c */
static void counts_str(const struct sqlrows *c, char *out, size_t cap)
{
    uint64_t rows;
    const char *name;
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; (name = sqlrows_table(c, i, &rows)) != NULL && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s=%llu", i ? " " : "", name,
                                 (unsigned long long)rows);
}

/* @text counts to @want, whole, byte by byte and in pieces of 7 and 4096, with sqlrows_end
 * returning @want_rc (and, when -1, a message holding @msg) */
static void expect_n(const char *text, size_t len, const char *want, int want_rc,
                     const char *msg)
{
    const size_t pieces[] = { 0, 1, 7, 4096 };
    for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
        struct cf_err e = CF_ERR_INIT;
        char got[512];
        int rc;
        struct sqlrows *c = count_in(text, len, pieces[k], &rc, &e);
        counts_str(c, got, sizeof(got));
        if (strcmp(got, want) != 0 || rc != want_rc || (msg && strstr(e.msg, msg) == NULL)) {
            printf("#   pieces of %zu: counts \"%s\" rc %d (%s), expected \"%s\" rc %d\n",
                   pieces[k], got, rc, e.msg, want, want_rc);
            unit_failed_checks++;
        }
        sqlrows_free(c);
    }
}

static void expect(const char *text, const char *want)
{
    expect_n(text, strlen(text), want, 0, NULL);
}

static void expect_err(const char *text, const char *want, const char *msg)
{
    expect_n(text, strlen(text), want, -1, msg);
}

/* what mariadb-dump 10.11 writes, trimmed */
static const char dump[] =
    "/*M!999999\\- enable the sandbox mode */ \n"
    "-- MariaDB dump 10.19-11.4.2-MariaDB, for debian-linux-gnu (x86_64)\n"
    "--\n-- Host: localhost    Database: shop\n"
    "-- ------------------------------------------------------\n"
    "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    "/*!40101 SET NAMES utf8mb4 */;\n"
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
    "\n--\n-- Table structure for table `items`\n--\n\n"
    "DROP TABLE IF EXISTS `items`;\n"
    "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
    "CREATE TABLE `items` (\n  `id` int(11) NOT NULL,\n  `name` varchar(40) DEFAULT NULL,\n"
    "  `pic` blob DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n"
    "/*!40101 SET character_set_client = @saved_cs_client */;\n"
    "\n--\n-- Dumping data for table `items`\n--\n\n"
    "LOCK TABLES `items` WRITE;\n/*!40000 ALTER TABLE `items` DISABLE KEYS */;\n"
    "INSERT INTO `items` VALUES (1,'a',0x89504E47),(2,'b);c',NULL),(3,'it''s (\\'quoted\\')',"
    "0x);\n"
    "INSERT INTO `items` VALUES (4,'\\\\',X'00FF'),(5,'',b'0101');\n"
    "/*!40000 ALTER TABLE `items` ENABLE KEYS */;\nUNLOCK TABLES;\n"
    "\n--\n-- Dumping data for table `log`\n--\n\n"
    "LOCK TABLES `log` WRITE;\n"
    "INSERT INTO `log` VALUES (1,'-- not a comment'),(2,'# nor this'),(3,'/* nor */');\n"
    "UNLOCK TABLES;\n"
    "DELIMITER ;;\n"
    "CREATE DEFINER=`root`@`localhost` PROCEDURE `fill`()\nBEGIN\n"
    "  INSERT INTO items VALUES (100,'x',NULL);\n  INSERT INTO items VALUES (101,'y',NULL);\n"
    "END ;;\n"
    "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `t_ai` AFTER "
    "INSERT ON `items` FOR EACH ROW INSERT INTO log VALUES (NEW.id, 'x') */;;\n"
    "DELIMITER ;\n"
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-11-30  3:40:01\n";

TEST(a_dump_as_mariadb_dump_writes_it)
{
    expect(dump, "items=5 log=3");
}

TEST(strings_holding_parentheses_semicolons_and_escaped_quotes)
{
    expect("INSERT INTO t VALUES ('x);'),(')'),('(('),('a\\'),(b'),('a'''),('\\\\'),"
           "(\"q\\\");\"),('',''),('''');",
           "t=9");
}

TEST(binary_and_hex_literals_and_nested_parentheses)
{
    expect("INSERT INTO g VALUES (0xDEADBEEF,X'41',b'1',_binary 'a)b',NULL,-1.5e3,"
           "ST_GeomFromText('POINT(1 1)')),(0x,x'',NULL,NULL,NULL,NULL,POINT(1,2));",
           "g=2");
}

TEST(nul_bytes_inside_and_outside_strings)
{
    const char t[] = "INSERT INTO n VALUES ('a\0b'),(\0'\0)\0'),('\\0');\0\n";
    expect_n(t, sizeof(t) - 1, "n=3", 0, NULL);
}

TEST(single_row_inserts_and_complete_insert_column_lists)
{
    expect("INSERT INTO `t` VALUES (1);\nINSERT INTO `t` VALUES (2);\nINSERT INTO `u` "
           "(`a`, `b)c`) VALUES (1,2);\ninsert into `t` values(3);\nINSERT IGNORE INTO t "
           "VALUES (4);\nREPLACE INTO `u` (`a`,`b)c`) VALUE (5,6),(7,8);\nINSERT LOW_PRIORITY "
           "t VALUES (5);",
           "t=5 u=3");
}

TEST(odd_table_names)
{
    expect("INSERT INTO `a``b` VALUES (1);INSERT INTO \"ansi\" VALUES (1),(2);"
           "INSERT INTO `caf\xc3\xa9` VALUES (1);INSERT INTO plain_1$ VALUES (1);"
           "INSERT INTO `a``b`(x) VALUES (2);",
           "a`b=2 ansi=2 caf\xc3\xa9=1 plain_1$=1");
}

TEST(comments_hold_no_rows)
{
    expect("-- INSERT INTO t VALUES (1);\n# INSERT INTO t VALUES (2);\n"
           "/* INSERT INTO t VALUES (3); */ INSERT INTO t VALUES (4);\n"
           "INSERT /* a comment */ INTO t -- another\n VALUES (5), # and\n (6);\n"
           "INSERT INTO t VALUES (1--1),(2-1),(3/2),(4/**/);\n"
           "INSERT INTO t VALUES (7);--\n",
           "t=8");
}

TEST(versioned_comments_are_sql)
{
    /* the client reads a versioned comment as SQL: a delimiter in it ends the statement */
    expect("/*!40000 ALTER TABLE t DISABLE KEYS */;INSERT INTO t VALUES (1);"
           "/*M!100100 SET x=1 */;INSERT INTO t VALUES (2);",
           "t=2");
}

TEST(delimiter_blocks_count_nothing)
{
    expect("DELIMITER //\nINSERT INTO t VALUES (1)//\nCREATE PROCEDURE p() BEGIN INSERT INTO t "
           "VALUES (2); INSERT INTO t VALUES (3); END//\ndelimiter ;\nINSERT INTO t VALUES "
           "(4);\nDELIMITER $$\nSELECT 1$$\nDELIMITER ;\nINSERT INTO t VALUES (5),(6);",
           "t=3");
}

TEST(on_duplicate_key_update_adds_no_rows)
{
    expect("INSERT INTO t VALUES (1),(2) ON DUPLICATE KEY UPDATE a=VALUES(a), b=(1);",
           "t=2");
}

TEST(a_ten_megabyte_line)
{
    size_t big = 10u << 20;
    char *t = malloc(big + 200);
    size_t n = (size_t)sprintf(t, "INSERT INTO `blob` VALUES (1,'");
    for (size_t i = 0; i < big; i++)
        t[n++] = "ab);'\\"[i % 3];   /* a, b, ) */
    n += (size_t)sprintf(t + n, "'),(2,0x%s);\n", "00");
    expect_n(t, n, "blob=2", 0, NULL);
    free(t);
}

TEST(insert_forms_it_cannot_count_are_named)
{
    expect_err("INSERT INTO t VALUES (1);\nINSERT INTO t SELECT * FROM u;", "t=1",
               "statement 2: an INSERT without VALUES");
    expect_err("INSERT INTO t SET a = 1;", "t=0", "INSERT ... SELECT or SET");
    expect_err("INSERT INTO other.t VALUES (1);", "other=0",
               "a table named with its database");
    expect_err("INSERT INTO `db`.`t` VALUES (1);", "db=0",
               "a table named with its database");
}

TEST(a_text_cut_short_is_said)
{
    const char whole[] = "INSERT INTO t VALUES (1,'a'),(2,'b);');\n";
    size_t n = sizeof(whole) - 1;
    /* cut anywhere inside the INSERT: rows up to the cut are counted, and the end says so */
    for (size_t cut = 1; cut < n - 2; cut++) {
        struct cf_err e = CF_ERR_INIT;
        int rc;
        struct sqlrows *c = count_in(whole, cut, 3, &rc, &e);
        uint64_t rows = sqlrows_get(c, "t");
        /* "INSER" is not an INSERT yet; a cut right after a row leaves a whole statement
         * without its delimiter, which the client runs at the end all the same */
        bool complete = cut < 6 || cut == 28;
        if (rc != (complete ? 0 : -1) || rows != (cut >= 28 ? 1u : 0u) + (cut >= 38 ? 1u : 0u) ||
            (!complete && strstr(e.msg, "cut short") == NULL)) {
            printf("#   cut at %zu: rc %d rows %llu: %s\n", cut, rc, (unsigned long long)rows,
                   e.msg);
            unit_failed_checks++;
        }
        sqlrows_free(c);
    }
    expect_n(whole, n, "t=2", 0, NULL);
    expect_err("INSERT INTO t VALUES (1,'", "t=0", "inside a string");
    expect_err("INSERT INTO t VALUES (1,(2", "t=0", "inside a row");
    expect_err("INSERT INTO t VALUES (1),", "t=1", "inside an INSERT");
    expect_err("INSERT INTO `t", "", "inside a string");
    expect_err("/* INSERT INTO t VALUES (1)", "", "inside a comment");
    expect_err("INSERT INTO t VALUES (1),;", "t=1", "ends before its rows do");
}

/* texts made of the pieces that matter, at random: wherever the pieces end, the same counts
 * and the same end (xorshift, fixed seed: the same texts every run) */
TEST(random_texts_count_alike_in_any_pieces)
{
    static const char *const tok[] = {
        "INSERT INTO ", "REPLACE INTO ", "`t`", "`a``b`", "u", " VALUES ", "(", ")", ",", ";",
        "'", "\"", "\\", "''", "-- ", "--", "-", "/*", "*/", "/*!", "#", "\n", " ", "1",
        "DELIMITER ;;\n", "DELIMITER ;\n", ";;", "x'00'", "0x1F", "NULL",
        "INSERT INTO `t` VALUES (1),(", "INSERT INTO u VALUES (", "'a'),(", "2),(", ");\n",
    };
    uint64_t x = 88172645463325252ull;
    char text[600];
    int counted = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        while (n < sizeof(text) - 20) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            const char *t = tok[x % (sizeof(tok) / sizeof(tok[0]))];
            memcpy(text + n, t, strlen(t));
            n += strlen(t);
            if (x % 7 == 0)
                break;
        }
        struct cf_err e1 = CF_ERR_INIT, e2 = CF_ERR_INIT;
        char c1[512], c2[512];
        int rc1, rc2;
        struct sqlrows *a = count_in(text, n, 0, &rc1, &e1);
        struct sqlrows *b = count_in(text, n, 1 + (size_t)(x % 5), &rc2, &e2);
        counts_str(a, c1, sizeof(c1));
        counts_str(b, c2, sizeof(c2));
        if (strcmp(c1, c2) != 0 || rc1 != rc2 || strcmp(e1.msg, e2.msg) != 0) {
            printf("#   round %d: \"%s\" rc %d vs \"%s\" rc %d\n", round, c1, rc1, c2, rc2);
            unit_failed_checks++;
        }
        uint64_t rows = 0, r;
        for (size_t i = 0; sqlrows_table(a, i, &r) != NULL; i++)
            rows += r;
        counted += rows > 0;
        refused += rc1 != 0;
        sqlrows_free(a);
        sqlrows_free(b);
    }
    /* the texts held rows, and texts cut short or not countable, often enough to mean it */
    CHECK(counted > 100);
    CHECK(refused > 300);
    printf("#   %d texts with rows counted, %d refused\n", counted, refused);
}

TEST(nothing_at_all)
{
    expect("", "");
    expect("-- MariaDB dump\n-- Dump completed on 2026-11-30  3:40:01\n", "");
    expect("CREATE TABLE t (a int);\nSELECT 'INSERT INTO t VALUES (1)';\n", "");
}

int main(void)
{
    RUN(a_dump_as_mariadb_dump_writes_it);
    RUN(strings_holding_parentheses_semicolons_and_escaped_quotes);
    RUN(binary_and_hex_literals_and_nested_parentheses);
    RUN(nul_bytes_inside_and_outside_strings);
    RUN(single_row_inserts_and_complete_insert_column_lists);
    RUN(odd_table_names);
    RUN(comments_hold_no_rows);
    RUN(versioned_comments_are_sql);
    RUN(delimiter_blocks_count_nothing);
    RUN(on_duplicate_key_update_adds_no_rows);
    RUN(a_ten_megabyte_line);
    RUN(insert_forms_it_cannot_count_are_named);
    RUN(a_text_cut_short_is_said);
    RUN(random_texts_count_alike_in_any_pieces);
    RUN(nothing_at_all);
    return unit_done();
}
