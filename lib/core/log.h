/* log.h - one line per event on stderr.
 *
 * Text: "2026-11-22T03:15:00Z info backup done source=media ...". JSON (--log-format json):
 * {"time":"...","level":"info","msg":"backup done source=media ..."}. Lowercase messages,
 * facts as key=value, error text last. Never log a secret. */
#ifndef CF_LOG_H
#define CF_LOG_H

#include "err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void log_setup(enum log_level min, enum log_format fmt);
void log_set_level(enum log_level min);
void log_set_format(enum log_format fmt);
/* "text" or "json" -> 0, else -1 */
int log_format_parse(const char *s, enum log_format *out);
void log_msg(enum log_level lvl, const char *fmt, ...) CF_PRINTF(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
