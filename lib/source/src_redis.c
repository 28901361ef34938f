/* src_redis.c - a Redis server: its RDB snapshot taken over the replication protocol, as a
 * replica does, streamed without a copy on local disk; restored as an RDB file for a stopped
 * server, or key by key (RESTORE) into a running, empty scratch server.
 *
 * Backup: AUTH (from password-file or REDISCLI_AUTH, never argv), REPLCONF capa eof, REPLCONF
 * rdb-only 1, PSYNC ? -1. The master answers +FULLRESYNC <replid> <offset>, then the RDB as
 * "$<len>\r\n<bytes>" or, diskless, "$EOF:<40-byte mark>\r\n<bytes><mark>". The RDB is parsed
 * record by record while it is forwarded (chk_rdb.c), so the backup holds it only when its
 * EOF opcode and CRC64 prove it whole. The replication offset in FULLRESYNC is the snapshot's.
 *
 * The master may take a while to start: a diskless transfer waits repl-diskless-sync-delay
 * seconds (5 in Debian's redis.conf) for other replicas, and a disk-based one
 * (repl-diskless-sync no) writes the whole RDB to the master's disk first. Meanwhile the
 * master sends a bare "\n" every second: before +FULLRESYNC while the transfer waits to
 * start, after it while the RDB is written to disk. They are skipped for up to
 * TRANSFER_WAIT_MAX_S, and the wait is recorded (transfer_wait_ms). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../db/db_settings.h"
#include "source.h"
#include "child.h"
#include "chk.h"
#include "dbparts.h"
#include "redis_conn.h"

#define PART_RDB "rdb"
/* how long the master may prepare (keep-alives only) before the RDB begins: a disk-based
 * sync of a large dataset writes the whole RDB first */
#define TRANSFER_WAIT_MAX_S 3600

static const char *const redis_keys[] = { "socket", "host", "port", "user", "password-file",
                                          "tls", "tls-ca-file", "tls-cert-file", "tls-key-file",
                                          "tls-server-name", NULL };


struct rds {
    struct db_settings *set;
    char *addr;        /* "/path/to.sock" or "host:port" */
    struct redis_tls tls;
};

static int redis_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    struct db_settings *set;
    if (db_settings_load(sec, "REDISCLI_AUTH", 6379, &set, e) != 0)
        return -1;
    if (set->user && set->password == NULL) {
        db_settings_free(set);
        return ini_err(sec, "user", e, "an ACL user needs a password: set password-file (or REDISCLI_AUTH)");
    }
    struct rds *r = cf_calloc(1, sizeof(*r));
    const char *ca, *cert, *key, *name;
    r->set = set;
    r->addr = set->socket ? cf_strdup(set->socket)
                          : cf_asprintf("%s:%ld", set->host ? set->host : "127.0.0.1", set->port);
    *priv = r;
    if (ini_get_bool(sec, "tls", false, &r->tls.on, e) != 0 ||
        ini_get_str(sec, "tls-ca-file", NULL, &ca, e) != 0 ||
        ini_get_str(sec, "tls-cert-file", NULL, &cert, e) != 0 ||
        ini_get_str(sec, "tls-key-file", NULL, &key, e) != 0 ||
        ini_get_str(sec, "tls-server-name", NULL, &name, e) != 0)
        goto fail;
    if (!r->tls.on && (ca || cert || key || name)) {
        ini_err(sec, "tls", e, "tls-* keys are set but tls is not: add 'tls = yes'");
        goto fail;
    }
    if ((cert == NULL) != (key == NULL)) {
        ini_err(sec, cert ? "tls-cert-file" : "tls-key-file", e,
                "a client certificate needs both tls-cert-file and tls-key-file");
        goto fail;
    }
    r->tls.ca = ca ? cf_strdup(ca) : NULL;
    r->tls.cert = cert ? cf_strdup(cert) : NULL;
    r->tls.key = key ? cf_strdup(key) : NULL;
    r->tls.name = name ? cf_strdup(name) : set->host ? cf_strdup(set->host) : NULL;
    return 0;
