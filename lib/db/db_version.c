/* db_version.c - what the check step and migrate ask of a dump tool: is it there, which
 * version, and can it read the server. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db_version.h"

int db_tool_major(const char *tool, char *line, size_t cap, int *major, struct cf_err *e)
{
    int fds[2], status;
    pid_t pid;
    ssize_t n;
    size_t len = 0;

    if (pipe(fds) != 0)
        return cf_err_sys(e, CF_E_IO, "pipe");
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cf_err_sys(e, CF_E_IO, "fork");
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp(tool, tool, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (len + 1 < cap && (n = read(fds[0], line + len, cap - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    line[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    line[strcspn(line, "\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return cf_err_set(e, CF_E_CONFIG, "dump tool '%s' is not installed or not on PATH; "
                          "HINT: install it, or set bin-dir", tool);
    if (WEXITSTATUS(status) != 0)
        return cf_err_set(e, CF_E_CONFIG, "'%s --version' failed with exit status %d", tool,
                          WEXITSTATUS(status));
    const char *p = line;
    while (*p && !isdigit((unsigned char)*p))
        p++;
    if (*p == '\0')
        return cf_err_set(e, CF_E_CONFIG, "'%s --version' gave no version: '%s'", tool, line);
    *major = atoi(p);
    return 0;
}

int db_version_parse(const char *s, const char *after, unsigned *major, unsigned *minor)
{
    const char *p = after ? strstr(s, after) : s;

    if (p == NULL)
        return -1;
    p += after ? strlen(after) : 0;
    while (*p && !isdigit((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    *major = (unsigned)strtoul(p, (char **)&p, 10);
    *minor = *p == '.' ? (unsigned)strtoul(p + 1, NULL, 10) : 0;
    return 0;
}

int db_pg_tool_check(const char *tool, int tool_major, unsigned long server_num,
                     struct cf_err *e)
{
    int server_major = (int)(server_num / 10000);

    if (tool_major < server_major)
        return cf_err_set(e, CF_E_CONFIG, "%s is major version %d, older than the server's %d: "
                          "it cannot dump it; HINT: install postgresql-client-%d and set bin-dir",
                          tool, tool_major, server_major, server_major);
    return 0;
}

int db_maria_tool_check(const char *tool, const char *line, unsigned long server,
                        struct cf_err *e)
{
    unsigned maj, min, smaj = (unsigned)(server / 10000), smin = (unsigned)(server / 100 % 100);

    if (db_version_parse(line, "Distrib", &maj, &min) != 0 &&
        db_version_parse(line, "from", &maj, &min) != 0)
        return cf_err_set(e, CF_E_CONFIG, "unable to read the version of %s from '%s'", tool,
                          line);
    if (maj < smaj || (maj == smaj && min < smin))
        return cf_err_set(e, CF_E_CONFIG, "%s is from MariaDB %u.%u and the server is %u.%u: an "
                          "older dump tool may miss what the server has; HINT: install the "
                          "client of MariaDB %u.%u or later and set bin-dir", tool, maj, min,
                          smaj, smin, smaj, smin);
    return 0;
}
