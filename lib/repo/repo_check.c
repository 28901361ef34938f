/* repo_check.c - the check step for [repository]: the key, then the repository itself. */
#include <string.h>

#include "../config/conf_check.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "repo.h"
#include "repo_int.h"
#include "repo_mirror.h"

/* the keys of [repository] the repository reads itself; the target driver's are its
 * ops->keys, and other owners' (the stream's) come from the validation step */
static const char *const repo_section_keys[] = {
    "target", "key-file", "passphrase-file", "public-key-file", NULL,
};

/* the target kind of section @s is known, and every key of @s is in @own, the driver's or
 * @others */
static int check_target_keys(const struct ini_section *s, const char *const *own,
                             const char *const *const *others, struct cf_err *e)
{
    const char *name;
    const struct target_ops *ops;

    if (ini_get_str(s, "target", "local", &name, e) != 0)
        return -1;
    ops = target_driver_find(name);
    if (ops == NULL)
        return ini_err(s, "target", e, "target: unknown kind '%s' (local or s3)", name);
    return ini_check_keys_with(s, own, ops->keys, others, e);
}

int repo_conf_check_keys(const struct ini_section *s, const char *const *const *others,
                         struct cf_err *e)
{
    const char *kf, *pf, *pub;

    if (check_target_keys(s, repo_section_keys, others, e) != 0)
        return -1;
    if (ini_get_str(s, "key-file", NULL, &kf, e) != 0 ||
        ini_get_str(s, "passphrase-file", NULL, &pf, e) != 0 ||
        ini_get_str(s, "public-key-file", NULL, &pub, e) != 0)
        return -1;
    if (!!kf + !!pf + !!pub != 1)
        return ini_err(s, NULL, e,
                       "give exactly one of key-file, passphrase-file or public-key-file");
    return 0;
}

/* a [mirror NAME]'s own keys; the key, passphrase and stream options are [repository]'s */
static const char *const mirror_section_keys[] = { "target", "max-lag", NULL };

int repo_conf_check_mirror(const struct ini_section *s, const char *const *const *others,
                           struct cf_err *e)
{
    int64_t lag;

    if (strlen(s->name) > 32)
        return ini_err(s, NULL, e, "a mirror's name is at most 32 characters");
    if (check_target_keys(s, mirror_section_keys, others, e) != 0)
        return -1;
    if (ini_get_duration(s, "max-lag", REPO_MIRROR_MAX_LAG, &lag, e) != 0)
        return -1;
    if (lag <= 0)
        return ini_err(s, "max-lag", e, "max-lag: must be more than 0");
    return repo_conf_check_target(s, e);
}

int repo_conf_check_target(const struct ini_section *s, struct cf_err *e)
{
    struct target *t = NULL;

    if (target_open(s, &t, e) != 0)
        return -1;
    target_close(t);
    return 0;
}

/* the key file, passphrase file or public key file as a backup will read it */
static int check_key_files(const struct ini_section *s, const char **key, struct cf_err *e)
{
    const char *kf = NULL, *pf = NULL, *pub = NULL;
    unsigned char k[KEY_BYTES];
    int rc = 0;

    ini_get_str(s, "key-file", NULL, &kf, e);
    ini_get_str(s, "passphrase-file", NULL, &pf, e);
    ini_get_str(s, "public-key-file", NULL, &pub, e);
    if (kf) {
        *key = "key-file";
        rc = keys_load_file(kf, k, e);
        sodium_memzero(k, sizeof(k));
    } else if (pf) {
        struct buf pass = BUF_INIT;
        *key = "passphrase-file";
        if (fs_read_secret(pf, "passphrase file", &pass, e) != 0) {
            e->code = CF_E_KEY;
            rc = -1;
        }
        if (pass.data)
            sodium_memzero(pass.data, pass.cap);
        buf_free(&pass);
    } else if (pub) {
        *key = "public-key-file";
        rc = keys_load_public(pub, k, e);
    }
    return rc;
}

void repo_check(const struct conf *c, struct conf_report *r)
{
    const struct ini_section *s = c->repository;
    struct cf_err e = CF_ERR_INIT;
    const char *key = NULL, *target = "local";
    struct repo *rp = NULL;
    bool key_bad;

    key_bad = check_key_files(s, &key, &e) != 0;
    if (key_bad)
        conf_report_add(r, s, key, &e);
    cf_err_clear(&e);
    ini_get_str(s, "target", "local", &target, &e);
    if (c->repository_bad || (r->offline && strcmp(target, "local") != 0))
        return;
    if (repo_open(c, NULL, &rp, &e) != 0 && !(key_bad && e.code == CF_E_KEY)) {
        cf_err_ctx(&e, "repository");
        if (e.code == CF_E_NET && strstr(e.msg, "HINT") == NULL) {
            size_t n = strlen(e.msg);
            snprintf(e.msg + n, sizeof(e.msg) - n, "; HINT: check endpoint, and that this host "
                     "can reach it (--offline skips this check)");
        }
        conf_report_add(r, s, e.code == CF_E_KEY ? key : NULL, &e);
    }
    /* each mirror reachable and holding this repository (or none yet) */
    for (size_t i = 0; rp != NULL && i < c->nmirrors; i++) {
        const char *mt = "local";
        cf_err_clear(&e);
        ini_get_str(c->mirrors[i], "target", "local", &mt, &e);
        if (r->offline && strcmp(mt, "local") != 0)
            continue;
        if (repo_mirror_check(rp, c->mirrors[i], &e) != 0)
            conf_report_add(r, c->mirrors[i], NULL, &e);
    }
    repo_close(rp);
}
