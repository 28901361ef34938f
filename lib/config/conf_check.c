#include "conf_check.h"

#include <string.h>

#include "../core/cli.h"

void conf_report_add(struct conf_report *r, const struct ini_section *s, const char *key,
                     const struct cf_err *e)
{
    const struct ini_kv *kv = key ? ini_kv_find(s, key) : NULL;
    struct conf_finding *f;
    size_t flen = strlen(s->file);

    r->f = cf_realloc(r->f, (r->n + 1) * sizeof(*r->f));
    f = &r->f[r->n++];
    f->code = e->code == CF_E_OK ? CF_E_INTERNAL : e->code;
    if (strncmp(e->msg, s->file, flen) == 0 && e->msg[flen] == ':')
        f->msg = cf_strdup(e->msg);
    else
        f->msg = cf_asprintf("%s:%d: [%s%s%s] %s", s->file, kv ? kv->line : s->line, s->kind,
                             s->name ? " " : "", s->name ? s->name : "", e->msg);
}

int conf_report_print(const struct conf_report *r, const char *file, FILE *out)
{
    size_t config = 0;
    for (size_t i = 0; i < r->n; i++) {
        fprintf(out, "%s\n", r->f[i].msg);
        if (cli_exit_for_code(r->f[i].code) == EXIT_USAGE)
            config++;
    }
    if (r->n == 0)
        return EXIT_OK;
    fprintf(out, "%s: %zu problem%s (%zu configuration or key, %zu unreachable or failed)\n",
            file, r->n, r->n == 1 ? "" : "s", config, r->n - config);
    return config ? EXIT_USAGE : EXIT_FAILED;
}

void conf_report_free(struct conf_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i].msg);
    free(r->f);
    r->f = NULL;
    r->n = 0;
}
