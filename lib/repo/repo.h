/* repo.h - the repository on a target: repo.json, keys, backups, manifests.
 *
 * Layout (docs/FORMAT.md is the reference):
 *   repo.json                                   format, id, key mode, key slots (repo_slots.h)
 *   backups/<source>/<backup-id>/data/<n>       encrypted, compressed stream objects
 *   backups/<source>/<backup-id>/manifest       written last: the commit point
 * A backup exists when its manifest exists. */
#ifndef CF_REPO_H
#define CF_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "../config/conf.h"
#include "../crypto/keys.h"
#include "../core/buf.h"
#include "../core/err.h"
#include "manifest.h"

#define REPO_ID_MAX MANIFEST_ID_MAX       /* "20261122T031500Z-1a2b3c4d" and room to spare */
#define REPO_NAME_MAX MANIFEST_NAME_MAX   /* source names */

struct repo;
struct target_writer;   /* opaque here: only lib/repo includes target.h */
struct target_reader;

/* How to unlock: the configuration names the key file, passphrase file or public key; a
 * secret key file (public-key mode) comes from the command line. */
struct repo_unlock {
    const char *secret_key_file;   /* public-key mode: needed to read; NULL to write only */
};

/* repo_init() - create repo.json on the target described by @c. Refuses an existing one.
 * @generate_key: when not NULL, write a new random 32-byte key there (0600) and use it. */
int repo_init(const struct conf *c, const char *generate_key, struct cf_err *e);

/* repo_open() - read repo.json and unlock the keys. A key, passphrase or secret key file that is
 * missing, readable by others, malformed or wrong is CF_E_KEY, with a message saying which. In public-key mode without a secret key, the repository can be
 * written and listed but not read (repo_can_read() is false). */
int repo_open(const struct conf *c, const struct repo_unlock *u, struct repo **out,
              struct cf_err *e);
void repo_close(struct repo *r);
/* repo_conf_check_keys() - the validation step's check of [repository] @s, without I/O: the
 * target kind is known, every key is the repository's own (target, key-file,
 * passphrase-file, public-key-file), its target driver's or in one of @others (a
 * NULL-terminated list of at most five key lists: other owners' keys, such as the stream's),
 * and exactly one of the key options is given */
int repo_conf_check_keys(const struct ini_section *s, const char *const *const *others,
                         struct cf_err *e);
/* repo_conf_check_target() - open and close the target @s describes: its driver checks its
 * own settings, with no request yet */
int repo_conf_check_target(const struct ini_section *s, struct cf_err *e);
/* repo_check() - the check step for [repository] (repo_check.c): the key, passphrase or public
 * key file as a backup reads it, then (unless r->offline and the target is not local) the
 * repository reachable, initialised and opened by that key; every finding goes to @r */
struct conf_report;
void repo_check(const struct conf *c, struct conf_report *r);

const struct keyring *repo_keys(const struct repo *r);
bool repo_can_read(const struct repo *r);
/* the id as the catalog index keys this repository: repo.json's id, then "@NAME" when it
 * was opened at [mirror NAME] (conf_use_repository), so a mirror's rows are its own */
const char *repo_id(const struct repo *r);
const struct conf *repo_conf(const struct repo *r);

/* A committed backup, known from the names of its objects alone. */
struct repo_ref {
    char source[REPO_NAME_MAX];
    char id[REPO_ID_MAX];
    time_t time;   /* from the id */
};

/* Every committed backup (manifest present) of @source (NULL: all), sorted by source, then
 * id (which is by time). Free with free(). */
int repo_list(struct repo *r, const char *source, struct repo_ref **out, size_t *n,
              struct cf_err *e);
/* Read, authenticate and parse a backup's manifest. CF_E_CRYPTO/CF_E_CORRUPT when damaged.
 * Free *@out with manifest_free(). */
int repo_manifest_load(struct repo *r, const char *source, const char *id, struct manifest **out,
                       struct cf_err *e);
/* "The backup at T" (repo_at.c). A request names a moment or asks for the newest backup:
 * `latest` is a notion of its own, never a date far in the future. */
struct repo_when {
    bool latest;   /* the newest there is; t unused */
    time_t t;      /* else: the newest started at or before t */
    bool replay;   /* the backup is the base of a log replay to t (a mariadb dump before its
                    * binlog events): its snapshot, taken between its id's time and its
                    * finish, must be certainly before t (repo_when_base_ok) */
};
/* repo_when_parse() - "latest", "now" or an RFC 3339 time (time_parse_at); @what names the
 * option in the message */
