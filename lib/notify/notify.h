/* notify.h - telling someone that a backup failed, recovered, or left a source older than its
 * RPO (docs/CONFIG.md "[notify]"): a command run with the details in COFFER_* environment
 * variables, and/or a JSON document POSTed to a webhook. Delivery is best effort: a
 * notification that cannot be delivered is logged and never fails the backup, and it takes
 * bounded time (notify-timeout per try, notify-retries more tries for the webhook). */
#ifndef CF_NOTIFY_H
#define CF_NOTIFY_H

#include <stdint.h>
#include <time.h>

#include "../config/conf.h"
#include "../core/err.h"

/* the notification keys of [notify] and [job NAME] (NULL-terminated) */
extern const char *const notify_keys[];

struct notify_cfg {
    const char *command;    /* run by /bin/sh -c, or NULL */
    const char *url;        /* http:// or https://, or NULL */
    int64_t timeout;        /* seconds per try (command: in all) */
    long retries;           /* more tries of the webhook after a failed one */
};

/* what happened; NULL and 0 fields are left out */
struct notify_event {
    const char *event;      /* "failure", "recovery", "rpo-violation" */
    const char *job, *source;
    time_t time;
    const char *message;    /* one line for humans */
    const char *error;      /* the attempt's error (coffer's message: never a secret) */
    const char *backup_id;  /* the backup committed by the attempt */
    double duration;        /* seconds the attempt took */
    int64_t rpo, age;       /* the source's objective, and its newest backup's age (-1: none) */
};

/* notify_check() - the form of the notification keys of @s ([notify] or a job) */
int notify_check(const struct ini_section *s, struct cf_err *e);
/* notify_config() - the notifications of job @j: each key from [job], else from [notify] */
int notify_config(const struct conf *c, const struct conf_job *j, struct notify_cfg *out,
                  struct cf_err *e);
/* notify_send() - deliver @ev as @cfg says; logs what it could not deliver, never fails */
void notify_send(const struct notify_cfg *cfg, const struct notify_event *ev);

#endif
