/* manifest.c - struct manifest to and from its JSON (docs/FORMAT.md "The manifest"). */
#include "manifest.h"

#include <string.h>

#include "../core/err.h"
#include "../core/util.h"

struct manifest *manifest_new(void)
{
    struct manifest *m = cf_calloc(1, sizeof(*m));
    m->format = MANIFEST_FORMAT;
    m->objects_listed = true;
    return m;
}

void manifest_free(struct manifest *m)
{
    if (m == NULL)
        return;
    free(m->objects);
    json_decref(m->parts);
    json_decref(m->consistency);
    json_decref(m->info);
    json_decref(m->refs);
    free(m);
}

void manifest_object_add(struct manifest *m, uint32_t n, uint64_t size, const char *hex)
{
    m->objects = cf_realloc(m->objects, (m->nobjects + 1) * sizeof(*m->objects));
    struct manifest_object *o = &m->objects[m->nobjects++];
    o->n = n;
    o->size = size;
    snprintf(o->blake2b, sizeof(o->blake2b), "%s", hex ? hex : "");
    m->objects_listed = true;
}

static json_t *objects_json(const struct manifest *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->nobjects; i++)
        json_array_append_new(a, json_pack("{s:i,s:I,s:s}", "n", (int)m->objects[i].n, "size",
                                           (json_int_t)m->objects[i].size, "blake2b",
                                           m->objects[i].blake2b));
    return a;
}

static json_t *parent_json(const struct manifest *m)
{
    if (!m->has_parent)
        return json_null();
    return json_pack("{s:s,s:s}", "source", m->parent.source, "id", m->parent.id);
}

static json_t *or_empty(json_t *v, json_t *(*make)(void))
{
    return v ? json_incref(v) : make();
}

/* the fields of format 3 into @j */
static void seg_fields(const struct manifest *m, json_t *j)
{
    if (j == NULL || m->format != MANIFEST_FORMAT_SEG)
        return;
    json_object_set_new(j, "chain", json_integer(m->chain));
    json_object_set_new(j, "index", json_pack("{s:I,s:s}", "size", (json_int_t)m->index_size,
                                              "blake2b", m->index_blake2b));
    json_object_set_new(j, "refs", or_empty(m->refs, json_array));
    json_object_set_new(j, "bytes_referenced", json_integer((json_int_t)m->bytes_referenced));
}

json_t *manifest_to_json(const struct manifest *m)
{
    char started[32], finished[32];
    json_t *j;

    time_format_rfc3339(m->started, started, sizeof(started));
    time_format_rfc3339(m->finished, finished, sizeof(finished));
    j = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:I,s:I,s:{s:s,s:i},s:I,s:o,"
                     "s:o,s:o,s:o}",
                     "format", m->format, "id", m->id, "source", m->source, "kind", m->kind,
                     "job", m->job[0] ? json_string(m->job) : json_null(), "host", m->host,
                     "tool", m->tool, "started", started, "finished", finished, "bytes_in",
                     (json_int_t)m->bytes_in, "bytes_stored", (json_int_t)m->bytes_stored,
                     "compression", "algorithm", m->compression, "level",
                     m->compression_level, "object_size", (json_int_t)m->object_size,
                     "objects", objects_json(m), "parts", or_empty(m->parts, json_array),
                     "info", or_empty(m->info, json_object), "parent", parent_json(m));
    seg_fields(m, j);
    return j;
}

/* a time in a manifest: RFC 3339 text or Unix seconds */
static time_t json_time(const json_t *v)
{
    time_t t = 0;
    if (json_is_integer(v))
        return (time_t)json_integer_value(v);
    if (json_is_string(v) && time_parse_rfc3339(json_string_value(v), &t, NULL) == 0)
        return t;
    return 0;
}

static uint64_t json_u64(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void json_str(const json_t *o, const char *k1, const char *k2, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, k1);
    if (!json_is_string(v) && k2)
        v = json_object_get(o, k2);
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
}

