#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "util.h"

static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

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
    if (log_fmt == LOG_JSON) {
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[lvl]);
        json_escape(stderr, line);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s %s %s\n", ts, level_names[lvl], line);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}
