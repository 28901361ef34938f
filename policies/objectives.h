/* objectives.h - recovery point and recovery time objectives: pure decisions, no I/O.
 *
 * RPO: the newest complete backup of a source must be younger than the objective.
 * RTO: a measured restore (a drill) must have finished within the objective. */
#ifndef CF_OBJECTIVES_H
#define CF_OBJECTIVES_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum obj_state {
    OBJ_NONE = 0,   /* no objective set: nothing to judge */
    OBJ_OK,
    OBJ_VIOLATED,
};

struct rpo_eval {
    enum obj_state state;
    bool have_backup;
    int64_t age;    /* seconds since the newest complete backup; 0 without one */
};

/* the objective keys of coffer.conf, allowed in [source] and [job] (NULL-terminated): rpo,
 * rto (the longest a drill's restore may take) */
extern const char *const objective_keys[];
/* the drill keys of a [job] (NULL-terminated): drill-every */
extern const char *const drill_job_keys[];

/* objective_rpo() - judge a source's RPO. @rpo in seconds, 0 when not set. A source with an
 * objective and no complete backup violates it; a backup dated after @now has age 0. The
 * age equal to the objective is still OK; one second more is a violation. */
void objective_rpo(bool have_backup, time_t newest, time_t now, int64_t rpo,
                   struct rpo_eval *out);

/* objective_rto() - judge a measured restore duration (seconds) against @rto (0: not set). */
enum obj_state objective_rto(int64_t measured, int64_t rto);

/* objective_drill() - judge a job's drills: @every (seconds, 0: not set) is the longest
 * allowed since the last drill, which was at @last and @passed or failed. With an objective,
 * no drill, a failed last drill or one older than @every violates it; without one, only a
 * failed last drill does. */
enum obj_state objective_drill(bool have_drill, time_t last, bool passed, time_t now,
                               int64_t every);

/* "OK", "VIOLATED", "NONE" */
const char *objective_state_name(enum obj_state s);

#endif
