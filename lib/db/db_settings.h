/* db_settings.h - where a database server is and how to log in: the connection settings of a
 * [source] section (host or socket, port, user, password, databases, bin-dir), read once for
 * the database sources and for migrate, and the secrets that go with them.
 *
 * Secrets never reach a command line: a child tool gets them in its own environment (built by
 * the caller, never set in ours) or in a 0600 file that the caller removes with
 * db_secret_file_remove. */
#ifndef CF_DB_SETTINGS_H
#define CF_DB_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "../config/ini.h"
#include "../core/err.h"

/* --- connection settings --- */

/* What every database source reads from its [source] section. Keys a kind does not list in
 * its ops `keys` are rejected before this runs, so they are simply absent here. */
struct db_settings {
    char *name;       /* [source NAME] */
    char *socket;     /* `socket`, or NULL */
    char *host;       /* `host` (postgres: also a socket directory), or NULL */
    long port;        /* `port`, or the kind's default */
    char *user;       /* `user`, or NULL */
    char *password;   /* from `password-file` or the environment, or NULL */
    char **dbs;       /* `databases`, unless all */
    size_t ndbs;
    bool all;         /* `databases = all`, or not given */
    char *bindir;     /* `bin-dir`, or NULL */
};

/* db_settings_load() - read the keys above from @sec; `socket` and `host` together are an
 * error; the password comes from `password-file` (must be private) or @password_env. On
 * failure nothing is left allocated. Free with db_settings_free. */
int db_settings_load(const struct ini_section *sec, const char *password_env, long default_port,
                     struct db_settings **out, struct cf_err *e);
void db_settings_free(struct db_settings *s);
/* db_settings_only() - narrow @s to the one database @db (a name db_name_is_safe accepts), as
 * if `databases = @db` had been configured (migrate's snapshot) */
void db_settings_only(struct db_settings *s, const char *db);

/* "a, b" list key -> strings; "all" alone gives *all = true and no items */
int db_get_databases(const struct ini_section *sec, char ***items, size_t *n, bool *all,
                     struct cf_err *e);
/* true when @s is a plain database name: 1-64 bytes, not starting with '-', no control
 * characters, quotes, backticks or backslashes (what the sources accept in `databases`) */
bool db_name_is_safe(const char *s);

/* --- secrets --- */

/* db_password_load() - the password for a source: the file named by `password-file` in @sec
 * (must be private: 0600/0400), else the environment variable @env_name, else NULL (no
 * password). *@out is freshly allocated or NULL. */
int db_password_load(const struct ini_section *sec, const char *env_name, char **out,
                     struct cf_err *e);
/* overwrite and free a secret; NULL is fine */
void db_secret_free(char *s);
/* db_secret_file_write() - a new 0600 file in $TMPDIR (or /tmp) holding @text; *@path is
 * freshly allocated. Remove it with db_secret_file_remove once the child is done. */
int db_secret_file_write(const char *text, char **path, struct cf_err *e);
/* unlink and free; NULL is fine */
void db_secret_file_remove(char *path);

#endif