fail:
    *priv = NULL;
    db_settings_free(set);
    free(r->addr);
    free(r);
    return -1;
}

static void redis_close(void *priv)
{
    struct rds *r = priv;
    if (r == NULL)
        return;
    db_settings_free(r->set);
    free(r->addr);
    free(r->tls.ca);
    free(r->tls.cert);
    free(r->tls.key);
    free(r->tls.name);
    free(r);
}

/* ------------------------------------------------------------------------------------------
 * export
 * ---------------------------------------------------------------------------------------- */

/* the next non-empty line from a master preparing a transfer: its keep-alive newlines are
 * skipped until TRANSFER_WAIT_MAX_S after @t0 (COFFER_TEST_REDIS_WAIT_S shortens it for
 * tests); @what names the awaited line in the timeout messages */
static int transfer_wait_line(struct redis_conn *c, const char *what, uint64_t t0, struct buf *line,
                              struct cf_err *e)
{
    const char *test = getenv("COFFER_TEST_REDIS_WAIT_S");
    uint64_t max_s = test && *test ? strtoull(test, NULL, 10) : TRANSFER_WAIT_MAX_S;
    c->awaiting = what;
    for (;;) {
        if (redis_resp_line(c, line, e) != 0)
            return -1;
        if (line->len > 0)
            return 0;
        uint64_t ms = time_mono_ms() - t0;
        if (ms > max_s * 1000)
            return cf_err_set(e, CF_E_NET,
                              "redis at %s: waited %" PRIu64 " s for %s, and the master sent "
                              "only keep-alives while it prepared the transfer. HINT: is a "
                              "long repl-diskless-sync-delay set, or is a disk-based sync "
                              "(repl-diskless-sync no) writing a large RDB? Check the "
                              "master's log", c->addr, ms / 1000, what);
    }
}

static int out_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return source_out_write(ctx, buf, len, e);
}

