/* redis_conn.h - a small RESP client for the Redis source (src_redis.c): a connection over a
 * Unix socket or TCP, with TLS when asked, its replies read through a src_reader (so that the
 * RDB which follows a PSYNC is parsed and forwarded by the same reader), commands, AUTH and
 * the error replies turned into messages; and the fields of INFO. */
#ifndef CF_REDIS_CONN_H
#define CF_REDIS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "../core/buf.h"
#include "../core/err.h"
#include "chk.h"
#include "reader.h"

#define REDIS_IO_TIMEOUT_S 120

/* TLS to the source server (`tls = yes`): the server's certificate is always verified (CA
 * file, or the system's), and its name when one is known */
struct redis_tls {
    bool on;
    char *ca, *cert, *key;
    char *name;        /* tls-server-name, else the host */
};

struct redis_conn {
    int fd;
    char *addr;
    struct src_reader rd;
    SSL_CTX *ctx;      /* TLS, or NULL */
    SSL *ssl;
    const char *awaiting;   /* what a read waits for, for the timeout message (or NULL) */
    const char *user;       /* the ACL user after AUTH (NULL: default), for messages */
};

/* connect to @addr ("/path.sock" or "host:port"), with TLS when @tls is set and on; reads
 * and writes time out after REDIS_IO_TIMEOUT_S */
int redis_conn_open(struct redis_conn *c, const char *addr, const struct redis_tls *tls,
                    struct cf_err *e);
/* close @c and free what it holds: needed after a failed open too; safe on a connection
 * initialised { .fd = -1 } and twice */
void redis_conn_close(struct redis_conn *c);
/* append one command (array of bulk strings) to @out */
void redis_resp_cmd(struct buf *out, int argc, const char *const argv[], const size_t lens[]);
/* send the whole of @b */
int redis_conn_send(struct redis_conn *c, const struct buf *b, struct cf_err *e);
/* one line without its CRLF into @line */
int redis_resp_line(struct redis_conn *c, struct buf *line, struct cf_err *e);
/* one reply: its first byte in *@type, the line or bulk body in @out (arrays are skipped) */
int redis_resp_reply(struct redis_conn *c, char *type, struct buf *out, struct cf_err *e);
/* an error reply @msg (without its '-') to @cmd into @e: a missing ACL permission (NOPERM)
 * names the command to grant, refused credentials point at user and password-file */
int redis_reply_err(struct redis_conn *c, const char *cmd, const char *msg, struct cf_err *e);
/* run a command and expect a non-error reply; the reply body goes to @out (may be NULL) */
int redis_conn_call(struct redis_conn *c, int argc, const char *const argv[], struct buf *out,
                    struct cf_err *e);
/* AUTH as @user (NULL: the default user) with @password; nothing without a password */
int redis_conn_auth(struct redis_conn *c, const char *user, const char *password,
                    struct cf_err *e);
/* "key:value" lines of an INFO section */
bool redis_info_field(const char *info, const char *key, char *out, size_t cap);
/* keys per database from INFO keyspace ("db0:keys=3,expires=1,..."); returns the total */
uint64_t redis_info_keys(const char *info, uint64_t per_db[RDB_MAX_DBS]);

#endif
