/* tool_path.c - which program runs for a dump or load tool. */
#include "child.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"

char *src_tool_path(const char *tool, const char *bindir, const char *glob_dir)
{
    if (bindir && *bindir)
        return cf_asprintf("%s/%s", bindir, tool);
    if (glob_dir) {
        glob_t g;
        char *best = NULL;
        if (glob(glob_dir, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                char *p = cf_asprintf("%s/%s", g.gl_pathv[i], tool);
                if (access(p, X_OK) == 0 && (best == NULL || strverscmp(p, best) > 0)) {
                    free(best);
                    best = p;
                } else {
                    free(p);
                }
            }
            globfree(&g);
        }
        if (best)
            return best;
    }
    return cf_strdup(tool);
}
