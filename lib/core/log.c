#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int progress_width;   /* columns of the progress line on the screen, 0: none */

static const char *const level_names[] = { "debug", "info", "warn", "error" };
/* sd-daemon(3): LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3 */
static const char *const journal_prefixes[] = { "<7>", "<6>", "<4>", "<3>" };
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool journal_on;

static void journal_detect(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char tail;

    if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return;
    /* stderr redirected elsewhere (a pipe, a file) inherits the variable but not the stream */
    if (fstat(STDERR_FILENO, &st) != 0)
        return;
    journal_on = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_to_journal(void)
{
    pthread_once(&journal_once, journal_detect);
    return journal_on;
}

const char *log_prefix(enum log_level lvl)
{
    return log_fmt == LOG_TEXT && log_to_journal() ? journal_prefixes[lvl] : "";
}

void log_setup(enum log_level min, enum log_format fmt)
{
    log_min = min;
    log_fmt = fmt;
}

void log_set_level(enum log_level min)
{
    log_min = min;
}

void log_set_format(enum log_format fmt)
{
    log_fmt = fmt;
}

enum log_format log_get_format(void)
{
    return log_fmt;
}

int log_format_parse(const char *s, enum log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_JSON;
    else
        return -1;
    return 0;
}

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

/* with log_lock held */
static void progress_erase(void)
{
    if (progress_width > 0)
        fprintf(stderr, "\r%*s\r", progress_width, "");
    progress_width = 0;
}

void log_progress_draw(const char *line)
{
    pthread_mutex_lock(&log_lock);
    int n = (int)strlen(line);
    /* pad over a longer previous line */
    fprintf(stderr, "\r%s%*s", line, progress_width > n ? progress_width - n : 0, "");
    progress_width = progress_width > n ? progress_width : n;
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void log_progress_clear(void)
{
    pthread_mutex_lock(&log_lock);
    progress_erase();
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    char line[4096], ts[32];
    va_list ap;

    if (lvl < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    time_format_rfc3339(time(NULL), ts, sizeof(ts));

    pthread_mutex_lock(&log_lock);
    progress_erase();
    if (log_fmt == LOG_JSON) {
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[lvl]);
        json_escape(stderr, line);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s%s %s %s\n", log_prefix(lvl), ts, level_names[lvl], line);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}
