#include "ini.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/util.h"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* a comment after a value starts with ';' or '#' preceded by whitespace */
static void strip_comment(char *s)
{
    for (char *p = s; *p; p++) {
        if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

int ini_parse_string(const char *text, const char *file, struct ini **out, struct cf_err *e)
{
    struct ini *ini = cf_calloc(1, sizeof(*ini));
    struct ini_section *cur = NULL;
    char *copy = cf_strdup(text), *save = NULL, *line;
    int lineno = 0;

    ini->file = cf_strdup(file);
    for (char *p = copy; p; p = save) {
        save = strchr(p, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        line = p;
        if (lineno == 1 && (unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
            (unsigned char)line[2] == 0xbf)
            line += 3;
        line = trim(line);
        if (*line == '\0' || *line == ';' || *line == '#')
            continue;
        if (*line == '[') {
            char *end = strchr(line, ']');
            if (end == NULL) {
                cf_err_set(e, CF_E_CONFIG, "%s:%d: section header without ']'", file, lineno);
                goto fail;
            }
            strip_comment(end + 1);
            if (*trim(end + 1) != '\0') {
                cf_err_set(e, CF_E_CONFIG, "%s:%d: text after the section header", file,
                           lineno);
                goto fail;
            }
            *end = '\0';
            char *inner = trim(line + 1), *sp = inner;
            while (*sp && !isspace((unsigned char)*sp))
                sp++;
            char *name = NULL;
            if (*sp) {
                *sp = '\0';
                name = trim(sp + 1);
            }
            if (!valid_name(inner) || (name && !valid_name(name))) {
                cf_err_set(e, CF_E_CONFIG,
                           "%s:%d: bad section header: names use letters, digits, '-', '_', '.'",
                           file, lineno);
                goto fail;
            }
            for (size_t i = 0; i < ini->n; i++) {
                const struct ini_section *o = &ini->sec[i];
                if (strcmp(o->kind, inner) == 0 &&
                    ((o->name == NULL && name == NULL) ||
                     (o->name && name && strcmp(o->name, name) == 0))) {
                    cf_err_set(e, CF_E_CONFIG, "%s:%d: section [%s%s%s] already defined at line %d",
                               file, lineno, inner, name ? " " : "", name ? name : "", o->line);
                    goto fail;
                }
            }
            ini->sec = cf_realloc(ini->sec, (ini->n + 1) * sizeof(*ini->sec));
            cur = &ini->sec[ini->n++];
            memset(cur, 0, sizeof(*cur));
            cur->file = ini->file;
            cur->kind = cf_strdup(inner);
            cur->name = name ? cf_strdup(name) : NULL;
            cur->line = lineno;
            continue;
        }
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            cf_err_set(e, CF_E_CONFIG, "%s:%d: expected 'key = value'", file, lineno);
            goto fail;
        }
        if (cur == NULL) {
            cf_err_set(e, CF_E_CONFIG, "%s:%d: 'key = value' before any [section]", file, lineno);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(line), *value = eq + 1;
        strip_comment(value);
        value = trim(value);
        if (!valid_name(key)) {
            cf_err_set(e, CF_E_CONFIG, "%s:%d: bad key name '%s'", file, lineno, key);
            goto fail;
        }
        cur->kv = cf_realloc(cur->kv, (cur->n + 1) * sizeof(*cur->kv));
        cur->kv[cur->n].key = cf_strdup(key);
        cur->kv[cur->n].value = cf_strdup(value);
        cur->kv[cur->n].line = lineno;
        cur->n++;
    }
    free(copy);
    *out = ini;
    return 0;
fail:
    free(copy);
    ini_free(ini);
    return -1;
}

int ini_parse_file(const char *path, struct ini **out, struct cf_err *e)
{
    struct buf b = BUF_INIT;
    int rc;

    if (fs_read_file(path, 4 << 20, &b, e) != 0) {
        buf_free(&b);
        cf_err_ctx(e, "unable to read configuration");
        e->code = CF_E_CONFIG;
        return -1;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        buf_free(&b);
        return cf_err_set(e, CF_E_CONFIG, "%s: not a text file", path);
    }
    rc = ini_parse_string(b.data, path, out, e);
    buf_free(&b);
    return rc;
}

void ini_free(struct ini *ini)
{
    if (ini == NULL)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        struct ini_section *s = &ini->sec[i];
        for (size_t j = 0; j < s->n; j++) {
            free(s->kv[j].key);
            free(s->kv[j].value);
        }
        free(s->kv);
        free(s->kind);
        free(s->name);
    }
    free(ini->sec);
    free(ini->file);
    free(ini);
}

const struct ini_section *ini_find(const struct ini *ini, const char *kind, const char *name)
{
    for (size_t i = 0; i < ini->n; i++) {
        const struct ini_section *s = &ini->sec[i];
        if (strcmp(s->kind, kind) == 0 &&
            (name == NULL || (s->name != NULL && strcmp(s->name, name) == 0)))
            return s;
    }
    return NULL;
}

int ini_err(const struct ini_section *s, const char *key, struct cf_err *e, const char *fmt, ...)
{
    char msg[768];
    const struct ini_kv *kv = key ? ini_kv_find(s, key) : NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cf_err_set(e, CF_E_CONFIG, "%s:%d: [%s%s%s] %s", s->file, kv ? kv->line : s->line,
                      s->kind, s->name ? " " : "", s->name ? s->name : "", msg);
}

int ini_check_keys(const struct ini_section *s, const char *const *const *lists, struct cf_err *e)
{
    for (size_t i = 0; i < s->n; i++) {
        bool ok = false;
        for (size_t l = 0; lists[l] && !ok; l++)
            for (size_t k = 0; lists[l][k] && !ok; k++)
                ok = strcmp(lists[l][k], s->kv[i].key) == 0;
        if (!ok)
            return cf_err_set(e, CF_E_CONFIG, "%s:%d: [%s%s%s] unknown key '%s'", s->file,
                              s->kv[i].line, s->kind, s->name ? " " : "", s->name ? s->name : "",
                              s->kv[i].key);
    }
    return 0;
}

int ini_check_keys_with(const struct ini_section *s, const char *const *own,
                        const char *const *kind, const char *const *const *others,
                        struct cf_err *e)
{
    const char *const *lists[8] = { own };
    size_t n = 1;

    if (kind != NULL)
        lists[n++] = kind;
    for (size_t i = 0; others && others[i]; i++) {
        CF_ASSERT(n < 7);
        lists[n++] = others[i];
    }
    return ini_check_keys(s, lists, e);
}

const struct ini_kv *ini_kv_find(const struct ini_section *s, const char *key)
{
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0)
            return &s->kv[i];
    return NULL;
}

/* the single value of @key; a second occurrence is an error */
static int get_one(const struct ini_section *s, const char *key, const struct ini_kv **out,
                   struct cf_err *e)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->kv[i].key, key) != 0)
            continue;
        if (*out != NULL)
            return cf_err_set(e, CF_E_CONFIG, "%s:%d: [%s%s%s] '%s' given twice (first at line %d)",
                              s->file, s->kv[i].line, s->kind, s->name ? " " : "",
                              s->name ? s->name : "", key, (*out)->line);
        *out = &s->kv[i];
    }
    return 0;
}

