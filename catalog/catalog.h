/* catalog.h - what the repository holds: list, show, verify. */
#ifndef CF_CATALOG_H
#define CF_CATALOG_H

#include <stdbool.h>

#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"

struct catalog_opts {
    const char *source;   /* --source: only this one */
    bool json;            /* --json */
    bool all;             /* verify --all */
};

/* Each returns an exit code: 0, 1 (failed, or damage found), 2 (usage). */
int catalog_list(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o);
int catalog_show(const struct conf *c, const struct repo_unlock *u, const char *id,
                 const struct catalog_opts *o);
int catalog_verify(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o);

#endif
