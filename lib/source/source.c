/* source.c - the registry of source kinds and the shared opening of a [source] section. */
#include "source.h"

#include <string.h>

#include "source_io.h"
#include "../config/conf_check.h"

extern const struct source_ops src_volume_ops;
#ifdef COFFER_HAVE_DB
extern const struct source_ops src_postgres_ops;
extern const struct source_ops src_mariadb_ops;
extern const struct source_ops src_redis_ops;
#endif

static const struct source_ops *const drivers[] = {
    &src_volume_ops,
#ifdef COFFER_HAVE_DB
    &src_postgres_ops,
    &src_mariadb_ops,
    &src_redis_ops,
#endif
    NULL,
};

/* the keys of [source] read here; the others belong to the kind's driver (ops->keys) and to
 * the owners the validation step names (stream, policies, migrate) */
static const char *const source_common_keys[] = { "type", NULL };

const struct source_ops *source_driver_find(const char *name)
{
    for (size_t i = 0; drivers[i]; i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

/* the driver named by @sec's type */
static int source_driver_of(const struct ini_section *sec, const struct source_ops **ops,
                            struct cf_err *e)
{
    const char *type;

    if (ini_require_str(sec, "type", &type, e) != 0)
        return -1;
    *ops = source_driver_find(type);
    if (*ops == NULL)
        return ini_err(sec, "type", e, "type: unknown kind '%s' (volume, postgres, mariadb, redis)",
                       type);
    return 0;
}

int source_check_keys(const struct ini_section *sec, const char *const *const *others,
                      struct cf_err *e)
{
    const struct source_ops *ops;

    if (source_driver_of(sec, &ops, e) != 0)
        return -1;
    return ini_check_keys_with(sec, source_common_keys, ops->keys, others, e);
}

int source_open(const struct ini_section *sec, struct source **out, struct cf_err *e)
{
    const struct source_ops *ops;
    struct source *s;

    if (source_driver_of(sec, &ops, e) != 0)
        return -1;
    s = cf_calloc(1, sizeof(*s));
    s->ops = ops;
    s->name = cf_strdup(sec->name);
    if (ops->open(sec, &s->priv, e) != 0) {
        free(s->name);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void source_check(const struct ini_section *sec, struct conf_report *r)
{
    struct source *s = NULL;
    struct cf_err e = CF_ERR_INIT;
    if (source_open(sec, &s, &e) != 0) {
        conf_report_add(r, sec, NULL, &e);
        return;
    }
    if (s->ops->check)
        s->ops->check(s->priv, sec, r);
    source_close(s);
}

void source_close(struct source *s)
{
    if (s == NULL)
        return;
    s->ops->close(s->priv);
    free(s->name);
    free(s);
}

int source_only_database(struct source *s, const char *db, struct cf_err *e)
{
    if (s->ops->only_database == NULL)
        return cf_err_set(e, CF_E_USAGE, "a %s source has no databases", s->ops->name);
    s->ops->only_database(s->priv, db);
    return 0;
}

const char *source_kind(const struct source *s)
{
    return s->ops->name;
}

int source_export(struct source *s, struct source_out *out, json_t *info, struct cf_err *e)
{
    return s->ops->export(s->priv, out, info, e);
}

int source_import(struct source *s, struct source_in *in, const struct restore_opts *opts,
                  json_t *info, struct cf_err *e)
{
    return s->ops->import(s->priv, in, opts, info, e);
}

int source_plan(struct source *s, const struct restore_opts *opts, json_t *info,
                struct buf *lines, struct cf_err *e)
{
    size_t had = lines->len;

    if (s->ops->plan(s->priv, opts, info, lines, e) == 0)
        return 0;
    /* lines a driver appended before a check failed are never shown */
    lines->len = had;
    if (lines->data)
        lines->data[had] = '\0';
    return -1;
}

/* --- the stream an export writes and an import reads, through its implementer's table --- */

int source_out_part(struct source_out *o, const char *name, struct cf_err *e)
{
    return o->ops->part(o, name, e);
}

int source_out_write(struct source_out *o, const void *buf, size_t len, struct cf_err *e)
{
    return o->ops->write(o, buf, len, e);
}

int source_out_seg_mark(struct source_out *o, uint32_t *n, uint64_t *off, struct cf_err *e)
{
    if (o->ops->seg_mark == NULL)
        return cf_err_set(e, CF_E_INTERNAL, "the stream is not segmented");
    return o->ops->seg_mark(o, n, off, e);
}

json_t *source_out_seg_parent(struct source_out *o)
{
    return o->ops->seg_parent ? o->ops->seg_parent(o) : NULL;
}

const char *source_out_seg_id(struct source_out *o)
{
    return o->ops->seg_id ? o->ops->seg_id(o) : "";
}

int source_out_seg_index(struct source_out *o, json_t *index, struct cf_err *e)
{
    if (o->ops->seg_index == NULL) {
        json_decref(index);
        return cf_err_set(e, CF_E_INTERNAL, "the stream is not segmented");
    }
    return o->ops->seg_index(o, index, e);
}

json_t *source_in_seg_index(struct source_in *in)
{
    return in->ops->seg_index ? in->ops->seg_index(in) : NULL;
}

int source_in_seg_open(struct source_in *in, const char *id, uint32_t n, struct cf_err *e)
{
    if (in->ops->seg_open == NULL)
        return cf_err_set(e, CF_E_INTERNAL, "the stream is not segmented");
    return in->ops->seg_open(in, id, n, e);
}

int source_in_next_part(struct source_in *in, const char **name, struct cf_err *e)
{
    return in->ops->next_part(in, name, e);
}

ssize_t source_in_read(struct source_in *in, void *buf, size_t cap, struct cf_err *e)
{
    return in->ops->read(in, buf, cap, e);
}

uint64_t source_restore_bytes(json_t *parts, const char *database, uint64_t all)
{
    size_t plen = strlen(SOURCE_PART_DB_PREFIX);

    if (database == NULL)
        return all;
    for (size_t i = 0; i < json_array_size(parts); i++) {
        json_t *p = json_array_get(parts, i);
        const char *name = json_string_value(json_object_get(p, "name"));
        if (name && strncmp(name, SOURCE_PART_DB_PREFIX, plen) == 0 &&
            strcmp(name + plen, database) == 0)
            return (uint64_t)json_integer_value(json_object_get(p, "bytes"));
    }
    return all;
}
