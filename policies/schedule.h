/* schedule.h - when a job runs: cron's five fields read as cron (cronie, Vixie cron) reads
 * them, and the next fire time after an instant in a time zone. A pure decision: no I/O, no
 * process-wide state; the zone comes in as a `struct cf_tz` the caller opened.
 *
 * Form: "MIN HOUR DOM MONTH DOW", each field `*`, a number, a range `a-b`, a step `*\/n` or
 * `a-b/n`, or a comma list of these; months and days of the week also by their English
 * three-letter names (jan..dec, sun..sat, any case, also as range ends); day of week 0-7,
 * 0 and 7 both Sunday. Day of month and day of week: when both are restricted (neither
 * field starts with `*`), a day matching either fires (cron's OR rule); otherwise both must
 * match. Shorthands: @hourly "0 * * * *", @daily and @midnight "0 0 * * *", @weekly
 * "0 0 * * 0", @monthly "0 0 1 * *", @yearly and @annually "0 0 1 1 *".
 *
 * Daylight saving time, as cron(8) does it: a "wildcard" schedule (its minute or hour field
 * starts with `*`) runs on the wall clock: a local time skipped by a forward change does not
 * fire, a local time that occurs twice fires twice. A "fixed-time" schedule (any other) fires
 * once per matching local time: a time inside a skipped interval fires at the instant of the
 * change (cron runs the skipped jobs immediately), a repeated time fires at its first
 * occurrence only. Offset changes of up to 3 hours are looked after (all DST changes are). */
#ifndef CF_SCHEDULE_H
#define CF_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/core/err.h"
#include "../lib/core/tz.h"

#define SCHED_TEXT_MAX 128

struct sched {
    uint64_t minute;   /* bit n: minute n (0-59) */
    uint32_t hour;     /* bit n: hour n (0-23) */
    uint32_t dom;      /* bit n: day of month n (1-31) */
    uint16_t month;    /* bit n: month n (1-12) */
    uint8_t dow;       /* bit n: day of week n (0-6, Sunday 0) */
    bool min_star, hour_star, dom_star, dow_star;   /* the field starts with '*' */
    char text[SCHED_TEXT_MAX];   /* as written */
};

/* the schedule keys of a [job] (NULL-terminated): schedule, jitter; the zone is the
 * retention's `timezone` key */
extern const char *const schedule_keys[];

/* schedule_parse() - read @text (a cron line's five fields or a shorthand). -1 (CF_E_CONFIG)
 * naming the bad field, or when the schedule never fires (say "0 0 30 2 *"). */
int schedule_parse(const char *text, struct sched *out, struct cf_err *e);

/* schedule_wildcard() - true when the minute or hour field starts with '*' (see above) */
bool schedule_wildcard(const struct sched *s);

/* schedule_matches() - the local civil time @y-@mon-@d @h:@min (weekday @wday, 0 Sunday)
 * matches @s */
bool schedule_matches(const struct sched *s, int y, int mon, int d, int wday, int h, int min);

/* schedule_next() - the first fire time strictly after @after in zone @tz (NULL: UTC), by
 * the rules above. -1 (CF_E_CONFIG) only when none comes within 28 years. */
int schedule_next(const struct sched *s, const struct cf_tz *tz, time_t after, time_t *out,
                  struct cf_err *e);

#define SCHED_CAL_MAX 512

/* schedule_oncalendar() - @s as systemd.time(7) calendar events for OnCalendar=, each with
 * @tz appended (NULL or "": none). One event, or two when both day fields are restricted
 * (cron's OR: systemd matches a weekday AND a date). Away from DST changes the events fire
 * when schedule_next() says; at a change, systemd's own rule applies. Returns the count. */
int schedule_oncalendar(const struct sched *s, const char *tz, char out[2][SCHED_CAL_MAX]);

#endif
