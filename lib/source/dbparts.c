/* dbparts.c - the databases of a backup, as parts of its stream: which a restore takes, and
 * where each goes. */
#include "dbparts.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

const char *src_info_db_name(json_t *info, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(info, "databases"), i),
                                             "name"));
}

int src_select_db(json_t *info, const char *want, bool one_needed, const char *what,
                  const char **out, struct cf_err *e)
{
    size_t n = json_array_size(json_object_get(info, "databases"));
    *out = NULL;
    if (want) {
        struct buf names = BUF_INIT;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(src_info_db_name(info, i), want) == 0) {
                *out = src_info_db_name(info, i);
                buf_free(&names);
                return 0;
            }
            buf_printf(&names, "%s%s", i ? ", " : "", src_info_db_name(info, i));
        }
        cf_err_set(e, CF_E_NOTFOUND, "the backup holds no database '%s' (it holds: %s)", want,
                   names.data ? names.data : "none");
        buf_free(&names);
        return -1;
    }
    if (!one_needed)
        return 0;
    if (n == 1) {
        *out = src_info_db_name(info, 0);
        return 0;
    }
    return cf_err_set(e, CF_E_USAGE,
                      "%s takes one database and the backup holds %zu: name it with --database DB",
                      what, n);
}

const char *src_dest_db(const struct restore_opts *o, const char *orig)
{
    return src_into_named(o) ? o->into_db : orig;
}

bool src_into_named(const struct restore_opts *o)
{
    return o->into_db != NULL && strcmp(o->into_db, "SAME") != 0;
}

char *src_plan_db_size(json_t *info, const char *name)
{
    json_t *dbs = json_object_get(info, "databases"), *bytes = NULL;
    char part[32];

    for (size_t i = 0; i < json_array_size(dbs); i++)
        if (strcmp(src_info_db_name(info, i), name) == 0)
            bytes = json_object_get(json_array_get(dbs, i), "bytes");
    if (!json_is_integer(bytes))
        return cf_strdup("");
    format_bytes((uint64_t)json_integer_value(bytes), part, sizeof(part));
    return cf_asprintf("; %s of the backup's dump", part);
}

int src_in_next_db(struct source_in *in, const char **part, char **db, struct cf_err *e)
{
    *db = NULL;
    int k = source_in_next_part(in, part, e);
    if (k == 1 && strncmp(*part, SRC_PART_DB_PREFIX, strlen(SRC_PART_DB_PREFIX)) == 0)
        *db = cf_strdup(*part + strlen(SRC_PART_DB_PREFIX));
    return k;
}
