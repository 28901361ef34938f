/* repo_slots.c - key slots in repo.json (format version 2): opening the master key from a
 * slot, and the changes `backupd key` makes. */
#include "repo_slots.h"
#include "repo_int.h"
#include "repo_lease.h"

#include <string.h>

#include "../core/log.h"
#include "../core/util.h"

#define SLOT_LOCK "keys"

/* what the operator gave for a slot: a passphrase, or a key file's 32 bytes */
struct slot_secret {
    enum key_mode kind;
    struct buf pass;
    unsigned char key[KEY_BYTES];
};

static void slot_secret_wipe(struct slot_secret *s)
{
    if (s->pass.data)
        sodium_memzero(s->pass.data, s->pass.cap);
    buf_free(&s->pass);
    sodium_memzero(s->key, sizeof(s->key));
}

static int slot_secret_load(enum key_mode kind, const char *file, struct slot_secret *s,
                            struct cf_err *e)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (kind == KEY_MODE_PASSPHRASE)
        return repo_read_passphrase(file, &s->pass, e);
    return keys_load_file(file, s->key, e);
}

static const char *str_or(const char *s, const char *dflt) { return s ? s : dflt; }

static const char *kind_name(enum key_mode k)
{
    return k == KEY_MODE_PASSPHRASE ? "passphrase" : "keyfile";
}

/* the key-encryption key of slot @id under @s; for a passphrase, with the Argon2id parameters
 * in @kdf */
static int slot_kek(const char *repo_id, const char *id, const struct slot_secret *s,
                    json_t *kdf, unsigned char kek[KEY_BYTES], struct cf_err *e)
{
    unsigned char secret[KEY_BYTES];
    if (s->kind == KEY_MODE_PASSPHRASE) {
        const char *alg = json_string_value(json_object_get(kdf, "algorithm"));
        const char *salthex = json_string_value(json_object_get(kdf, "salt"));
        json_int_t ops = json_integer_value(json_object_get(kdf, "opslimit"));
        json_int_t mem = json_integer_value(json_object_get(kdf, "memlimit"));
        unsigned char salt[KEYS_SALT_BYTES];
        if (alg == NULL || strcmp(alg, "argon2id13") != 0 || salthex == NULL ||
            strlen(salthex) != 2 * sizeof(salt) || hex_decode(salthex, salt, sizeof(salt)) != 0 ||
            ops <= 0 || mem <= 0)
            return cf_err_set(e, CF_E_CORRUPT,
                              "repo.json: key slot %s: key derivation parameters malformed", id);
        if (keys_derive(s->pass.data, s->pass.len, salt, (uint64_t)ops, (size_t)mem, secret,
                        e) != 0)
            return -1;
    } else {
        memcpy(secret, s->key, KEY_BYTES);
    }
    keys_slot_kek(secret, repo_id, id, kek);
    sodium_memzero(secret, sizeof(secret));
    return 0;
}

/* a new slot object: @id (NULL: a random one), wrapping @master under @s */
static json_t *slot_make(const char *repo_id, const char *id, const struct slot_secret *s,
                         const unsigned char master[KEY_BYTES], const char *label,
                         struct cf_err *e)
{
    unsigned char rnd[4], salt[KEYS_SALT_BYTES], kek[KEY_BYTES];
    char idhex[2 * sizeof(rnd) + 1], salthex[2 * KEYS_SALT_BYTES + 1], now[32];
    char wrapped[KEYS_SLOT_HEX];
    json_t *slot, *kdf = NULL;

    if (id == NULL) {
        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), idhex);
        id = idhex;
    }
    if (s->kind == KEY_MODE_PASSPHRASE) {
        randombytes_buf(salt, sizeof(salt));
        hex_encode(salt, sizeof(salt), salthex);
        kdf = json_pack("{s:s,s:s,s:I,s:I}", "algorithm", "argon2id13", "salt", salthex,
                        "opslimit", (json_int_t)KDF_OPS, "memlimit", (json_int_t)KDF_MEM);
    }
    if (slot_kek(repo_id, id, s, kdf, kek, e) != 0) {
        json_decref(kdf);
        return NULL;
    }
    keys_slot_wrap(kek, master, wrapped);
    sodium_memzero(kek, sizeof(kek));
    time_format_rfc3339(time(NULL), now, sizeof(now));
    slot = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "label", label ? label : "", "kind",
                     kind_name(s->kind), "created", now, "wrapped", wrapped);
    if (kdf)
        json_object_set_new(slot, "kdf", kdf);
    return slot;
}

