/* sqlrows.h - count the rows of each table in the SQL text of a mariadb-dump, fed in pieces of
 * any size as the text goes by (the drill counts what a backup holds while it loads it into a
 * scratch server, without a second read). Pure: no I/O, no process-wide state.
 *
 * What is counted: every row of `INSERT [IGNORE] INTO t [(cols)] VALUES (...),(...);` and of
 * `REPLACE INTO`, extended (many rows a statement) or not (--skip-extended-insert), a row
 * counted when its closing parenthesis is read. The text is read as the mariadb client reads
 * it: strings in '...' and "..." with backslash escapes and doubled quotes, identifiers in
 * `...` with doubled backticks, comments (`-- `, `#`, block comments; `/ *! ... * /` and
 * `/ *M! ... * /` are SQL, as for the client), and `DELIMITER` lines. While the delimiter is not
 * ';' (mariadb-dump changes it only around routine, trigger and event bodies, which hold no
 * rows) nothing is counted. Bytes are bytes: NULs and any line length are fine. */
#ifndef CF_SQLROWS_H
#define CF_SQLROWS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

struct sqlrows;

struct sqlrows *sqlrows_new(void);
void sqlrows_free(struct sqlrows *c);
/* sqlrows_feed() - the next @len bytes of the text */
void sqlrows_feed(struct sqlrows *c, const void *buf, size_t len);
/* sqlrows_end() - the text has ended. -1 (CF_E_CORRUPT) when it ended inside a row, a string
 * or an INSERT (cut short), or when it held an INSERT whose rows cannot be counted from the
 * text (INSERT ... SELECT or SET, a table named with its database): the message says which
 * statement (1-based). The counts stay readable either way. */
int sqlrows_end(struct sqlrows *c, struct cf_err *e);
/* the tables that had rows inserted, in the order first seen: @i from 0; NULL past the end */
const char *sqlrows_table(const struct sqlrows *c, size_t i, uint64_t *rows);
/* the rows counted for table @name (0 when none) */
uint64_t sqlrows_get(const struct sqlrows *c, const char *name);

#endif
