/* dbparts.h - restore plumbing shared by the database sources: the databases of a backup (its
 * "db:<name>" parts, listed in info.databases), which a restore takes, and where each goes. */
#ifndef CF_DBPARTS_H
#define CF_DBPARTS_H

#include <stdbool.h>

#include <jansson.h>

#include "../core/err.h"
#include "source.h"

/* Database parts are named "db:<name>"; info.databases lists them as {"name": ...}. */
#define SRC_PART_DB_PREFIX SOURCE_PART_DB_PREFIX

/* src_info_db_name() - the name of entry @i of info.databases, NULL past the end */
const char *src_info_db_name(json_t *info, size_t i);
/* src_select_db() - the database a restore takes: @want when given (it must be in the
 * backup: CF_E_NOTFOUND listing what is there), else the only one when @one_needed and the
 * backup holds one, else NULL (all). @what ("--to-file") names the option needing one: with
 * several databases and none chosen, a CF_E_USAGE error asks for --database. */
int src_select_db(json_t *info, const char *want, bool one_needed, const char *what,
                  const char **out, struct cf_err *e);
/* src_dest_db() - the database that database @orig of the backup is restored into: the name
 * --into-db gives, or @orig itself when --into-db is absent or the word SAME (one meaning for
 * every database kind) */
const char *src_dest_db(const struct restore_opts *o, const char *orig);
/* src_into_named() - whether --into-db names one database (given, and not SAME) */
bool src_into_named(const struct restore_opts *o);
/* src_plan_db_size() - "; 12.0 MB of the backup's dump" for the plan line of database @name
 * (the bytes of its part, as the manifest records them: the plan's size line counts every
 * database), or "" when the manifest does not know them. Freshly allocated. */
char *src_plan_db_size(json_t *info, const char *name);
/* src_in_next_db() - move to the next part of @in: 1 with *@db set to the database of a
 * "db:<name>" part (freshly allocated) or NULL for any other part (named *@part), 0 after the
 * last part, -1 on error */
int src_in_next_db(struct source_in *in, const char **part, char **db, struct cf_err *e);

#endif
