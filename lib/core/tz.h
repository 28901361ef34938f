/* tz.h - time zones as explicit conversions. A zone is read once (tz_open: the TZif file of
 * the zone database, or a POSIX TZ string) into an object; converting an instant with it is
 * pure arithmetic and touches no process-wide state (no TZ variable, no tzset), so threads may
 * use different zones at once. */
#ifndef CF_TZ_H
#define CF_TZ_H

#include <time.h>

#include "err.h"

/* the longest zone name taken, NUL included */
#define TZ_NAME_MAX 64

struct cf_tz;

/* tz_open() - the zone named @name: empty or "UTC" (UTC); a file of the zone database
 * (TZDIR or /usr/share/zoneinfo, "Europe/Berlin"), read once; or a POSIX TZ string
 * ("CET-1CEST,M3.5.0,M10.5.0/3"). -1 (CF_E_CONFIG, with a hint) for anything else. */
int tz_open(const char *name, struct cf_tz **out, struct cf_err *e);
void tz_free(struct cf_tz *z);

/* tz_offset() - seconds east of UTC in zone @z (NULL: UTC) at the instant @t */
long tz_offset(const struct cf_tz *z, time_t t);
/* tz_localtime() - the calendar fields of @t in zone @z (NULL: UTC); tm_gmtoff is the offset */
void tz_localtime(const struct cf_tz *z, time_t t, struct tm *out);

/* tz_days_from_civil() - days since 1970-01-01 of the proleptic Gregorian date @y-@m-@d */
long long tz_days_from_civil(long long y, unsigned m, unsigned d);

/* time_zone_check() - 0 when tz_open(@tz) would succeed; -1 (CF_E_CONFIG, with a hint)
 * otherwise. What configuration checks call for a "timezone" key. */
int time_zone_check(const char *tz, struct cf_err *e);

#endif
