/* repo_check.c - the check step for [repository]: the key, then the repository itself. */
#include <string.h>

#include "../config/conf_check.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "repo.h"

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
    repo_close(rp);
}
