/* repo_lease.h - locks in the repository (locks/<name>), held as leases.
 *
 * A lock is a small JSON object created with TARGET_PUT_NOREPLACE, so of two hosts racing
 * for it exactly one wins, on a local directory as on S3. It names its holder (host, pid),
 * when it was taken, when it was last renewed and when it expires. The holder renews it while
 * it works (lease_keep), so a crashed holder blocks others only until the expiry. A lock that
 * has expired, or whose holder is a dead process on this same host, is stale: the next
 * lease_acquire takes it over and logs a warning.
 *
 * Names in use (docs/FORMAT.md): "prune" (one prune per repository at a time) and
 * "source-<source>" (held by a backup of that source while it writes and commits, and by
 * prune while it deletes that source's backups). */
#ifndef CF_REPO_LEASE_H
#define CF_REPO_LEASE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../core/err.h"

struct target;

#define LEASE_DEFAULT_TTL 600   /* seconds */

struct lease;

struct lease_info {
    char name[160];       /* "prune", "source-media" */
    char purpose[64];     /* "prune", "backup" */
    char host[256];
    long pid;
    time_t created, renewed, expires;
    bool stale;           /* expired, or a dead process on this host */
    bool mine;            /* held by this process */
};

/* lease_acquire() - take locks/@name for @purpose, valid @ttl seconds from now. A live lock
 * held by someone else fails with CF_E_LOCKED, naming its holder and expiry; a stale one is
 * taken over with a warning. @t must outlive the lease. */
int lease_acquire(struct target *t, const char *name, const char *purpose, int64_t ttl,
                  struct lease **out, struct cf_err *e);

/* lease_keep() - renew the lease when a third of its time has passed (cheap otherwise).
 * Fails with CF_E_LOCKED when the lock is no longer ours (taken over after expiring): the
 * caller must stop changing the repository. */
int lease_keep(struct lease *l, struct cf_err *e);
/* lease_renew() - renew now, whatever the time. Same failures as lease_keep. */
int lease_renew(struct lease *l, struct cf_err *e);

/* lease_keeper_start() - renew @l from a thread of its own every third of its lifetime,
 * for holders that cannot call lease_keep() while they work (a backup inside the pipeline).
 * A failed renewal is logged; the holder finds out at lease_keeper_stop(), which returns -1
 * with @e set if the lease was lost meanwhile. */
int lease_keeper_start(struct lease *l, struct cf_err *e);
int lease_keeper_stop(struct lease *l, struct cf_err *e);

/* lease_release() - remove the lock if it is still ours and free @l; never fails (a lock left
 * behind expires). NULL is fine. */
void lease_release(struct lease *l);

/* lease_read() - the current holder of locks/@name; CF_E_NOTFOUND when free. */
int lease_read(struct target *t, const char *name, struct lease_info *out, struct cf_err *e);

/* lease_list() - every lock in the repository, sorted by name. Free with free(). */
int lease_list(struct target *t, struct lease_info **out, size_t *n, struct cf_err *e);

/* "source-<source>" into @out */
void lease_source_name(const char *source, char *out, size_t cap);

/* --- the same on a repository: what tools and lib/backup call --- */
struct repo;

/* repo_lock() - lease_acquire() of locks/@name in @r's repository */
int repo_lock(struct repo *r, const char *name, const char *purpose, int64_t ttl,
              struct lease **out, struct cf_err *e);
/* repo_locks_list() - lease_list() of @r's repository */
int repo_locks_list(struct repo *r, struct lease_info **out, size_t *n, struct cf_err *e);

#define REPO_LOCK_WAIT 1u   /* a live holder: wait for it, up to a minute (a prune's turn) */
#define REPO_LOCK_KEEP 2u   /* renew from a thread (lease_keeper_start) until unlocked */

/* repo_lock_source() - take locks/source-<source>, the lock every writer of @source's
 * backups holds: a backup while it writes and commits (REPO_LOCK_WAIT | REPO_LOCK_KEEP, so
 * that a prune never deletes or sweeps under it) and prune while it removes that source's
 * backups and debris (no flags: a held lock skips the source; it renews with lease_keep). A
 * live holder fails with CF_E_LOCKED (after the wait, with REPO_LOCK_WAIT). */
int repo_lock_source(struct repo *r, const char *source, const char *purpose, int64_t ttl,
                     unsigned flags, struct lease **out, struct cf_err *e);
/* repo_unlock_source() - stop renewing and release @l (NULL is fine). -1 when the lease was
 * lost while it was held (it is released all the same): the caller says so. */
int repo_unlock_source(struct lease *l, struct cf_err *e);

#endif
