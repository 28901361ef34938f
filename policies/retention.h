/* retention.h - which backups of one source to keep, and why. A pure decision: no I/O, no
 * process-wide state; a named timezone comes in as a zone the caller opened (lib/core/tz.h).
 *
 * Rules (each counts complete backups only; any rule that keeps a backup keeps it):
 *   keep-last N      the N newest
 *   keep-hourly N    the newest of each of the N newest hours that have a backup
 *   keep-daily N     ... days;  keep-weekly N ... ISO weeks (Monday first);
 *   keep-monthly N   ... months; keep-yearly N ... years
 *   keep-within D    every backup younger than D at @now
 * Calendar buckets are read in the policy's timezone (UTC when empty). Invariants the engine
 * keeps whatever the rules say:
 *   - a pinned backup is never deleted;
 *   - the newest complete backup is never deleted;
 *   - damaged and incomplete backups never count toward a rule and are never deleted here
 *     (damaged needs an operator; incomplete debris is swept by age, not by retention);
 *   - a backup dated after @now is kept (clock skew is not a reason to delete);
 *   - an empty policy (no keep-* rule) keeps everything;
 *   - applying the policy again to what it kept deletes nothing more. */
#ifndef CF_RETENTION_H
#define CF_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/core/err.h"
#include "../lib/core/tz.h"

enum ret_state {
    RET_COMPLETE = 0,   /* committed and readable */
    RET_DAMAGED,        /* committed, but its manifest or data fails to check */
    RET_INCOMPLETE,     /* never committed */
};

struct ret_backup {
    const char *id;     /* for tie-breaking only (ids sort by time) */
    time_t time;
    enum ret_state state;
    bool pinned;
};

#define RET_TZ_MAX TZ_NAME_MAX

struct ret_policy {
    long keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
    int64_t keep_within;       /* seconds; 0: no such rule */
    char timezone[RET_TZ_MAX]; /* "" or "UTC": UTC; else an IANA name ("Europe/Berlin") or a
                                * POSIX TZ string, which the caller opens (tz_open) */
};

/* Why a backup is kept: bits, any number of them. 0 means deleted. */
enum ret_reason {
    RET_BY_PIN = 1u << 0,
    RET_BY_NEWEST = 1u << 1,
    RET_BY_LAST = 1u << 2,
    RET_BY_HOURLY = 1u << 3,
    RET_BY_DAILY = 1u << 4,
    RET_BY_WEEKLY = 1u << 5,
    RET_BY_MONTHLY = 1u << 6,
    RET_BY_YEARLY = 1u << 7,
    RET_BY_WITHIN = 1u << 8,
    RET_BY_DAMAGED = 1u << 9,
    RET_BY_INCOMPLETE = 1u << 10,
    RET_BY_NO_POLICY = 1u << 11,
    RET_BY_FUTURE = 1u << 12,
    RET_BY_PITR = 1u << 13,   /* set by the caller: the base backup the keep-pitr window
                                 starts from (policies/logrange.h) */
};
#define RET_REASON_COUNT 14

struct ret_decision {
    bool keep;
    unsigned reasons;   /* enum ret_reason bits; 0 when deleted */
};

/* the retention keys of coffer.conf, allowed in [source] and [job] (NULL-terminated): one per
 * rule above, timezone, and keep-pitr (the log archive's window, policies/logrange.h) */
extern const char *const retention_keys[];

/* retention_policy_empty() - true when no keep-* rule is set (everything is kept). */
bool retention_policy_empty(const struct ret_policy *p);

/* retention_apply() - decide for each of the @n backups (any order) whether to keep it.
 * @out has @n entries, in the order of @b. Calendar buckets are read in @tz, the zone the
 * caller opened from @p->timezone with tz_open() (NULL: UTC). Fails only when @p->timezone
 * names a zone other than UTC and @tz is NULL (CF_E_CONFIG); then nothing in @out is
 * meaningful. Safe to call from several threads at once. */
int retention_apply(const struct ret_backup *b, size_t n, time_t now, const struct ret_policy *p,
                    const struct cf_tz *tz, struct ret_decision *out, struct cf_err *e);

/* the name of one reason bit ("pinned", "newest", "last", "hourly", ... "future") */
const char *retention_reason_name(unsigned bit);
/* "daily,monthly" or "none" into @out */
void retention_reasons_format(unsigned reasons, char *out, size_t cap);

#endif
