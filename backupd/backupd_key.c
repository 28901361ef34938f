/* backupd_key.c - `backupd key`: list, add, remove and change the repository's key slots, and
 * upgrade a version 1 repository to hold them. */
#include "backupd.h"

#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/repo/repo.h"
#include "../lib/repo/repo_slots.h"

static int key_list(struct repo *r, struct cf_err *e)
{
    struct repo_slot_info *v = NULL;
    size_t n = 0;

    if (repo_slots_list(r, &v, &n, e) != 0)
        return -1;
    if (repo_format_version(r) < 2) {
        printf("version 1 repository: one key (the configuration's), no slots; "
               "'backupd key upgrade' adds them\n");
        return 0;
    }
    printf("%-3s %-10s %-11s %-21s %s\n", "", "ID", "KIND", "CREATED", "LABEL");
    for (size_t i = 0; i < n; i++)
        printf("%-3s %-10s %-11s %-21s %s\n", v[i].current ? "*" : "", v[i].id, v[i].kind,
               v[i].created, v[i].label);
    free(v);
    return 0;
}

/* the options each subcommand takes, and its argument count */
static int check_args(const struct backupd_key_args *k, const char *sub, struct cf_err *e)
{
    bool add = strcmp(sub, "add") == 0, passwd = strcmp(sub, "passwd") == 0;
    int want = strcmp(sub, "remove") == 0 ? 2 : 1;

    if (k->nargs != want)
        return cf_err_set(e, CF_E_USAGE, want == 2 ? "key remove needs one slot ID"
                                                   : "key %s takes no argument", sub);
    if ((k->key_file || k->label) && !add)
        return cf_err_set(e, CF_E_USAGE, "--key-file and --label go with key add");
    if (k->passphrase_file && !add && !passwd)
        return cf_err_set(e, CF_E_USAGE, "--passphrase-file goes with key add or key passwd");
    if (passwd && k->passphrase_file == NULL)
        return cf_err_set(e, CF_E_USAGE,
                          "key passwd needs --passphrase-file F (the new passphrase)");
    if (add && (k->passphrase_file == NULL) == (k->key_file == NULL))
        return cf_err_set(e, CF_E_USAGE, "key add needs --passphrase-file F or --key-file F");
    return 0;
}

int backupd_key(const struct conf *c, const struct backupd_key_args *k)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    const char *sub = k->nargs > 0 ? k->args[0] : NULL;
    char id[16];
    int rc = -1;

    if (sub == NULL || (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
                        strcmp(sub, "remove") != 0 && strcmp(sub, "passwd") != 0 &&
                        strcmp(sub, "upgrade") != 0)) {
        cf_err_set(&e, CF_E_USAGE, "key needs one of list, add, remove, passwd, upgrade");
        return cli_fail("backupd", &e);
    }
    if (check_args(k, sub, &e) != 0)
        return cli_fail("backupd", &e);
    if (repo_open(c, NULL, &r, &e) != 0)
        return cli_fail("backupd", &e);
    if (strcmp(sub, "list") == 0) {
        rc = key_list(r, &e);
    } else if (strcmp(sub, "add") == 0) {
        if ((rc = repo_slot_add(r, k->passphrase_file, k->key_file, k->label, id, &e)) == 0)
            printf("key slot %s added\n", id);
    } else if (strcmp(sub, "remove") == 0) {
        if ((rc = repo_slot_remove(r, k->args[1], &e)) == 0)
            printf("key slot %s removed\n", k->args[1]);
    } else if (strcmp(sub, "passwd") == 0) {
        if ((rc = repo_slot_passwd(r, k->passphrase_file, &e)) == 0)
            printf("passphrase changed; HINT: put the new passphrase in the configuration's "
                   "passphrase-file now: the old one no longer opens the repository\n");
    } else {
        if ((rc = repo_slots_upgrade(r, &e)) == 0)
            printf("repository upgraded to format version 2: its key is now in a slot "
                   "('backupd key list'); coffer versions before key slots no longer read it\n");
    }
    repo_close(r);
    return rc == 0 ? EXIT_OK : cli_fail("backupd", &e);
}
