#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "util.h"

void progress_start(struct progress *p, const char *what, uint64_t total)
{
    p->on = isatty(STDERR_FILENO) && getenv("COFFER_NO_PROGRESS") == NULL;
    p->what = what;
    p->total = total;
    p->start_ms = p->last_ms = time_mono_ms();
}

void progress_update(struct progress *p, uint64_t done)
{
    char b[32], t[32], eta[32] = "";
    uint64_t now;
    if (!p->on)
        return;
    now = time_mono_ms();
    if (now - p->last_ms < 250)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    format_bytes(done, b, sizeof(b));
    format_bytes((uint64_t)rate, t, sizeof(t));
    if (p->total > done && rate > 0)
        snprintf(eta, sizeof(eta), " eta %.0fs", (double)(p->total - done) / rate);
    if (p->total)
        fprintf(stderr, "\r%s %s (%.0f%%) %s/s%s   ", p->what, b,
                100.0 * (double)done / (double)p->total, t, eta);
    else
        fprintf(stderr, "\r%s %s %s/s   ", p->what, b, t);
}

void progress_end(struct progress *p)
{
    if (p->on)
        fprintf(stderr, "\r%*s\r", 70, "");
}