/* 1 when slot @slot opens under @s (master into @master), 0 when not, -1 on an error */
static int slot_open(const char *repo_id, json_t *slot, const struct slot_secret *s,
                     unsigned char master[KEY_BYTES], struct cf_err *e)
{
    const char *id = json_string_value(json_object_get(slot, "id"));
    const char *kind = json_string_value(json_object_get(slot, "kind"));
    unsigned char kek[KEY_BYTES];
    int rc;

    if (id == NULL || kind == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: a key slot has no id or kind");
    if (strcmp(kind, kind_name(s->kind)) != 0)
        return 0;
    if (slot_kek(repo_id, id, s, json_object_get(slot, "kdf"), kek, e) != 0)
        return -1;
    rc = keys_slot_unwrap(kek, json_string_value(json_object_get(slot, "wrapped")), master);
    sodium_memzero(kek, sizeof(kek));
    return rc == 0 ? 1 : 0;
}

int repo_slots_new_key(const char *repo_id, enum key_mode kind, const char *file,
                       const unsigned char master[KEY_BYTES], json_t **out, struct cf_err *e)
{
    struct slot_secret s;
    struct keyring k = { .mode = kind, .have_master = true };
    char check[KEYS_CHECK_HEX];
    json_t *slot;

    if (slot_secret_load(kind, file, &s, e) != 0) {
        slot_secret_wipe(&s);
        return -1;
    }
    slot = slot_make(repo_id, NULL, &s, master, "initial", e);
    slot_secret_wipe(&s);
    if (slot == NULL)
        return -1;
    memcpy(k.master, master, KEY_BYTES);
    keys_check_value(&k, check);
    keyring_wipe(&k);
    *out = json_pack("{s:s,s:s,s:[o]}", "mode", "slots", "check", check, "slots", slot);
    return 0;
}

int repo_slots_unlock(struct repo *r, json_t *key, enum key_mode want, const char *file,
                      struct cf_err *e)
{
    json_t *slots = json_object_get(key, "slots"), *slot;
    const char *check = json_string_value(json_object_get(key, "check"));
    struct slot_secret s;
    size_t i, tried = 0;
    int rc = -1, k = 0;

    r->keys.mode = want;
    if (!json_is_array(slots) || json_array_size(slots) == 0 || check == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: key slots or check value missing");
    if (slot_secret_load(want, file, &s, e) != 0)
        goto out;
    json_array_foreach(slots, i, slot) {
        const char *kind = json_string_value(json_object_get(slot, "kind"));
        if (kind && strcmp(kind, kind_name(want)) == 0)
            tried++;
        if ((k = slot_open(r->id, slot, &s, r->keys.master, e)) != 0)
            break;
    }
    if (k < 0)
        goto out;
    if (k == 0) {
        if (tried == 0)
            cf_err_set(e, CF_E_KEY,
                       "wrong key: this %s does not unlock the repository: it has no %s slot; "
                       "HINT: give the key file or passphrase of one of its slots",
                       want == KEY_MODE_PASSPHRASE ? "passphrase" : "key file",
                       want == KEY_MODE_PASSPHRASE ? "passphrase" : "key-file");
        else
            cf_err_set(e, CF_E_KEY,
                       "wrong key: this %s does not unlock the repository (it opens none of "
                       "its %zu %s slot%s)",
                       want == KEY_MODE_PASSPHRASE ? "passphrase" : "key file", tried,
                       want == KEY_MODE_PASSPHRASE ? "passphrase" : "key-file",
                       tried == 1 ? "" : "s");
        goto out;
    }
    snprintf(r->slot_id, sizeof(r->slot_id), "%s",
             json_string_value(json_object_get(slot, "id")));
    r->keys.have_master = true;
    /* a slot opened, so the key was right: a master that fails the check is damage */
    if (keys_verify_check_value(&r->keys, check, e) != 0) {
        if (e->code == CF_E_KEY)
            cf_err_set(e, CF_E_CORRUPT,
                       "repo.json: key slot %s opens but holds another master key", r->slot_id);
        goto out;
    }
    rc = 0;
out:
    slot_secret_wipe(&s);
    return rc;
}

/* --- changes ------------------------------------------------------------------------------ */

int repo_format_version(const struct repo *r) { return r->version; }

static int load_doc(struct repo *r, json_t **out, struct cf_err *e)
{
    struct buf b = BUF_INIT;
    json_error_t jerr;
    int rc = -1;

    if (target_get_buf(r->t, REPO_JSON, 1 << 20, &b, e) != 0)
        goto out;
    *out = json_loadb(b.data, b.len, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        cf_err_set(e, CF_E_CORRUPT, "repo.json is not valid JSON (line %d: %s)", jerr.line,
                   jerr.text);
        goto out;
    }
    rc = 0;
out:
    buf_free(&b);
    return rc;
}

/* the slots can change: the repository's key is a key file or passphrase, and (unless
 * @any_version) repo.json is version 2 */
static int can_change(struct repo *r, bool any_version, struct cf_err *e)
{
    if (r->keys.mode == KEY_MODE_PUBLIC)
        return cf_err_set(e, CF_E_USAGE,
                          "this repository is sealed to a public key: it has no key slots (the "
                          "backup host holds only the public key; keep the secret key file safe "
                          "instead)");
    if (!any_version && r->version < 2)
        return cf_err_set(e, CF_E_USAGE,
                          "this is a version 1 repository: it has no key slots yet; HINT: run "
                          "'backupd key upgrade' first (older coffer versions then no longer "
                          "read it)");
    return 0;
}

typedef int (*change_fn)(struct repo *r, json_t *doc, void *arg, struct cf_err *e);

/* under locks/keys: read repo.json again, let @fn change it, and write it back in one put */
static int change(struct repo *r, const char *what, change_fn fn, void *arg, struct cf_err *e)
{
    struct lease *l = NULL;
    json_t *doc = NULL;
    char *text = NULL;
    int rc = -1;

    if (repo_lock(r, SLOT_LOCK, "keys", LEASE_DEFAULT_TTL, &l, e) != 0)
        goto out;
    if (load_doc(r, &doc, e) != 0)
        goto out;
    if (json_integer_value(json_object_get(doc, "version")) != r->version ||
        strcmp(str_or(json_string_value(json_object_get(doc, "id")), ""), r->id) != 0) {
        cf_err_set(e, CF_E_LOCKED, "repo.json changed while this command ran; HINT: run it again");
        goto out;
    }
    if (fn(r, doc, arg, e) != 0)
        goto out;
    text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        cf_err_set(e, CF_E_INTERNAL, "unable to write repo.json");
        goto out;
    }
    if (lease_keep(l, e) != 0 || target_put_buf(r->t, REPO_JSON, text, strlen(text), 0, e) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "%s", what);
    free(text);
    json_decref(doc);
    lease_release(l);
    return rc;
}

int repo_slots_list(struct repo *r, struct repo_slot_info **out, size_t *n, struct cf_err *e)
{
    json_t *doc = NULL, *slots, *slot;
    size_t i;

    *out = NULL;
    *n = 0;
    if (can_change(r, true, e) != 0)
        return -1;
    if (r->version < 2)
        return 0;
    if (load_doc(r, &doc, e) != 0)
        return -1;
    slots = json_object_get(json_object_get(doc, "key"), "slots");
    *out = cf_calloc(json_array_size(slots) + 1, sizeof(**out));
    json_array_foreach(slots, i, slot) {
        struct repo_slot_info *si = &(*out)[(*n)++];
        const char *id = json_string_value(json_object_get(slot, "id"));
        snprintf(si->id, sizeof(si->id), "%s", str_or(id, "?"));
        snprintf(si->label, sizeof(si->label), "%s",
                 str_or(json_string_value(json_object_get(slot, "label")), ""));
        snprintf(si->kind, sizeof(si->kind), "%s",
                 str_or(json_string_value(json_object_get(slot, "kind")), "?"));
        snprintf(si->created, sizeof(si->created), "%s",
                 str_or(json_string_value(json_object_get(slot, "created")), "?"));
        si->current = id && strcmp(id, r->slot_id) == 0;
    }
    json_decref(doc);
    return 0;
}

/* the slot array of @doc and the index of slot @id in it (-1: none) */
static json_t *find_slot(json_t *doc, const char *id, ssize_t *at)
{
    json_t *slots = json_object_get(json_object_get(doc, "key"), "slots"), *slot;
    size_t i;
    *at = -1;
    json_array_foreach(slots, i, slot) {
        const char *sid = json_string_value(json_object_get(slot, "id"));
        if (sid && strcmp(sid, id) == 0)
            *at = (ssize_t)i;
    }
    return slots;
}

struct add_arg {
    const struct slot_secret *s;
    const char *label;
    char *id_out;
};

static int add_fn(struct repo *r, json_t *doc, void *arg, struct cf_err *e)
{
    struct add_arg *a = arg;
    json_t *slots = json_object_get(json_object_get(doc, "key"), "slots"), *slot;
    ssize_t at;

    if (!json_is_array(slots))
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: key slots missing");
    do {   /* ids are random: a clash is unlikely, but never reuse one */
        slot = slot_make(r->id, NULL, a->s, r->keys.master, a->label, e);
        if (slot == NULL)
            return -1;
        find_slot(doc, json_string_value(json_object_get(slot, "id")), &at);
        if (at >= 0)
            json_decref(slot);
    } while (at >= 0);
    snprintf(a->id_out, 16, "%s", json_string_value(json_object_get(slot, "id")));
    json_array_append_new(slots, slot);
    return 0;
}

int repo_slot_add(struct repo *r, const char *pass_file, const char *key_file, const char *label,
                  char id_out[16], struct cf_err *e)
{
    struct slot_secret s;
    struct add_arg a = { &s, label, id_out };
    int rc;

    if (can_change(r, false, e) != 0)
        return -1;
    if ((pass_file == NULL) == (key_file == NULL))
        return cf_err_set(e, CF_E_USAGE, "key add needs --passphrase-file F or --key-file F");
    if (label && strlen(label) >= REPO_SLOT_LABEL_MAX)
        return cf_err_set(e, CF_E_USAGE, "--label is longer than %d bytes",
                          REPO_SLOT_LABEL_MAX - 1);
    rc = slot_secret_load(pass_file ? KEY_MODE_PASSPHRASE : KEY_MODE_KEYFILE,
                          pass_file ? pass_file : key_file, &s, e);
    if (rc == 0)
        rc = change(r, "unable to add a key slot", add_fn, &a, e);
    slot_secret_wipe(&s);
    if (rc == 0)
        log_info("key slot added id=%s kind=%s", id_out, pass_file ? "passphrase" : "keyfile");
    return rc;
}

static int remove_fn(struct repo *r, json_t *doc, void *arg, struct cf_err *e)
{
    const char *id = arg;
    ssize_t at;
    json_t *slots = find_slot(doc, id, &at);
    if (at < 0)
        return cf_err_set(e, CF_E_NOTFOUND,
                          "no key slot '%s'; HINT: 'backupd key list' shows the slots", id);
    if (json_array_size(slots) == 1)
        return cf_err_set(e, CF_E_USAGE,
                          "slot %s is the repository's last key slot: removing it would lock "
                          "every backup away; HINT: add another slot first ('backupd key add')",
                          id);
    if (strcmp(id, r->slot_id) == 0)
        return cf_err_set(e, CF_E_USAGE,
                          "slot %s is the one the configuration's key opened: removing it would "
                          "lock this host out; HINT: point the configuration at the key of "
                          "another slot first, then remove this one", id);
    json_array_remove(slots, (size_t)at);
    return 0;
}

int repo_slot_remove(struct repo *r, const char *id, struct cf_err *e)
{
    if (can_change(r, false, e) != 0)
        return -1;
    if (change(r, "unable to remove a key slot", remove_fn, (void *)id, e) != 0)
        return -1;
    log_info("key slot removed id=%s", id);
    return 0;
}

static int passwd_fn(struct repo *r, json_t *doc, void *arg, struct cf_err *e)
{
    const struct slot_secret *s = arg;
    ssize_t at;
    json_t *slots = find_slot(doc, r->slot_id, &at), *old, *slot;
    char now[32];

    if (at < 0)
        return cf_err_set(e, CF_E_NOTFOUND, "key slot %s was removed meanwhile", r->slot_id);
    old = json_array_get(slots, (size_t)at);
    slot = slot_make(r->id, r->slot_id, s, r->keys.master,
                     json_string_value(json_object_get(old, "label")), e);
    if (slot == NULL)
        return -1;
    json_object_set(slot, "created", json_object_get(old, "created"));
    time_format_rfc3339(time(NULL), now, sizeof(now));
    json_object_set_new(slot, "changed", json_string(now));
    json_array_set_new(slots, (size_t)at, slot);
    return 0;
}

int repo_slot_passwd(struct repo *r, const char *pass_file, struct cf_err *e)
{
    struct slot_secret s;
    int rc;

    if (can_change(r, false, e) != 0)
        return -1;
    if (r->keys.mode != KEY_MODE_PASSPHRASE)
        return cf_err_set(e, CF_E_USAGE,
                          "key passwd changes the passphrase of the slot the configuration's "
                          "passphrase-file opens, but the configuration gives a key-file; HINT: "
                          "use 'key add --passphrase-file F' and 'key remove ID'");
    rc = slot_secret_load(KEY_MODE_PASSPHRASE, pass_file, &s, e);
    if (rc == 0)
        rc = change(r, "unable to change the passphrase", passwd_fn, &s, e);
    slot_secret_wipe(&s);
    if (rc == 0)
        log_info("key slot passphrase changed id=%s", r->slot_id);
    return rc;
}

static int upgrade_fn(struct repo *r, json_t *doc, void *arg, struct cf_err *e)
{
    const struct slot_secret *s = arg;
    json_t *key = json_object_get(doc, "key"), *slot;
    const char *check = json_string_value(json_object_get(key, "check"));

    if (check == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: key check value missing");
    slot = slot_make(r->id, NULL, s, r->keys.master, "upgraded", e);
    if (slot == NULL)
        return -1;
    /* the master and so the check value stay; the version 1 derivation goes */
    json_object_set_new(doc, "key", json_pack("{s:s,s:s,s:[o]}", "mode", "slots", "check", check,
                                              "slots", slot));
    json_object_set_new(doc, "version", json_integer(REPO_VERSION));
    snprintf(r->slot_id, sizeof(r->slot_id), "%s", json_string_value(json_object_get(slot, "id")));
    return 0;
}

int repo_slots_upgrade(struct repo *r, struct cf_err *e)
{
    struct slot_secret s;
    enum key_mode mode;
    const char *file;
    int rc;

    if (can_change(r, true, e) != 0)
        return -1;
    if (r->version >= 2)
        return cf_err_set(e, CF_E_EXISTS, "the repository is version %d already: it has key "
                          "slots ('backupd key list')", r->version);
    if (repo_conf_key_mode(r->conf->repository, &mode, &file, e) != 0)
        return -1;
    rc = slot_secret_load(mode, file, &s, e);
    if (rc == 0)
        rc = change(r, "unable to upgrade repo.json", upgrade_fn, &s, e);
    slot_secret_wipe(&s);
    if (rc == 0) {
        r->version = REPO_VERSION;
        log_info("repository upgraded to format version %d slot=%s", REPO_VERSION, r->slot_id);
    }
    return rc;
}
