/* mig_snap.c - the snapshot before apply, through the normal backup path. */
#include "mig.h"

int mig_snapshot_take(const struct mig_snap *s, char *id, size_t cap, struct cf_err *e)
{
    (void)id;
    (void)cap;
    return cf_err_set(e, CF_E_INTERNAL,
                      "snapshots are not available in this build (the backup pipeline for "
                      "source '%s' is missing); HINT: use --no-snapshot to apply without one",
                      s->source);
}

int mig_snapshot_restore(const struct mig_snap *s, const char *id, struct cf_err *e)
{
    return cf_err_set(e, CF_E_INTERNAL,
                      "snapshots are not available in this build: cannot restore %s into '%s'",
                      id, s->database);
}
