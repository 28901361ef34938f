/* backupd_units.c - `backupd systemd-units --dir D [--prefix P]`: the schedules of the
 * configuration as drop-ins of the timer template, so that each `P@JOB.timer` fires when the
 * daemon would run JOB. */
#include "backupd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/core/cli.h"
#include "../lib/core/util.h"
#include "../policies/schedule.h"

/* one job's drop-in text into @out; false when the job has no schedule */
static int unit_text(const struct conf *c, const struct conf_job *j, struct buf *out, bool *has,
                     struct cf_err *e)
{
    const char *text, *tz;
    int64_t jitter;
    struct sched s;
    char ev[2][SCHED_CAL_MAX];

    *has = false;
    if (ini_get_str(j->sec, "schedule", NULL, &text, e) != 0 ||
        ini_get_str(j->sec, "timezone", "", &tz, e) != 0 ||
        ini_get_duration(j->sec, "jitter", 0, &jitter, e) != 0)
        return -1;
    if (text == NULL)
        return 0;
    if (schedule_parse(text, &s, e) != 0)
        return cf_err_ctx(e, "job %s", j->name);
    *has = true;
    buf_printf(out,
               "# written by backupd systemd-units from %s, [job %s] schedule = %s%s%s\n"
               "# (write it again after changing the schedule, then: systemctl daemon-reload)\n"
               "[Timer]\nOnCalendar=\n",
               c->ini->file, j->name, text, tz[0] ? ", timezone = " : "", tz);
    for (int k = 0, n = schedule_oncalendar(&s, tz, ev); k < n; k++)
        buf_printf(out, "OnCalendar=%s\n", ev[k]);
    buf_printf(out, "RandomizedDelaySec=%lld\nPersistent=true\n", (long long)jitter);
    return 0;
}

int backupd_systemd_units(const struct conf *c, const char *dir, const char *prefix)
{
    struct cf_err e = CF_ERR_INIT;
    size_t written = 0;

    if (prefix == NULL)
        prefix = "coffer-backup";
    if (strchr(prefix, '/') != NULL || strchr(prefix, '@') != NULL || prefix[0] == '\0') {
        cf_err_set(&e, CF_E_USAGE, "--prefix '%s': a unit name prefix, without '/' or '@'",
                   prefix);
        return cli_fail("backupd", &e);
    }
    for (size_t i = 0; i < c->njobs; i++) {
        struct buf text = BUF_INIT;
        bool has;
        char *d = cf_asprintf("%s/%s@%s.timer.d", dir, prefix, c->jobs[i].name);
        char *path = cf_asprintf("%s/schedule.conf", d);
        int rc = unit_text(c, &c->jobs[i], &text, &has, &e);
        if (rc == 0 && has &&
            (fs_mkdir_p(d, 0755, &e) != 0 ||
             fs_write_file_atomic(path, text.data, text.len, 0644, &e) != 0))
            rc = -1;
        if (rc == 0 && has) {
            printf("%s\n", path);
            written++;
        }
        buf_free(&text);
        free(path);
        free(d);
        if (rc != 0)
            return cli_fail("backupd", &e);
    }
    if (written == 0)
        fprintf(stderr, "backupd: no job has a schedule: nothing written (HINT: schedule = ... "
                "in [job NAME])\n");
    return EXIT_OK;
}
