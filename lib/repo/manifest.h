/* manifest.h - a backup's manifest (docs/FORMAT.md "The manifest"): the one place that knows
 * its field names. Everything else reads and fills struct manifest; the source's own `info`
 * object is left as JSON for the source to read. */
#ifndef CF_MANIFEST_H
#define CF_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define MANIFEST_FORMAT 1
#define MANIFEST_FORMAT_SEG 3   /* a segmented (layout 3) volume backup */
#define MANIFEST_ID_MAX 64     /* = REPO_ID_MAX */
#define MANIFEST_NAME_MAX 128  /* = REPO_NAME_MAX */

/* objects[]: data/<n>, its stored size and the BLAKE2b-256 of its stored bytes */
struct manifest_object {
    uint32_t n;
    uint64_t size;
    char blake2b[65];   /* "" when the entry lacks it: malformed, a reader rejects it */
};

/* A backup whose data objects this one references (incrementals, reserved): none today, and
 * written as "parent": null. */
struct manifest_parent {
    char source[MANIFEST_NAME_MAX];
    char id[MANIFEST_ID_MAX];
};

struct manifest {
    int format;                       /* MANIFEST_FORMAT */
    char id[MANIFEST_ID_MAX];
    char source[MANIFEST_NAME_MAX];
    char kind[32];                    /* the source's type: volume, postgres, ... */
    char job[MANIFEST_NAME_MAX];      /* "" when none (written as null) */
    char host[256];
    char tool[64];                    /* "coffer 0.1.0" */
    time_t started, finished;         /* 0 when unknown */
    uint64_t bytes_in, bytes_stored;
    char compression[16];             /* "zstd" */
    int compression_level;
    uint64_t object_size;
    bool objects_listed;              /* false: no objects[] list (a reader rejects it) */
    struct manifest_object *objects;
    size_t nobjects;                  /* when not listed: the count a manifest gave, if any */
    json_t *parts;                    /* [{"name", "bytes"}, ...] as the frame writer made it */
    json_t *info;                     /* the source's own object */
    json_t *consistency;              /* read only: info's "consistency" (or an older top-level
                                         one), NULL when none; borrowed from info or owned */
    bool has_parent;
    struct manifest_parent parent;
    /* format 3 (docs/FORMAT.md "Volume backups, layout 3"): */
    long chain;                       /* incrementals since the last full (0: full) */
    uint64_t index_size;              /* the index object */
    char index_blake2b[65];
    json_t *refs;                     /* [{"id","n","size","blake2b"}]: other backups' objects */
    uint64_t bytes_referenced;        /* the sum of refs[].size */
};

/* manifest_new() - an empty manifest of format MANIFEST_FORMAT; manifest_free() accepts NULL */
struct manifest *manifest_new(void);
void manifest_free(struct manifest *m);

/* manifest_object_add() - append objects[] entry @n with @size and hash @hex */
void manifest_object_add(struct manifest *m, uint32_t n, uint64_t size, const char *hex);

/* manifest_to_json() - the manifest's JSON object (new reference), or NULL when out of memory */
json_t *manifest_to_json(const struct manifest *m);

/* manifest_from_json() - read @j. Lenient, as a reader of older manifests must be: missing
 * fields stay empty or 0 (also "type" for kind, "tool_version" for tool, times as Unix seconds,
 * objects as a count). -1 only when @j is not an object (CF_E_CORRUPT). */
struct cf_err;
int manifest_from_json(const json_t *j, struct manifest **out, struct cf_err *e);

/* manifest_details_json() - what `catalog show` adds to an index row: host, info, parts,
 * compression, parent and object_list (the objects), as a new JSON object */
json_t *manifest_details_json(const struct manifest *m);

#endif
