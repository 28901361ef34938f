/* ini.h - the INI dialect of coffer.conf, with the line of every value kept for errors.
 *
 *   ; comment            # comment
 *   [repository]         [source media]       [job nightly]
 *   key = value          key = value ; trailing comment (after whitespace)
 *
 * Keys may repeat where the owner allows it (exclude = ...). Every error names the file and
 * line: "coffer.conf:12: [source media] unknown key 'pth'". */
#ifndef CF_INI_H
#define CF_INI_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/err.h"

struct ini_kv {
    char *key;
    char *value;
    int line;
};

struct ini_section {
    const char *file;
    char *kind;     /* "repository", "source", "job", ... */
    char *name;     /* "media" in [source media]; NULL for [repository] */
    int line;
    struct ini_kv *kv;
    size_t n;
};

struct ini {
    char *file;
    struct ini_section *sec;
    size_t n;
};

int ini_parse_file(const char *path, struct ini **out, struct cf_err *e);
int ini_parse_string(const char *text, const char *file, struct ini **out, struct cf_err *e);
void ini_free(struct ini *ini);

/* the first section of @kind (and @name when not NULL), or NULL */
const struct ini_section *ini_find(const struct ini *ini, const char *kind, const char *name);

/* Error at a section or one of its keys: prefixes "file:line: [kind name] ". */
int ini_err(const struct ini_section *s, const char *key, struct cf_err *e, const char *fmt, ...)
    CF_PRINTF(4, 5);

/* Unknown keys are errors: every key of @s must be in one of the NULL-terminated lists. */
int ini_check_keys(const struct ini_section *s, const char *const *const *lists,
                   struct cf_err *e);
/* ini_check_keys_with() - as ini_check_keys over @own, @kind (a driver's keys) and each list
 * of @others (NULL-terminated, at most five; NULL: none): the keys of a section that an
 * owner, its driver and the other owners the validation step names read */
int ini_check_keys_with(const struct ini_section *s, const char *const *own,
                        const char *const *kind, const char *const *const *others,
                        struct cf_err *e);

/* Typed getters. A key given twice is an error (except through ini_get_all). Missing key:
 * the default (or NULL / -1 for required ones, with @e saying so). */
const struct ini_kv *ini_kv_find(const struct ini_section *s, const char *key);
int ini_get_str(const struct ini_section *s, const char *key, const char *def,
                const char **out, struct cf_err *e);
int ini_require_str(const struct ini_section *s, const char *key, const char **out,
                    struct cf_err *e);
int ini_get_size(const struct ini_section *s, const char *key, uint64_t def, uint64_t min,
                 uint64_t max, uint64_t *out, struct cf_err *e);
int ini_get_int(const struct ini_section *s, const char *key, long def, long min, long max,
                long *out, struct cf_err *e);
int ini_get_duration(const struct ini_section *s, const char *key, int64_t def, int64_t *out,
                     struct cf_err *e);
int ini_get_bool(const struct ini_section *s, const char *key, bool def, bool *out,
                 struct cf_err *e);
/* comma-separated values of one key, whitespace trimmed; caller frees with ini_list_free */
int ini_get_list(const struct ini_section *s, const char *key, char ***items, size_t *n,
                 struct cf_err *e);
void ini_list_free(char **items, size_t n);
/* every value of a repeatable key, in order (pointers into @s) */
size_t ini_get_all(const struct ini_section *s, const char *key, const char **out, size_t cap);

#endif