int repo_when_parse(const char *what, const char *s, struct repo_when *out, struct cf_err *e);
/* "latest", or the time in RFC 3339 */
void repo_when_format(struct repo_when w, char *out, size_t cap);
/* repo_when_base_ok() - may a backup that finished at @finished (0: unknown) be the one at @w?
 * Always, but for a replay: the snapshot lies anywhere between the id's second and the
 * finish, so only a backup finished in a second before @w.t is certainly before it (as a
 * physical base backup's stop time must be). */
bool repo_when_base_ok(struct repo_when w, time_t finished);
/* repo_when_late_err() - CF_E_NOTFOUND for a replay to @w that has no base: backup @id of
 * @source, the newest at or before it, finished only at @finished */
int repo_when_late_err(struct cf_err *e, const char *source, struct repo_when w, const char *id,
                       time_t finished);

/* what a judge says of a candidate: take it, pass over it, or stop looking (an error the
 * judge keeps) */
enum { REPO_TAKE = 0, REPO_PASS = 1, REPO_STOP = -1 };
typedef int (*repo_judge_fn)(void *arg, size_t i);
/* repo_choose_at() - the one rule for "the backup at @w": of the @n candidates in @v
 * (elements of @size bytes, sorted oldest first, a time_t at @time_off in each), the newest
 * at or before @w.t (any, for latest) that @judge (NULL: every one) takes. Its index, or -1
 * when there is none or the judge stopped. Pure: called by repo_find_at_skipping() and by
 * the catalog index (cat_index_at). */
ssize_t repo_choose_at(const void *v, size_t n, size_t size, size_t time_off,
                       struct repo_when w, repo_judge_fn judge, void *arg);

/* repo_find_at() - the backup `restore --at` uses: the newest backup of @source at @w whose
 * manifest opens and checks. Damaged manifests are skipped with a warning, never chosen.
 * CF_E_NOTFOUND when there is none. */
int repo_find_at(struct repo *r, const char *source, struct repo_when w, struct repo_ref *ref,
                 struct manifest **manifest, struct cf_err *e);
/* as repo_find_at, also passing over the backups for which @h->skip returns a reason (a
 * string it owns), such as "catalog verify found it damaged", and telling @h->late of each
 * backup passed over because it finished too late for @w's replay (repo_when_base_ok);
 * @h NULL: none */
typedef const char *(*repo_skip_fn)(void *arg, const char *id);
struct repo_find_hooks {
    repo_skip_fn skip;   /* before the candidate's manifest is read; NULL: none */
    void (*late)(void *arg, const char *id, time_t finished);   /* NULL: none */
    void *arg;
};
int repo_find_at_skipping(struct repo *r, const char *source, struct repo_when w,
                          const struct repo_find_hooks *h, struct repo_ref *ref,
                          struct manifest **manifest, struct cf_err *e);

/* Encrypt @m with the backup's data key and store it under its source and id: the commit
 * point of a backup. */
struct seal_key;
int repo_manifest_save(struct repo *r, const struct seal_key *sk, const struct manifest *m,
                       struct cf_err *e);
/* Delete a backup: its manifest first (so it is no longer listed), then its data. */
int repo_backup_remove(struct repo *r, const char *source, const char *id, struct cf_err *e);

/* A new backup id for the time @ts: "20261122T031500Z-123abcde", the UTC second, then three
 * decimal digits of milliseconds and five random hex digits, so that ids sort by time even
 * for backups of the same second. */
void repo_new_id(const struct timespec *ts, char out[REPO_ID_MAX]);
/* key names */
char *repo_key_manifest(const char *source, const char *id);
char *repo_key_data(const char *source, const char *id, uint32_t n);
char *repo_key_backup_prefix(const char *source, const char *id);

/* What a key names (docs/FORMAT.md "Keys"). A reader passes over keys it does not know
 * (REPO_KEY_UNKNOWN), and over kinds it does not handle: a newer coffer may write them. */
enum repo_key_kind {
    REPO_KEY_UNKNOWN = 0,
    REPO_KEY_REPO_JSON,     /* repo.json */
    REPO_KEY_MANIFEST,      /* backups/<source>/<id>/manifest */
    REPO_KEY_DATA,          /* backups/<source>/<id>/data/<n> */
    REPO_KEY_BACKUP_OTHER,  /* anything else under backups/<source>/<id>/ */
    REPO_KEY_PIN,           /* pins/<source>/<id> */
    REPO_KEY_REMOVED,       /* removed/<source>/<id> */
    REPO_KEY_LOCK,          /* locks/<name> */
    REPO_KEY_LOG,           /* logs/<source>/...: log archives (repo_log.c: PostgreSQL WAL
                               under logs/<source>/<timeline>/<file>); source set */
    REPO_KEY_DRILL,         /* drills/<subject>/<id>: a drill report; subject in source */
};
struct repo_key {
    enum repo_key_kind kind;
    char source[REPO_NAME_MAX];
    char id[REPO_ID_MAX];   /* backups/, pins/, removed/ */
    uint32_t n;             /* REPO_KEY_DATA */
};
/* repo_key_parse() - the one parser of key names; fills @k and returns its kind */
/* --- drill reports under drills/ (repo_drill.c, docs/FORMAT.md "drills/") --- */
/* @subject: "job.NAME" or "source.NAME"; @id: repo_new_id()'s form */
char *repo_key_drill(const char *subject, const char *id);
/* repo_drill_save() - store the report @json (a JSON object's text) of drill @id, sealed as a
 * manifest is (with the public key alone it can be written, not read) */
