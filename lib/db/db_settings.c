/* db_settings.c - connection settings, database lists and secrets of the database sources. */
#include "db_settings.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"

/* --- connection settings --- */

int db_settings_load(const struct ini_section *sec, const char *password_env, long default_port,
                     struct db_settings **out, struct cf_err *e)
{
    struct db_settings *s = cf_calloc(1, sizeof(*s));
    const char *sock, *host, *user, *bindir;

    s->name = cf_strdup(sec->name);
    if (ini_get_str(sec, "socket", NULL, &sock, e) != 0 ||
        ini_get_str(sec, "host", NULL, &host, e) != 0 ||
        ini_get_int(sec, "port", default_port, 1, 65535, &s->port, e) != 0 ||
        ini_get_str(sec, "user", NULL, &user, e) != 0 ||
        ini_get_str(sec, "bin-dir", NULL, &bindir, e) != 0 ||
        db_get_databases(sec, &s->dbs, &s->ndbs, &s->all, e) != 0)
        goto fail;
    if (sock && host) {
        ini_err(sec, "host", e, "give either socket or host, not both");
        goto fail;
    }
    if (db_password_load(sec, password_env, &s->password, e) != 0)
        goto fail;
    s->socket = sock ? cf_strdup(sock) : NULL;
    s->host = host ? cf_strdup(host) : NULL;
    s->user = user ? cf_strdup(user) : NULL;
    s->bindir = bindir ? cf_strdup(bindir) : NULL;
    *out = s;
    return 0;
fail:
    db_settings_free(s);
    return -1;
}

void db_settings_free(struct db_settings *s)
{
    if (s == NULL)
        return;
    free(s->name);
    free(s->socket);
    free(s->host);
    free(s->user);
    free(s->bindir);
    db_secret_free(s->password);
    ini_list_free(s->dbs, s->ndbs);
    free(s);
}

void db_settings_only(struct db_settings *s, const char *db)
{
    ini_list_free(s->dbs, s->ndbs);
    s->dbs = cf_calloc(2, sizeof(char *));
    s->dbs[0] = cf_strdup(db);
    s->ndbs = 1;
    s->all = false;
}

bool db_name_is_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '-')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '"' || *p == '`' || *p == '\\')
            return false;
    return true;
}

int db_get_databases(const struct ini_section *sec, char ***items, size_t *n, bool *all,
                     struct cf_err *e)
{
    *items = NULL;
    *n = 0;
    *all = false;
    if (ini_kv_find(sec, "databases") == NULL) {
        *all = true;
        return 0;
    }
    if (ini_get_list(sec, "databases", items, n, e) != 0)
        return -1;
    if (*n == 0)
        return ini_err(sec, "databases", e, "databases: empty (name databases, or: all)");
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*items)[i], "all") == 0) {
            if (*n != 1) {
                ini_list_free(*items, *n);
                *items = NULL;
                *n = 0;
                return ini_err(sec, "databases", e, "databases: 'all' cannot be combined with names");
            }
            ini_list_free(*items, *n);
            *items = NULL;
            *n = 0;
            *all = true;
            return 0;
        }
        if (!db_name_is_safe((*items)[i])) {
            int rc = ini_err(sec, "databases", e,
                             "databases: '%s' is not a name coffer accepts (no quotes, backslashes or control characters, at most 64 bytes)",
                             (*items)[i]);
            ini_list_free(*items, *n);
            *items = NULL;
            *n = 0;
            return rc;
        }
    }
    return 0;
}

/* --- secrets --- */

int db_password_load(const struct ini_section *sec, const char *env_name, char **out,
                     struct cf_err *e)
{
    const char *file;
    *out = NULL;
    if (ini_get_str(sec, "password-file", NULL, &file, e) != 0)
        return -1;
    if (file) {
        struct buf b = BUF_INIT;
        if (fs_read_secret(file, "password-file", &b, e) != 0) {
            buf_free(&b);
            const struct ini_kv *kv = ini_kv_find(sec, "password-file");
            cf_err_ctx(e, "%s:%d: [source %s]", sec->file, kv ? kv->line : sec->line, sec->name);
            if (e)
                e->code = CF_E_CONFIG;   /* a file the configuration names: exit 2 */
            return -1;
        }
        if (memchr(b.data, '\0', b.len) || strchr(b.data, '\n')) {
            db_secret_free(b.data);
            const struct ini_kv *kv = ini_kv_find(sec, "password-file");
            return cf_err_set(e, CF_E_CONFIG,
                              "%s:%d: [source %s] password-file '%s' holds more than one line; "
                              "HINT: the file holds the password alone (a final newline is "
                              "fine)",
                              sec->file, kv ? kv->line : sec->line, sec->name, file);
        }
        *out = b.data;
        return 0;
    }
    const char *env = env_name ? getenv(env_name) : NULL;
    if (env && *env)
        *out = cf_strdup(env);
    return 0;
}

void db_secret_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

int db_secret_file_write(const char *text, char **path, struct cf_err *e)
{
    const char *dir = getenv("TMPDIR");
    char *p = cf_asprintf("%s/coffer-opt.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(p, O_CLOEXEC);   /* mkstemp creates 0600 */
    if (fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create an option file in '%s'",
                   dir && *dir ? dir : "/tmp");
        free(p);
        return -1;
    }
    if (fchmod(fd, 0600) != 0 || fs_write_all(fd, text, strlen(text), p, e) != 0) {
        if (e && e->code == CF_E_OK)
            cf_err_sys(e, CF_E_IO, "unable to write option file '%s'", p);
        close(fd);
        unlink(p);
        free(p);
        return -1;
    }
    close(fd);
    *path = p;
    return 0;
}

void db_secret_file_remove(char *path)
{
    if (path == NULL)
        return;
    unlink(path);
    free(path);
}
