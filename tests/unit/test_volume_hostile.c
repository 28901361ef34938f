/* test_volume_hostile.c - a backup whose volume stream was crafted to escape the restore
 * directory: each is refused with a clear error, nothing is written outside, and nothing that
 * looks like a finished restore is left behind. */
#include "unit.h"
#include "fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>

struct ent {
    const char *name;
    int type;             /* AE_IFREG, AE_IFDIR, AE_IFLNK */
    const char *link;     /* symlink target, or hard link target with type 0 */
    const char *data;
};

/* a pax archive of @ents in @out */
static void make_pax(const struct ent *ents, struct buf *out)
{
    struct archive *a = archive_write_new();
    size_t cap = 1 << 20, used = 0;
    char *mem = cf_malloc(cap);
    archive_write_set_format_pax(a);
    archive_write_open_memory(a, mem, cap, &used);
    for (const struct ent *x = ents; x->name; x++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, x->name);
        if (x->type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, x->link);
        } else {
            archive_entry_set_filetype(e, (unsigned)x->type);
        }
        archive_entry_set_perm(e, 0644);
        if (x->type == AE_IFLNK)
            archive_entry_set_symlink(e, x->link);
        if (x->data)
            archive_entry_set_size(e, (la_int64_t)strlen(x->data));
        archive_write_header(a, e);
        if (x->data)
            archive_write_data(a, x->data, strlen(x->data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    buf_append(out, mem, used);
    free(mem);
}

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static bool partial_left(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;
    while (d && (de = readdir(d)) != NULL)
        if (strstr(de->d_name, "coffer-partial"))
            found = true;
    if (d)
        closedir(d);
    return found;
}

/* back up @stream as if it were a volume, restore it into @f->dir/out, expect failure */
static void expect_refused(const struct buf *stream, const char *needle)
{
    struct fixture f;
    struct memsrc m = { (const unsigned char *)stream->data, stream->len, -1, BUF_INIT };
    struct source mem = { &memsrc_ops, &m, "media" };
    struct source *vol = NULL;
    struct backup_result res;
    struct restore_opts o = { 0 };
    struct cf_err e = CF_ERR_INIT;
    struct manifest *man = NULL;

    CHECK(fixture_open(&f, NULL) == 0);
    CHECK(pipeline_backup(f.repo, &mem, &f.so, NULL, &res, NULL, &e) == 0);
    CHECK(repo_manifest_load(f.repo, "media", res.id, &man, &e) == 0);
    CHECK(source_open(conf_source(f.conf, "media"), &vol, &e) == 0);
    char *out = cf_asprintf("%s/restore/out", f.dir);
    char *parent = cf_asprintf("%s/restore", f.dir);
    o.to_dir = out;
    CHECK(pipeline_restore(f.repo, vol, man, &o, &e) != 0);
    CHECK_MSG(e, needle);
    CHECK(!exists(out));
    CHECK(!partial_left(parent));
    char *escape = cf_asprintf("%s/escape", f.dir);
    CHECK(!exists(escape));
    free(escape);
    free(out);
    free(parent);
    manifest_free(man);
    source_close(vol);
    fixture_close(&f);
}

TEST(dotdot_is_refused)
{
    struct buf b = BUF_INIT;
    const struct ent ents[] = { { "ok.txt", AE_IFREG, NULL, "fine" },
                                { "../../escape", AE_IFREG, NULL, "evil" },
                                { NULL, 0, NULL, NULL } };
    make_pax(ents, &b);
    expect_refused(&b, "refusing entry '../../escape'");
    buf_free(&b);
}

TEST(absolute_path_is_refused)
{
    struct buf b = BUF_INIT;
    const struct ent ents[] = { { "/tmp/coffer-absolute-escape", AE_IFREG, NULL, "evil" },
                                { NULL, 0, NULL, NULL } };
    make_pax(ents, &b);
    expect_refused(&b, "refusing entry '/tmp/coffer-absolute-escape'");
    CHECK(!exists("/tmp/coffer-absolute-escape"));
    buf_free(&b);
}

TEST(write_through_symlink_is_refused)
{
    char outside[] = "/tmp/coffer-outside.XXXXXX";
    struct buf b = BUF_INIT;
    CHECK(mkdtemp(outside) != NULL);
    const struct ent ents[] = { { "link", AE_IFLNK, outside, NULL },
                                { "link/evil", AE_IFREG, NULL, "evil" },
                                { NULL, 0, NULL, NULL } };
    make_pax(ents, &b);
    expect_refused(&b, "link/evil");
    char *p = cf_asprintf("%s/evil", outside);
    CHECK(!exists(p));
    free(p);
    rmdir(outside);
    buf_free(&b);
}

TEST(hard_link_out_of_tree_is_refused)
{
    struct buf b = BUF_INIT;
    const struct ent ents[] = { { "h", 0, "../../../etc/passwd", NULL },
                                { NULL, 0, NULL, NULL } };
    make_pax(ents, &b);
    expect_refused(&b, "linked to ../../../etc/passwd");
    buf_free(&b);
}

TEST(garbage_is_not_a_volume)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < 2000; i++)
        buf_puts(&b, "this is not a tar archive at all ");
    expect_refused(&b, "volume stream");
    buf_free(&b);
}

int main(void)
{
    struct cf_err e = CF_ERR_INIT;
    if (keys_init(&e) != 0)
        return 1;
    RUN(dotdot_is_refused);
    RUN(absolute_path_is_refused);
    RUN(write_through_symlink_is_refused);
    RUN(hard_link_out_of_tree_is_refused);
    RUN(garbage_is_not_a_volume);
    return unit_done();
}