int repo_drill_save(struct repo *r, const char *subject, const char *id, const char *json,
                    struct cf_err *e);
/* repo_drill_list() - the drill reports of @subject (NULL: all), by subject, then oldest
 * first; each ref's source holds its subject */
int repo_drill_list(struct repo *r, const char *subject, struct repo_ref **out, size_t *n,
                    struct cf_err *e);
/* repo_drill_load() - the report of drill @subject/@id */
int repo_drill_load(struct repo *r, const char *subject, const char *id, json_t **out,
                    struct cf_err *e);
enum repo_key_kind repo_key_parse(const char *key, struct repo_key *k);

/* --- objects (repo_obj.c): the pipeline and the tools never call the target --- */

/* "local /var/backups/coffer", "s3 bucket/prefix": for logs */
const char *repo_describe(struct repo *r);
/* the same for the repository that @c names, without opening it (NULL when its
 * configuration does not open); free() it */
char *repo_location(const struct conf *c);

/* repo_object_begin() - start writing data object @n of backup @source/@id (target_put_begin);
 * write, then commit (the only step that makes it visible; on -1 the caller still aborts) or
 * abort (never fails, NULL is fine). */
int repo_object_begin(struct repo *r, const char *source, const char *id, uint32_t n,
                      uint64_t size_hint, struct target_writer **w, struct cf_err *e);
int repo_object_write(struct target_writer *w, const void *p, size_t n, struct cf_err *e);
int repo_object_commit(struct target_writer *w, struct cf_err *e);
void repo_object_abort(struct target_writer *w);
/* repo_object_open() - read data object @n of backup @source/@id; CF_E_NOTFOUND when missing */
int repo_object_open(struct repo *r, const char *source, const char *id, uint32_t n,
                     struct target_reader **rd, struct cf_err *e);
ssize_t repo_object_read(struct target_reader *rd, void *buf, size_t cap, struct cf_err *e);
void repo_object_close(struct target_reader *rd);
/* size of data object @n of backup @source/@id; CF_E_NOTFOUND when missing */
int repo_object_stat(struct repo *r, const char *source, const char *id, uint32_t n,
                     uint64_t *size, struct cf_err *e);
/* repo_backup_check_sizes() - a quick verify: every object @m names exists with the size
 * the manifest gives (CF_E_CORRUPT or CF_E_NOTFOUND naming the object otherwise) */
int repo_backup_check_sizes(struct repo *r, const struct manifest *m, struct cf_err *e);
/* remove every object of uncommitted backup @source/@id (a failed backup's own objects) */
int repo_backup_discard(struct repo *r, const char *source, const char *id, struct cf_err *e);

/* every object under backups/, committed or not, with its parsed name (prune's debris) */
typedef int (*repo_object_fn)(void *arg, const char *key, const struct repo_key *k);
int repo_backup_objects(struct repo *r, repo_object_fn fn, void *arg, struct cf_err *e);
/* remove the @n objects @keys (as few requests as the target allows) */
int repo_remove_objects(struct repo *r, const char *const *keys, size_t n, struct cf_err *e);
/* drop debris of unfinished writes older than @age seconds (S3 multipart uploads) */
int repo_sweep_uploads(struct repo *r, int64_t age, unsigned *n, struct cf_err *e);

/* --- the log archive (repo_log.c): logs/<source>/<timeline>/<file>, docs/FORMAT.md "logs/" --- */

/* repo_log_name() - is @file a name PostgreSQL archives (a segment, a .partial segment, a
 * .history or a .backup file), or a MariaDB binlog file's (<base>.<number>, db_binlog.h)?
 * 0 with its directory in @tl: the timeline (8 hex digits), or REPO_LOG_BINLOG_DIR;
 * CF_E_USAGE if not */
#define REPO_LOG_BINLOG_DIR "binlog"
int repo_log_name(const char *file, char tl[9], struct cf_err *e);
/* "logs/<source>/<timeline or binlog>/<file>", or NULL when @file is not a log file's name */
char *repo_key_log(const char *source, const char *file);

