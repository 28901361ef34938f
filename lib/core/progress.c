#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void progress_start(struct progress *p, const char *what, uint64_t total)
{
    /* a terminal only: never in a pipe, a file or the journal */
    p->on = isatty(STDERR_FILENO) && getenv("COFFER_NO_PROGRESS") == NULL && !log_to_journal();
    p->what = what;
    p->total = total;
    p->start_ms = time_mono_ms();
    p->last_ms = 0;   /* nothing drawn yet */
}

void progress_update(struct progress *p, uint64_t done)
{
    char b[32], t[32], eta[32] = "", line[160];
    uint64_t now;
    if (!p->on)
        return;
    now = time_mono_ms();
    /* the first line once a MiB is done (or after 250 ms), then every 250 ms */
    if (p->last_ms == 0 ? done < (1u << 20) && now - p->start_ms < 250 : now - p->last_ms < 250)
        return;
    p->last_ms = now;
    /* at least a millisecond, so that the first line has a rate (and an ETA) too */
    double secs = (double)(now > p->start_ms ? now - p->start_ms : 1) / 1000.0;
    double rate = (double)done / secs;
    format_bytes(done, b, sizeof(b));
    format_bytes((uint64_t)rate, t, sizeof(t));
    if (p->total > done && rate > 0)
        snprintf(eta, sizeof(eta), " eta %.0fs", (double)(p->total - done) / rate);
    if (p->total)
        snprintf(line, sizeof(line), "%s %s (%.0f%%) %s/s%s", p->what, b,
                 100.0 * (double)done / (double)p->total, t, eta);
    else
        snprintf(line, sizeof(line), "%s %s %s/s", p->what, b, t);
    log_progress_draw(line);
}

void progress_end(struct progress *p)
{
    if (p->on)
        log_progress_clear();
}
