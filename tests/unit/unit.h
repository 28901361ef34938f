/* unit.h - the smallest test harness that does the job.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_STR(s, "x"); }
 *   int main(void) { RUN(name); return unit_done(); }
 *
 * Prints one TAP-style line per test ("ok - name" / "not ok - name") for tests/run.sh, with the
 * failing expression and file:line under it. */
#ifndef CF_UNIT_H
#define CF_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks, unit_pass, unit_fail;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);        \
            unit_failed_checks++;                                                      \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                             \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (a_ != b_) {                                                                \
            printf("#   %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                   a_, #b, b_);                                                        \
            unit_failed_checks++;                                                      \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                         \
            printf("#   %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                            \
            unit_failed_checks++;                                                      \
        }                                                                              \
    } while (0)

/* the error message contains @needle */
#define CHECK_MSG(err, needle)                                                         \
    do {                                                                               \
        if (strstr((err).msg, (needle)) == NULL) {                                     \
            printf("#   %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,     \
                   (err).msg, (needle));                                               \
            unit_failed_checks++;                                                      \
        }                                                                              \
    } while (0)

#define RUN(name)                                                                      \
    do {                                                                               \
        int before_ = unit_failed_checks;                                              \
        test_##name();                                                                 \
        if (unit_failed_checks == before_) {                                           \
            unit_pass++;                                                               \
            printf("ok - %s\n", #name);                                                \
        } else {                                                                       \
            unit_fail++;                                                               \
            printf("not ok - %s\n", #name);                                            \
        }                                                                              \
        fflush(stdout);                                                                \
    } while (0)

static inline int unit_done(void)
{
    printf("# %d passed, %d failed\n", unit_pass, unit_fail);
    return unit_fail ? 1 : 0;
}

#endif
