/* repo_int.h - private to lib/repo: the target under a repository. Nothing outside lib/repo
 * reaches the target; what tools and the pipeline need has a repo_* function. */
#ifndef CF_REPO_INT_H
#define CF_REPO_INT_H

#include "../storage/target.h"
#include "repo.h"

struct target *repo_target(struct repo *r);

#endif