static int kv_err(const struct ini_section *s, const struct ini_kv *kv, struct cf_err *e,
                  const char *what)
{
    return cf_err_set(e, CF_E_CONFIG, "%s:%d: [%s%s%s] %s: '%s' is not %s", s->file, kv->line,
                      s->kind, s->name ? " " : "", s->name ? s->name : "", kv->key, kv->value, what);
}

int ini_get_str(const struct ini_section *s, const char *key, const char *def, const char **out,
                struct cf_err *e)
{
    const struct ini_kv *kv;
    if (get_one(s, key, &kv, e) != 0)
        return -1;
    if (kv && kv->value[0] == '\0')
        return ini_err(s, key, e, "%s: empty value", key);
    *out = kv ? kv->value : def;
    return 0;
}

int ini_require_str(const struct ini_section *s, const char *key, const char **out,
                    struct cf_err *e)
{
    if (ini_get_str(s, key, NULL, out, e) != 0)
        return -1;
    if (*out == NULL)
        return ini_err(s, NULL, e, "missing required key '%s'", key);
    return 0;
}

int ini_get_size(const struct ini_section *s, const char *key, uint64_t def, uint64_t min,
                 uint64_t max, uint64_t *out, struct cf_err *e)
{
    const struct ini_kv *kv;
    uint64_t v;
    char what[160], lo[32], hi[32];

    if (get_one(s, key, &kv, e) != 0)
        return -1;
    if (kv == NULL) {
        *out = def;
        return 0;
    }
    format_bytes(min, lo, sizeof(lo));
    format_bytes(max, hi, sizeof(hi));
    snprintf(what, sizeof(what), "a size from %s to %s (such as 64MiB)", lo, hi);
    if (parse_size(kv->value, &v) != 0 || v < min || v > max)
        return kv_err(s, kv, e, what);
    *out = v;
    return 0;
}

