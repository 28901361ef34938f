/* progress.h - one progress line on a terminal (bytes, rate, ETA); nothing in pipes. */
#ifndef CF_PROGRESS_H
#define CF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
    bool on;
    const char *what;
    uint64_t total;      /* 0 when unknown */
    uint64_t start_ms, last_ms;
};

/* enabled only when stderr is a terminal (not the journal) and COFFER_NO_PROGRESS is unset */
void progress_start(struct progress *p, const char *what, uint64_t total);
/* redraw at most a few times a second */
void progress_update(struct progress *p, uint64_t done);
/* clear the line */
void progress_end(struct progress *p);

#endif