static void objects_from_json(const json_t *v, struct manifest *m)
{
    size_t i;
    const json_t *o;

    m->objects_listed = json_is_array(v);
    if (!m->objects_listed) {
        m->nobjects = json_u64(v);
        return;
    }
    m->objects = cf_calloc(json_array_size(v) + 1, sizeof(*m->objects));
    json_array_foreach(v, i, o) {
        struct manifest_object *mo = &m->objects[i];
        json_int_t n = json_integer_value(json_object_get(o, "n"));
        mo->n = n >= 0 && n <= UINT32_MAX ? (uint32_t)n : UINT32_MAX;
        mo->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
        json_str(o, "blake2b", NULL, mo->blake2b, sizeof(mo->blake2b));
    }
    m->nobjects = json_array_size(v);
}

int manifest_from_json(const json_t *j, struct manifest **out, struct cf_err *e)
{
    struct manifest *m;
    const json_t *v, *p;

    if (!json_is_object(j))
        return cf_err_set(e, CF_E_CORRUPT, "manifest is not a JSON object");
    m = manifest_new();
    m->format = (int)json_integer_value(json_object_get(j, "format"));
    json_str(j, "id", NULL, m->id, sizeof(m->id));
    json_str(j, "source", NULL, m->source, sizeof(m->source));
    json_str(j, "kind", "type", m->kind, sizeof(m->kind));
    json_str(j, "job", NULL, m->job, sizeof(m->job));
    json_str(j, "host", NULL, m->host, sizeof(m->host));
    json_str(j, "tool", "tool_version", m->tool, sizeof(m->tool));
    m->started = json_time(json_object_get(j, "started"));
    m->finished = json_time(json_object_get(j, "finished"));
    m->bytes_in = json_u64(json_object_get(j, "bytes_in"));
    m->bytes_stored = json_u64(json_object_get(j, "bytes_stored"));
    v = json_object_get(j, "compression");
    json_str(v, "algorithm", NULL, m->compression, sizeof(m->compression));
    m->compression_level = (int)json_integer_value(json_object_get(v, "level"));
    m->object_size = json_u64(json_object_get(j, "object_size"));
    objects_from_json(json_object_get(j, "objects"), m);
    if ((v = json_object_get(j, "parts")) != NULL)
        m->parts = json_incref((json_t *)v);
    if ((v = json_object_get(j, "info")) != NULL)
        m->info = json_incref((json_t *)v);
    /* the pipeline keeps it under "info" (what the source reported) */
    v = json_object_get(j, "consistency");
    if (v == NULL)
        v = json_object_get(m->info, "consistency");
    if (v != NULL && !json_is_null(v))
        m->consistency = json_incref((json_t *)v);
    p = json_object_get(j, "parent");
    if (json_is_object(p)) {
        m->has_parent = true;
        json_str(p, "source", NULL, m->parent.source, sizeof(m->parent.source));
        json_str(p, "id", NULL, m->parent.id, sizeof(m->parent.id));
    }
    m->chain = (long)json_integer_value(json_object_get(j, "chain"));
    v = json_object_get(j, "index");
    m->index_size = json_u64(json_object_get(v, "size"));
    json_str(v, "blake2b", NULL, m->index_blake2b, sizeof(m->index_blake2b));
    if (json_is_array(v = json_object_get(j, "refs")))
        m->refs = json_incref((json_t *)v);
    m->bytes_referenced = json_u64(json_object_get(j, "bytes_referenced"));
    *out = m;
    return 0;
}

json_t *manifest_details_json(const struct manifest *m)
{
    /* in this order: `catalog show` prints them so */
    json_t *j = json_pack("{s:s,s:o,s:o,s:{s:s,s:i},s:o,s:o}", "host", m->host, "info",
                     or_empty(m->info, json_object), "parts", or_empty(m->parts, json_array),
                     "compression", "algorithm", m->compression, "level", m->compression_level,
                     "parent", parent_json(m), "object_list", objects_json(m));
    if (j != NULL && m->format == MANIFEST_FORMAT_SEG) {
        json_object_set_new(j, "layout", json_integer(3));
        json_object_set_new(j, "chain", json_integer(m->chain));
        json_object_set_new(j, "bytes_new", json_integer((json_int_t)m->bytes_stored));
        json_object_set_new(j, "bytes_referenced",
                            json_integer((json_int_t)m->bytes_referenced));
        json_object_set_new(j, "objects_referenced",
                            json_integer((json_int_t)json_array_size(m->refs)));
    }
    return j;
}
