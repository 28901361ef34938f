/* src_redis.c - placeholder until the RDB source lands (same branch, next commit). */
#include "source.h"

static const char *const redis_keys[] = { "socket", "host", "port", "user", "password-file", NULL };

static int redis_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    (void)sec;
    *priv = NULL;
    return cf_err_set(e, CF_E_CONFIG, "the redis source is not built yet");
}

static void redis_close(void *priv)
{
    (void)priv;
}

const struct source_ops src_redis_ops = {
    .name = "redis",
    .keys = redis_keys,
    .open = redis_open,
    .close = redis_close,
};
