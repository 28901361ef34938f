#include "objectives.h"

const char *const objective_keys[] = { "rpo", "rto", NULL };
const char *const drill_job_keys[] = { "drill-every", NULL };

void objective_rpo(bool have_backup, time_t newest, time_t now, int64_t rpo,
                   struct rpo_eval *out)
{
    out->have_backup = have_backup;
    out->age = 0;
    if (have_backup && now > newest)
        out->age = (int64_t)(now - newest);
    if (rpo <= 0)
        out->state = OBJ_NONE;
    else if (!have_backup || out->age > rpo)
        out->state = OBJ_VIOLATED;
    else
        out->state = OBJ_OK;
}

enum obj_state objective_rto(int64_t measured, int64_t rto)
{
    if (rto <= 0)
        return OBJ_NONE;
    return measured <= rto ? OBJ_OK : OBJ_VIOLATED;
}

const char *objective_state_name(enum obj_state s)
{
    switch (s) {
    case OBJ_OK: return "OK";
    case OBJ_VIOLATED: return "VIOLATED";
    default: return "NONE";
    }
}

enum obj_state objective_drill(bool have_drill, time_t last, bool passed, time_t now,
                               int64_t every)
{
    if (every <= 0)
        return have_drill && !passed ? OBJ_VIOLATED : OBJ_NONE;
    if (!have_drill || !passed || now - last > every)
        return OBJ_VIOLATED;
    return OBJ_OK;
}
