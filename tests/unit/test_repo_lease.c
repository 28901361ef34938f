/* test_repo_lease.c - lib/repo/repo_lease.c on a real local target: exclusive creation,
 * holder details in the refusal, expiry and dead-process takeover, renewal, lost leases. */
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../../lib/config/ini.h"
#include "../../lib/core/log.h"
#include "../../lib/core/util.h"
#include "../../lib/repo/repo_lease.h"
#include "../../lib/storage/target.h"

static char dir[] = "/tmp/coffer-lease.XXXXXX";
static struct ini *ini;
static struct target *tgt;

static void setup(void)
{
    struct cf_err e = CF_ERR_INIT;
    char text[256];
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(text, sizeof(text), "[repository]\ntarget = local\npath = %s\n", dir);
    if (ini_parse_string(text, "test.conf", &ini, &e) != 0 ||
        target_open(ini_find(ini, "repository", NULL), &tgt, &e) != 0) {
        printf("# setup: %s\n", e.msg);
        abort();
    }
}

/* write a lock object by hand, as another holder would */
static void plant(const char *name, const char *host, long pid, time_t expires)
{
    struct cf_err e = CF_ERR_INIT;
    char ex[32], cr[32];
    time_format_rfc3339(expires, ex, sizeof(ex));
    time_format_rfc3339(expires - 600, cr, sizeof(cr));
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s}", "format", 1, "name", name,
                          "purpose", "prune", "host", host, "pid", (json_int_t)pid, "token",
                          "00000000000000000000000000000000", "created", cr, "renewed", cr,
                          "expires", ex);
    char *s = json_dumps(j, 0), *key = cf_asprintf("locks/%s", name);
    if (target_put_buf(tgt, key, s, strlen(s), 0, &e) != 0)
        printf("# plant: %s\n", e.msg);
    free(key);
    free(s);
    json_decref(j);
}

static void host(char *out, size_t cap)
{
    gethostname(out, cap);
    out[cap - 1] = '\0';
}

TEST(acquire_release)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL, *l2 = NULL;
    struct lease_info li;
    char me[256];

    host(me, sizeof(me));
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), 0);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK_STR(li.host, me);
    CHECK_EQ_INT(li.pid, getpid());
    CHECK(li.mine && !li.stale);
    CHECK(li.expires >= time(NULL) + 59 && li.expires <= time(NULL) + 61);
    /* a second holder, even in the same process, is refused with the holder named */
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l2, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_LOCKED);
    CHECK_MSG(e, "held by prune on ");
    CHECK_MSG(e, me);
    CHECK_MSG(e, "HINT:");
    lease_release(l);
    cf_err_clear(&e);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    cf_err_clear(&e);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l2, &e), 0);
    lease_release(l2);
    lease_release(NULL);
}

TEST(live_foreign_lock_refused)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    plant("prune", "other-host.example", 4242, time(NULL) + 300);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_LOCKED);
    CHECK_MSG(e, "other-host.example pid 4242");
    CHECK_MSG(e, "until ");
    /* the foreign lock is untouched */
    struct lease_info li;
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK_STR(li.host, "other-host.example");
    CHECK(!li.stale && !li.mine);
    char *k = cf_asprintf("locks/prune");
    target_remove(tgt, k, &e);
    free(k);
}

TEST(expired_lock_taken_over)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    struct lease_info li;
    plant("prune", "crashed-host.example", 4242, time(NULL) - 5);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK(li.stale);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), 0);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK(li.mine);
    lease_release(l);
}

TEST(dead_process_on_this_host_taken_over)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    struct lease_info li;
    char me[256];
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);   /* a pid that is surely gone */
    host(me, sizeof(me));
    plant("prune", me, (long)child, time(NULL) + 3600);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK(li.stale);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), 0);
    lease_release(l);
    /* a live process on this host is not stale */
    plant("prune", me, (long)getppid(), time(NULL) + 3600);
    CHECK_EQ_INT(lease_read(tgt, "prune", &li, &e), 0);
    CHECK(!li.stale);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_LOCKED);
    target_remove(tgt, "locks/prune", &e);
}

