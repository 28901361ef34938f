/* log.h - one line per event on stderr.
 *
 * Text: "2026-11-22T03:15:00Z info backup done source=media ...". JSON (--log-format json):
 * {"time":"...","level":"info","msg":"backup done source=media ..."}. Under systemd (stderr is
 * the journal) text lines begin with sd-daemon(3)'s "<6>"-style priority. Lowercase messages,
 * facts as key=value, error text last. Never log a secret. */
#ifndef CF_LOG_H
#define CF_LOG_H

#include <stdbool.h>

#include "err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void log_setup(enum log_level min, enum log_format fmt);
void log_set_level(enum log_level min);
void log_set_format(enum log_format fmt);
enum log_format log_get_format(void);
/* "text" or "json" -> 0, else -1 */
int log_format_parse(const char *s, enum log_format *out);
void log_msg(enum log_level lvl, const char *fmt, ...) CF_PRINTF(2, 3);
/* log_to_journal() - true when stderr is systemd's journal: JOURNAL_STREAM ("DEV:INODE") names
 * stderr's device and inode (sd-daemon(3)), as under a unit's default StandardError=. Text lines
 * then begin with a priority prefix; see log_prefix(). */
bool log_to_journal(void);
/* log_progress_draw() - put @line (no newline) on the terminal's last row, replacing the one
 * there; log_progress_clear() - blank it. Log lines written meanwhile clear it first, so that
 * they never run on after it (the next draw puts it back). Only progress.c calls these. */
void log_progress_draw(const char *line);
void log_progress_clear(void);
/* log_prefix() - "<3>" (error), "<4>" (warn), "<6>" (info), "<7>" (debug) when stderr is the
 * journal and the format is text, else "": what a line written to stderr outside log_msg (the
 * tools' "error:" line) puts first, so that journald files it at its priority */
const char *log_prefix(enum log_level lvl);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