struct repo_log_stats {
    uint64_t bytes_in, bytes_stored;
    bool existed;   /* already archived with the same content: nothing written */
};
/* repo_log_push() - archive the file at @path (its name is the key's last part) for
 * @source, zstd level @level. 0 only once the object is durable, or when it was already
 * archived with the same content (@st->existed); CF_E_EXISTS when the name is archived with
 * other content; CF_E_NOTFOUND when @path is missing. A killed push leaves nothing listed. */
int repo_log_push(struct repo *r, const char *source, const char *path, int level,
                  struct repo_log_stats *st, struct cf_err *e);
/* repo_log_push_extra() - the same, with @extra after the push time in the object's id
 * (fields "name=value" or "name" apart by ';', lower-case letters, digits and ".-,=": for a
 * binlog "events=F..L;gtid=A..B;closed", read back by repo_log_stat); NULL for none. The
 * digest alone says whether an archived object holds the same file. */
int repo_log_push_extra(struct repo *r, const char *source, const char *path, int level,
                        const char *extra, struct repo_log_stats *st, struct cf_err *e);
/* repo_log_fetch() - write the archived @file of @source to @dest atomically, only after
 * every message, the zstd frame and the digest check. CF_E_NOTFOUND (message without
 * context) when it was never archived; CF_E_CORRUPT/CF_E_CRYPTO when damaged. */
int repo_log_fetch(struct repo *r, const char *source, const char *file, const char *dest,
                   struct cf_err *e);

/* repo_log_verify() - read the archived @file of @source as repo_log_fetch() does (every
 * message authenticated, the zstd frame and the digest checked) without writing anything;
 * the same errors */
int repo_log_verify(struct repo *r, const char *source, const char *file, struct cf_err *e);
/* repo_log_remove() - remove the @n archived @files of @source (retention; a missing one is
 * not an error) */
int repo_log_remove(struct repo *r, const char *source, const char *const *files, size_t n,
                    struct cf_err *e);

/* what the header of an archived file says, without its key (works in public-key mode) */
struct repo_log_meta {
    int64_t pushed;     /* when wal-push stored it (Unix seconds); 0 when not recorded
                           (objects written before coffer recorded it) */
    uint64_t stored;    /* the object's size */
    /* a binlog's (0 and "" when not recorded): the times of its first and last event (Unix
     * seconds), its first and last GTID, and whether the server had closed it */
    int64_t first_event, last_event;
    char gtid_first[48], gtid_last[48];
    bool closed;
};
/* repo_log_stat() - @m of the archived @file of @source: one stat and one read of the header.
 * CF_E_NOTFOUND (no context) when it was never archived */
int repo_log_stat(struct repo *r, const char *source, const char *file,
                  struct repo_log_meta *m, struct cf_err *e);
/* repo_log_list() - call @fn for every archived file of @source (any order), with the stored
 * object's size; keys under logs/<source>/ that are not an archived file are passed over */
typedef int (*repo_log_fn)(void *arg, const char *file, uint64_t stored);
int repo_log_list(struct repo *r, const char *source, repo_log_fn fn, void *arg,
                  struct cf_err *e);
/* repo_binlog_names() - the names archived under logs/<source>/binlog/: whole binlog files
 * and partial objects ("<file>.partial-<length>", db_binlog_object_name), in no order; the
 * caller frees each and the array */
int repo_binlog_names(struct repo *r, const char *source, char ***names, size_t *n,
                      struct cf_err *e);
/* among @names: the object holding binlog @file (the whole file, else its longest partial
 * object; NULL when neither is archived); whether a later file of its base is archived;
 * the name of the file after @file ("binlog.000010" after "binlog.000009"; @out may be @file) */
const char *repo_binlog_object(char **names, size_t n, const char *file);
bool repo_binlog_after(char **names, size_t n, const char *file);
/* whether an earlier file of @file's base is archived (false: the archive starts after it) */
bool repo_binlog_before(char **names, size_t n, const char *file);
void repo_binlog_next(const char *file, char *out, size_t cap);

/* how far the archive reaches from binlog file @first (a dump's recorded file) */
struct repo_binlog_reach {
    bool ok;              /* an archived event at or after the moment: all before it is there */
    int64_t last;         /* the last event time along the chain (0: none) */
    char gap[300];        /* the first file missing while later ones are archived, or "" */
    bool pruned;          /* @gap is @first itself and nothing before it is archived: the
                             archive begins after it (retention deleted it, or archiving
                             began after the dump) */
    char last_file[300];  /* the last object of the chain read */
    size_t files;
};
/* repo_binlog_reach() - follow the archived files from @first, file after file, while each
 * is closed, until one holds an event at or after @at; from the headers alone */
int repo_binlog_reach(struct repo *r, const char *source, const char *first, int64_t at,
                      struct repo_binlog_reach *out, struct cf_err *e);

#endif