TEST(unreadable_lock_taken_over)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    CHECK_EQ_INT(target_put_buf(tgt, "locks/prune", "{\"torn", 6, 0, &e), 0);
    CHECK_EQ_INT(lease_acquire(tgt, "prune", "prune", 60, &l, &e), 0);
    lease_release(l);
}

TEST(renew_and_lost)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    struct lease_info a, b;
    CHECK_EQ_INT(lease_acquire(tgt, "source-media", "backup", 3, &l, &e), 0);
    CHECK_EQ_INT(lease_read(tgt, "source-media", &a, &e), 0);
    CHECK_EQ_INT(lease_keep(l, &e), 0);   /* not due: no write */
    sleep(2);
    CHECK_EQ_INT(lease_keep(l, &e), 0);   /* due: renewed */
    CHECK_EQ_INT(lease_read(tgt, "source-media", &b, &e), 0);
    CHECK(b.expires > a.expires);
    CHECK_EQ_INT(b.created, a.created);
    /* someone takes it over (as after an expiry): the holder learns it lost the lock */
    plant("source-media", "thief.example", 1, time(NULL) + 600);
    CHECK_EQ_INT(lease_renew(l, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_LOCKED);
    CHECK_MSG(e, "lost repository lock 'locks/source-media'");
    /* release leaves the thief's lock alone */
    lease_release(l);
    cf_err_clear(&e);
    CHECK_EQ_INT(lease_read(tgt, "source-media", &b, &e), 0);
    CHECK_STR(b.host, "thief.example");
    target_remove(tgt, "locks/source-media", &e);
}

TEST(keeper_thread_renews)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    struct lease_info a, b;
    CHECK_EQ_INT(lease_acquire(tgt, "source-db", "backup", 3, &l, &e), 0);
    CHECK_EQ_INT(lease_read(tgt, "source-db", &a, &e), 0);
    CHECK_EQ_INT(lease_keeper_start(l, &e), 0);
    sleep(3);   /* past the original expiry */
    CHECK_EQ_INT(lease_read(tgt, "source-db", &b, &e), 0);
    CHECK(b.expires > a.expires);
    CHECK(!b.stale);
    CHECK_EQ_INT(lease_keeper_stop(l, &e), 0);
    lease_release(l);
    CHECK_EQ_INT(lease_read(tgt, "source-db", &b, &e), -1);
}

TEST(list_locks)
{
    struct cf_err e = CF_ERR_INIT;
    struct lease *l = NULL;
    struct lease_info *v = NULL;
    size_t n = 0;
    char name[64];
    CHECK_EQ_INT(lease_list(tgt, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 0);
    free(v);
    lease_source_name("media", name, sizeof(name));
    CHECK_STR(name, "source-media");
    CHECK_EQ_INT(lease_acquire(tgt, name, "backup", 60, &l, &e), 0);
    plant("prune", "other.example", 7, time(NULL) - 1);
    CHECK_EQ_INT(lease_list(tgt, &v, &n, &e), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].name, "prune");
        CHECK(v[0].stale);
        CHECK_STR(v[1].name, "source-media");
        CHECK_STR(v[1].purpose, "backup");
        CHECK(v[1].mine);
    }
    free(v);
    lease_release(l);
    target_remove(tgt, "locks/prune", &e);
}

int main(void)
{
    log_setup(LOG_ERROR, LOG_TEXT);
    setup();
    RUN(acquire_release);
    RUN(live_foreign_lock_refused);
    RUN(expired_lock_taken_over);
    RUN(dead_process_on_this_host_taken_over);
    RUN(unreadable_lock_taken_over);
    RUN(renew_and_lost);
    RUN(keeper_thread_renews);
    RUN(list_locks);
    target_close(tgt);
    ini_free(ini);
    struct cf_err e = CF_ERR_INIT;
    fs_remove_tree(dir, &e);
    return unit_done();
}