int ini_get_int(const struct ini_section *s, const char *key, long def, long min, long max,
                long *out, struct cf_err *e)
{
    const struct ini_kv *kv;
    char *end, what[96];

    if (get_one(s, key, &kv, e) != 0)
        return -1;
    if (kv == NULL) {
        *out = def;
        return 0;
    }
    long v = strtol(kv->value, &end, 10);
    snprintf(what, sizeof(what), "a whole number from %ld to %ld", min, max);
    if (end == kv->value || *end != '\0' || v < min || v > max)
        return kv_err(s, kv, e, what);
    *out = v;
    return 0;
}

int ini_get_duration(const struct ini_section *s, const char *key, int64_t def, int64_t *out,
                     struct cf_err *e)
{
    const struct ini_kv *kv;
    if (get_one(s, key, &kv, e) != 0)
        return -1;
    if (kv == NULL) {
        *out = def;
        return 0;
    }
    if (parse_duration(kv->value, out) != 0)
        return kv_err(s, kv, e, "a duration (such as 90s, 30m, 26h, 2d, 1w)");
    return 0;
}

int ini_get_bool(const struct ini_section *s, const char *key, bool def, bool *out,
                 struct cf_err *e)
{
    const struct ini_kv *kv;
    if (get_one(s, key, &kv, e) != 0)
        return -1;
    if (kv == NULL) {
        *out = def;
        return 0;
    }
    if (!strcmp(kv->value, "yes") || !strcmp(kv->value, "true") || !strcmp(kv->value, "on") ||
        !strcmp(kv->value, "1"))
        *out = true;
    else if (!strcmp(kv->value, "no") || !strcmp(kv->value, "false") ||
             !strcmp(kv->value, "off") || !strcmp(kv->value, "0"))
        *out = false;
    else
        return kv_err(s, kv, e, "yes or no");
    return 0;
}

int ini_get_list(const struct ini_section *s, const char *key, char ***items, size_t *n,
                 struct cf_err *e)
{
    const char *v;
    *items = NULL;
    *n = 0;
    if (ini_get_str(s, key, NULL, &v, e) != 0)
        return -1;
    if (v == NULL)
        return 0;
    char *copy = cf_strdup(v), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *t = trim(tok);
        if (*t == '\0')
            continue;
        *items = cf_realloc(*items, (*n + 1) * sizeof(**items));
        (*items)[(*n)++] = cf_strdup(t);
    }
    free(copy);
    if (*n == 0)
        return ini_err(s, key, e, "%s: empty list", key);
    return 0;
}

void ini_list_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

size_t ini_get_all(const struct ini_section *s, const char *key, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->kv[i].key, key) == 0) {
            if (n < cap)
                out[n] = s->kv[i].value;
            n++;
        }
    return n;
}
