/* src_probe.c - what the check step asks of a dump tool: is it there, and which version. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../source/source.h"

int src_tool_major(const char *tool, char *line, size_t cap, int *major, struct cf_err *e)
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
