/* db_pg.c - PostgreSQL settings, connections and child environments. */
#include "db_pg.h"

#include <stdio.h>
#include <string.h>

#include "../core/util.h"

int db_pg_settings_load(const struct ini_section *sec, struct db_settings **out,
                        struct cf_err *e)
{
    return db_settings_load(sec, "PGPASSWORD", 5432, out, e);
}

void db_pg_where(const struct db_settings *p, char *out, size_t cap)
{
    const char *h = p->host ? p->host : "(default socket)";
    if (h[0] == '/')
        snprintf(out, cap, "socket %s port %ld", h, p->port);
    else
        snprintf(out, cap, "%s:%ld", h, p->port);
}

void db_pg_msg(const char *m, char *out, size_t cap)
{
    const char *s = strstr(m, "FATAL:  ");
    s = s ? s + 8 : m;
    snprintf(out, cap, "%s", s);
    out[strcspn(out, "\n")] = '\0';
}

int db_pg_connect(const struct db_settings *p, const char *db, const char *app,
                  const char *options, PGconn **out, struct cf_err *e)
{
    char port[16], where[512], msg[512];
    const char *kw[10], *val[10];
    int n = 0;

    snprintf(port, sizeof(port), "%ld", p->port);
    if (p->host) {
        kw[n] = "host";
        val[n++] = p->host;
    }
    kw[n] = "port";
    val[n++] = port;
    if (p->user) {
        kw[n] = "user";
        val[n++] = p->user;
    }
    if (p->password) {
        kw[n] = "password";
        val[n++] = p->password;
    }
    kw[n] = "dbname";
    val[n++] = db;
    kw[n] = "application_name";
    val[n++] = app;
    if (options) {
        kw[n] = "options";
        val[n++] = options;
    }
    kw[n] = "connect_timeout";
    val[n++] = "20";
    kw[n] = NULL;
    val[n] = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 0);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        *out = c;
        return 0;
    }
    db_pg_where(p, where, sizeof(where));
    db_pg_msg(c ? PQerrorMessage(c) : "out of memory", msg, sizeof(msg));
    int rc;
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
        rc = cf_err_set(e, CF_E_AUTH,
                        "postgres at %s refused user '%s': %s. HINT: check user and password-file",
                        where, p->user ? p->user : "(default)", msg);
    else if (strstr(msg, "does not exist") && strstr(msg, "database"))
        rc = cf_err_set(e, CF_E_NOTFOUND, "postgres at %s: %s", where, msg);
    else
        rc = cf_err_retry(e, CF_E_NET,
                          "unable to connect to postgres at %s: %s. HINT: is the server running, and are host and port right?",
                          where, msg);
    PQfinish(c);
    return rc;
}

int db_pg_connect_admin(const struct db_settings *p, PGconn **out, struct cf_err *e)
{
    struct cf_err first = CF_ERR_INIT;
    if (db_pg_connect(p, "postgres", "coffer", NULL, out, &first) == 0)
        return 0;
    if (first.code != CF_E_NOTFOUND) {
        cf_err_keep(e, &first);
        return -1;
    }
    return db_pg_connect(p, "template1", "coffer", NULL, out, e);
}

void db_pg_env_build(const struct db_settings *p, const char *db, struct db_pg_env *env)
{
    memset(env, 0, sizeof(*env));
    if (p->host)
        env->v[env->n++] = cf_asprintf("PGHOST=%s", p->host);
    env->v[env->n++] = cf_asprintf("PGPORT=%ld", p->port);
    if (p->user)
        env->v[env->n++] = cf_asprintf("PGUSER=%s", p->user);
    if (db)
        env->v[env->n++] = cf_asprintf("PGDATABASE=%s", db);
    if (p->password)
        env->v[env->n++] = cf_asprintf("PGPASSWORD=%s", p->password);
    env->v[env->n++] = cf_strdup("PGAPPNAME=coffer");
    env->v[env->n] = NULL;
}

void db_pg_env_free(struct db_pg_env *env)
{
    for (size_t i = 0; i < env->n; i++)
        db_secret_free(env->v[i]);
    env->n = 0;
}