static int redis_export(void *priv, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct rds *r = priv;
    struct redis_conn c;
    struct buf b = BUF_INIT;
    struct rdb_summary s;
    char v[128], mark[41] = { 0 };
    uint64_t len = 0;
    bool eofmark = false;
    int rc = -1;

    json_object_set_new(info, "warnings", json_array());
    json_object_set_new(info, "server", json_string(r->addr));
    if (redis_conn_open(&c, r->addr, &r->tls, e) != 0 ||
        redis_conn_auth(&c, r->set->user, r->set->password, e) != 0)
        goto out;
    const char *info_cmd[] = { "INFO", "server" };
    if (redis_conn_call(&c, 2, info_cmd, &b, e) != 0)
        goto out;
    if (redis_info_field(b.data, "redis_version", v, sizeof(v)))
        json_object_set_new(info, "redis_version", json_string(v));
    const char *capa[] = { "REPLCONF", "capa", "eof", "capa", "psync2" };
    if (redis_conn_call(&c, 5, capa, NULL, e) != 0)
        goto out;
    const char *rdbonly[] = { "REPLCONF", "rdb-only", "1" };
    struct cf_err ignore = CF_ERR_INIT;   /* before 7.0: unknown, and not needed */
    if (redis_conn_call(&c, 3, rdbonly, NULL, &ignore) != 0 && ignore.code != CF_E_SOURCE) {
        cf_err_keep(e, &ignore);
        goto out;
    }

    /* PSYNC: +FULLRESYNC <replid> <offset>, then the payload header; keep-alive newlines
     * before either while the master prepares */
    const char *psync[] = { "PSYNC", "?", "-1" };
    buf_reset(&b);
    redis_resp_cmd(&b, 3, psync, NULL);
    uint64_t t0 = time_mono_ms();
    if (redis_conn_send(&c, &b, e) != 0 ||
        transfer_wait_line(&c, "the reply to PSYNC (+FULLRESYNC)", t0, &b, e) != 0)
        goto out;
    if (b.data[0] == '-') {
        redis_reply_err(&c, "PSYNC", b.data + 1, e);
        goto out;
    }
    char replid[64];
    long long offset;
    if (sscanf(b.data, "+FULLRESYNC %63s %lld", replid, &offset) != 2) {
        cf_err_set(e, CF_E_SOURCE, "redis at %s answered PSYNC with '%.60s', not +FULLRESYNC",
                   r->addr, b.data);
        goto out;
    }
    json_object_set_new(info, "replid", json_string(replid));
    json_object_set_new(info, "repl_offset", json_integer(offset));

    if (transfer_wait_line(&c, "the RDB to begin ($<length> or $EOF:<mark>)", t0, &b, e) != 0)
        goto out;
    uint64_t waited = time_mono_ms() - t0;
    json_object_set_new(info, "transfer_wait_ms", json_integer((json_int_t)waited));
    c.awaiting = NULL;
    if (b.data[0] == '-') {
        cf_err_set(e, CF_E_SOURCE, "redis at %s failed to produce the RDB: %s", r->addr, b.data + 1);
        goto out;
    }
    if (strncmp(b.data, "$EOF:", 5) == 0 && b.len == 45) {
        eofmark = true;
        memcpy(mark, b.data + 5, 40);
    } else if (b.data[0] == '$') {
        len = strtoull(b.data + 1, NULL, 10);
    } else {
        cf_err_set(e, CF_E_SOURCE, "redis at %s: unexpected reply '%.40s' where the RDB begins",
                   r->addr, b.data);
        goto out;
    }

    if (source_out_part(out, PART_RDB, e) != 0 || src_reader_flush(&c.rd, e) != 0)
        goto out;
    uint64_t start = c.rd.consumed;
    c.rd.what = "RDB from redis";
    c.rd.sink = out_sink;
    c.rd.sink_ctx = out;
    if (!eofmark)
        c.rd.limit = c.rd.nread - src_reader_avail(&c.rd) + len;
    if (rdb_check(&c.rd, &s, NULL, NULL, e) != 0) {
        if (c.rd.eof)
            cf_err_ctx(e, "redis at %s closed the connection after %" PRIu64
                          " bytes of the RDB (server restarted or stopped?)", r->addr,
                       c.rd.consumed - start);
        goto out;
    }
    c.rd.sink = NULL;
    s.bytes = c.rd.consumed - start;
    if (eofmark) {
        char got[40];
        if (src_reader_get(&c.rd, got, 40, "end mark", e) != 0)
            goto out;
        if (memcmp(got, mark, 40) != 0) {
            cf_err_set(e, CF_E_CORRUPT, "redis at %s: the RDB is not followed by its end mark",
                       r->addr);
            goto out;
        }
    } else if (s.bytes != len) {
        cf_err_set(e, CF_E_CORRUPT, "redis at %s announced %" PRIu64 " RDB bytes but the RDB ends after %" PRIu64,
                   r->addr, len, s.bytes);
        goto out;
    }
    json_object_set_new(info, "rdb_version", json_integer(s.version));
    json_object_set_new(info, "rdb_bytes", json_integer((json_int_t)s.bytes));
    json_object_set_new(info, "keys", json_integer((json_int_t)s.keys));
    json_object_set_new(info, "keys_with_ttl", json_integer((json_int_t)s.keys_with_ttl));
    json_t *dbs = json_object();
    for (int i = 0; i < RDB_MAX_DBS; i++)
        if (s.db_keys[i]) {
            char k[16];
            snprintf(k, sizeof(k), "%d", i);
            json_object_set_new(dbs, k, json_integer((json_int_t)s.db_keys[i]));
        }
    json_object_set_new(info, "db_keys", dbs);
    log_info("backup part source=%s rdb_version=%d keys=%" PRIu64 " bytes=%" PRIu64
             " repl_offset=%lld transfer=%s transfer_wait_ms=%" PRIu64, r->set->name, s.version,
             s.keys, s.bytes, offset, eofmark ? "diskless" : "disk", waited);
    rc = 0;
out:
    redis_conn_close(&c);
    buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * restore
 * ---------------------------------------------------------------------------------------- */

static int redis_plan_check(const struct restore_opts *o, struct cf_err *e)
{
    if (o->to_dir || o->into_db || o->database || o->globals || o->clean || o->jobs > 1)
        return cf_err_set(e, CF_E_USAGE, "a redis source takes --to-file FILE or --into-redis ADDR "
                                         "(and --force), not --to, --into-db, --database, "
                                         "--globals, --clean or --jobs");
    if ((o->to_file != NULL) == (o->into_redis != NULL))
        return cf_err_set(e, CF_E_USAGE, "give one of --to-file dump.rdb (for a stopped server) "
                                         "or --into-redis ADDR (a running scratch server)");
    if (o->to_file)
        return src_outfile_check(o->to_file, o->force, e);
    return 0;
}

/* connect to the scratch server: without AUTH first, with the source's credentials when it
 * asks for them */
static int scratch_connect(struct rds *r, const char *addr, struct redis_conn *c, struct buf *info,
                           struct cf_err *e)
{
    const char *cmd[] = { "INFO", "keyspace" };
    if (redis_conn_open(c, addr, NULL, e) != 0)   /* a scratch server: local, plain */
        return -1;
    struct cf_err first = CF_ERR_INIT;
    if (redis_conn_call(c, 2, cmd, info, &first) == 0)
        return 0;
    if (first.code != CF_E_AUTH || r->set->password == NULL) {
        cf_err_keep(e, &first);
        return -1;
    }
    if (redis_conn_auth(c, r->set->user, r->set->password, e) != 0 ||
        redis_conn_call(c, 2, cmd, info, e) != 0)
        return -1;
    return 0;
}

static int redis_plan(void *priv, const struct restore_opts *o, json_t *info, struct buf *lines,
                      struct cf_err *e)
{
    struct rds *r = priv;
    struct redis_conn c = { .fd = -1 };
    struct buf b = BUF_INIT;
    uint64_t per[RDB_MAX_DBS];
    int rc = -1;

    if (redis_plan_check(o, e) != 0)
        return -1;
    buf_printf(lines, "  server   Redis %s, RDB version %lld, %lld keys, replication offset %lld\n",
               json_string_value(json_object_get(info, "redis_version")),
               (long long)json_integer_value(json_object_get(info, "rdb_version")),
               (long long)json_integer_value(json_object_get(info, "keys")),
               (long long)json_integer_value(json_object_get(info, "repl_offset")));
    if (o->to_file) {
        buf_printf(lines, "  write    the RDB to %s\n", o->to_file);
        buf_printf(lines,
                   "  then     stop the server, put the file where 'dir' and 'dbfilename' point, "
                   "start it (appendonly no, or it loads the AOF instead)\n");
        return 0;
    }
    if (scratch_connect(r, o->into_redis, &c, &b, e) != 0)
        goto out;
    uint64_t have = redis_info_keys(b.data, per);
    if (have > 0 && !o->force) {
        cf_err_set(e, CF_E_EXISTS,
                   "redis at %s holds %" PRIu64 " keys: --into-redis loads into an empty scratch server. HINT: empty it (FLUSHALL), or add --force to overwrite keys of the same names",
                   o->into_redis, have);
        goto out;
    }
    buf_printf(lines, "  load     every key (RESTORE, TTLs kept) into redis at %s (%s), then compare "
               "key counts\n", o->into_redis,
               have ? "not empty: keys of the same name are replaced (--force)" : "empty");
    rc = 0;
out:
    redis_conn_close(&c);
    buf_free(&b);
    return rc;
}

struct loader {
    struct redis_conn *c;
    struct buf cmds;
    unsigned pending;
    int rdb_version;
    unsigned cur_db;
    bool force;
    uint64_t restored, expired;
    uint64_t per_db[RDB_MAX_DBS];
    struct buf reply;
};

static int loader_flush(struct loader *l, struct cf_err *e)
{
    if (l->cmds.len && redis_conn_send(l->c, &l->cmds, e) != 0)
        return -1;
    buf_reset(&l->cmds);
    for (; l->pending > 0; l->pending--) {
        char t;
        if (redis_resp_reply(l->c, &t, &l->reply, e) != 0)
            return -1;
        if (t == '-')
            return cf_err_set(e, CF_E_SOURCE, "redis at %s refused a key: %s", l->c->addr,
                              l->reply.data);
    }
    return 0;
}

static int load_key(void *ctx, unsigned db, const char *key, size_t key_len, int64_t expire_ms,
                    const unsigned char *payload, size_t len, struct cf_err *e)
{
    struct loader *l = ctx;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (expire_ms && expire_ms <= (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000) {
        l->expired++;
        return 0;
    }
    if (db != l->cur_db) {
        char n[16];
        snprintf(n, sizeof(n), "%u", db);
        const char *argv[] = { "SELECT", n };
        redis_resp_cmd(&l->cmds, 2, argv, NULL);
        l->pending++;
        l->cur_db = db;
    }
    /* DUMP format: value, RDB version (2 bytes LE), CRC64 of both (8 bytes LE) */
    struct buf p = BUF_INIT;
    unsigned char trailer[10];
    buf_append(&p, payload, len);
    trailer[0] = (unsigned char)(l->rdb_version & 0xff);
    trailer[1] = (unsigned char)(l->rdb_version >> 8);
    buf_append(&p, trailer, 2);
    uint64_t crc = src_crc64(0, p.data, p.len);
    for (int i = 0; i < 8; i++)
        trailer[i] = (unsigned char)(crc >> (8 * i));
    buf_append(&p, trailer, 8);
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%" PRId64, expire_ms);
    const char *argv[6] = { "RESTORE", key, ttl, p.data };
    size_t lens[6] = { 7, key_len, strlen(ttl), p.len };
    int argc = 4;
    if (expire_ms) {   /* the absolute expiry time the snapshot holds */
        argv[argc] = "ABSTTL";
        lens[argc++] = 6;
    }
    if (l->force) {
        argv[argc] = "REPLACE";
        lens[argc++] = 7;
    }
    redis_resp_cmd(&l->cmds, argc, argv, lens);
    buf_free(&p);
    l->pending++;
    l->restored++;
    l->per_db[db]++;
    if (l->pending >= 512 || l->cmds.len >= 4 * 1024 * 1024)
        return loader_flush(l, e);
    return 0;
}

static int redis_import(void *priv, struct source_in *in, const struct restore_opts *o,
                        json_t *info, struct cf_err *e)
{
    struct rds *r = priv;
    struct redis_conn c = { .fd = -1 };
    struct src_reader rd;
    struct rdb_summary s;
    struct buf b = BUF_INIT;
    struct loader l;
    const char *part;
    uint64_t before[RDB_MAX_DBS], after[RDB_MAX_DBS];
    int rc = -1, k;

    memset(&l, 0, sizeof(l));
    src_reader_init_fn(&rd, src_in_read_fn, in, "RDB part", NULL, NULL);
    if (redis_plan_check(o, e) != 0)
        return -1;
    while ((k = source_in_next_part(in, &part, e)) == 1 && strcmp(part, PART_RDB) != 0)
        ;
    if (k < 0)
        goto out;
    if (k == 0) {
        cf_err_set(e, CF_E_CORRUPT, "the backup holds no RDB part");
        goto out;
    }
    if (o->to_file) {
        if (dump_part_to_file(in, DUMP_RDB, o->to_file, o->force, e) != 0)
            goto out;
        log_info("restore rdb source=%s file=%s", r->set->name, o->to_file);
        rc = 0;
        goto out;
    }

    if (scratch_connect(r, o->into_redis, &c, &b, e) != 0)
        goto out;
    uint64_t have = redis_info_keys(b.data, before);
    if (have > 0 && !o->force) {
        cf_err_set(e, CF_E_EXISTS, "redis at %s holds %" PRIu64 " keys. HINT: FLUSHALL it, or --force",
                   o->into_redis, have);
        goto out;
    }
    l.c = &c;
    l.force = o->force;
    l.rdb_version = (int)json_integer_value(json_object_get(info, "rdb_version"));
    if (l.rdb_version == 0) {
        cf_err_set(e, CF_E_CORRUPT, "the manifest records no RDB version");
        goto out;
    }
    const char *sel[] = { "SELECT", "0" };
    if (redis_conn_call(&c, 2, sel, NULL, e) != 0)
        goto out;
    if (rdb_check(&rd, &s, load_key, &l, e) != 0 || loader_flush(&l, e) != 0)
        goto out;
    /* check: every key of the snapshot is there (less those whose TTL ran out meanwhile) */
    const char *cmd[] = { "INFO", "keyspace" };
    if (redis_conn_call(&c, 2, cmd, &b, e) != 0)
        goto out;
    redis_info_keys(b.data, after);
    uint64_t want = (uint64_t)json_integer_value(json_object_get(info, "keys"));
    if (s.keys != want) {
        cf_err_set(e, CF_E_CORRUPT, "the RDB holds %" PRIu64 " keys but the manifest says %" PRIu64,
                   s.keys, want);
        goto out;
    }
    for (int i = 0; i < RDB_MAX_DBS; i++) {
        /* an empty server must now hold exactly the keys loaded, less keys whose TTL ran out
         * since; over --force, at least those */
        bool ok = after[i] >= l.per_db[i] ? have > 0 || after[i] == l.per_db[i]
                                          : l.per_db[i] - after[i] <= s.keys_with_ttl;
        if (!ok) {
            cf_err_set(e, CF_E_SOURCE, "redis at %s: database %d holds %" PRIu64 " keys after the load, expected %" PRIu64,
                       o->into_redis, i, after[i], l.per_db[i]);
            goto out;
        }
    }
    log_info("restore rdb source=%s into=%s keys=%" PRIu64 " expired_skipped=%" PRIu64, r->set->name,
             o->into_redis, l.restored, l.expired);
    rc = 0;
out:
    src_reader_free(&rd);
    redis_conn_close(&c);
    buf_free(&b);
    buf_free(&l.cmds);
    buf_free(&l.reply);
    return rc;
}

/* check step: the server accepts the connection and the credentials, and answers PING */
static void redis_check(void *priv, const struct ini_section *sec, struct conf_report *r)
{
    struct rds *rd = priv;
    struct cf_err e = CF_ERR_INIT;
    struct redis_conn c;
    const char *ping[] = { "PING" };

    if (r->offline)
        return;
    if (redis_conn_open(&c, rd->addr, &rd->tls, &e) != 0) {
        conf_report_add(r, sec, NULL, &e);
        redis_conn_close(&c);   /* a failed open still owns what it allocated */
        return;
    }
    if (redis_conn_auth(&c, rd->set->user, rd->set->password, &e) != 0 ||
        redis_conn_call(&c, 1, ping, NULL, &e) != 0)
        conf_report_add(r, sec, NULL, &e);
    redis_conn_close(&c);
}

const struct source_ops src_redis_ops = {
    .name = "redis",
    .keys = redis_keys,
    .open = redis_open,
    .close = redis_close,
    .export = redis_export,
    .import = redis_import,
    .plan = redis_plan,
    .check = redis_check,
};
