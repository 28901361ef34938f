/* restore_binlog.h - a mariadb restore to a moment: the dump, then the archived binlog
 * events up to the moment (restore_binlog.c, docs/PITR.md "MariaDB"). */
#ifndef CF_RESTORE_BINLOG_H
#define CF_RESTORE_BINLOG_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"
#include "../lib/source/source.h"

struct binlog_replay;

/* restore_binlog_prepare() - when [source @source] archives binlogs (binlog-archive = yes)
 * and @at is a moment (not latest): check that the archive holds every event from each
 * restored database's recorded position (in @info, the dump's; @dump_time its start) up to
 * @at, fetch those files into a private directory and find the last transaction that will be
 * applied. *@out stays NULL when there is nothing to replay. A gap, or an archive that ends
 * before @at, is CF_E_NOTFOUND naming the last moment reachable; nothing is loaded yet. The
 * events go to the server of @dest, the section the dump is loaded through (the drill's
 * scratch server; NULL: [source @source]'s own); the binlog keys are [source @source]'s. */
int restore_binlog_prepare(const struct conf *c, struct repo *r, const char *source,
                           const struct ini_section *dest, json_t *info, int64_t dump_time,
                           const struct restore_opts *o, struct repo_when at,
                           struct binlog_replay **out, struct cf_err *e);
/* the plan's lines: per database, the binlog range and the last event that will be applied */
void restore_binlog_plan(const struct binlog_replay *rp, FILE *f);
/* restore_binlog_apply() - replay into the loaded databases (or append to --to-file) */
int restore_binlog_apply(const struct binlog_replay *rp, struct cf_err *e);
/* the time of the last event applied (0: none) */
int64_t restore_binlog_last_applied(const struct binlog_replay *rp);
/* removes the private directory; accepts NULL */
void restore_binlog_free(struct binlog_replay *rp);

#endif
