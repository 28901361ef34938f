/* test_chk_pgtar.c - the proof that pg_basebackup's tar stream is whole (chk_pgtar.c): a
 * whole stream passes with its facts kept, a stream cut anywhere fails, a stream without
 * backup_label, pg_control or backup_manifest fails naming it, bytes after the end fail. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/source/chk.h"
#include "unit.h"

static const char label[] = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                            "START TIMELINE: 1\n";
static const char manifest[] = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"WAL-Ranges\": [\n"
                               "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": "
                               "\"0/2000100\" }\n],\n\"Manifest-Checksum\": \"00\"}\n";

/* a tar like pg_basebackup's: backup_label, a data file, global/pg_control, the manifest
 * (@skip: a member name to leave out) */
static size_t make_tar(unsigned char *out, size_t cap, const char *skip)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    unsigned char ctl[8192] = { 0 };
    unsigned char data[70000];
    uint64_t sysid = UINT64_C(7312345678901234567);
    memcpy(ctl, &sysid, 8);
    memset(data, 'd', sizeof(data));
    struct { const char *name; const void *p; size_t n; } m[] = {
        { "backup_label", label, sizeof(label) - 1 },
        { "base/1/1259", data, sizeof(data) },
        { "global/pg_control", ctl, sizeof(ctl) },
        { "backup_manifest", manifest, sizeof(manifest) - 1 },
    };
    archive_write_set_format_ustar(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open_memory(a, out, cap, &used);
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (skip && strcmp(skip, m[i].name) == 0)
            continue;
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].n);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        archive_write_header(a, e);
        archive_write_data(a, m[i].p, m[i].n);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static int check_bytes(const unsigned char *p, size_t n, struct pgtar_summary *s,
                       struct cf_err *e)
{
    FILE *f = tmpfile();
    fwrite(p, 1, n, f);
    fflush(f);
    rewind(f);
    struct src_reader r;
    src_reader_init(&r, fileno(f), "pg_basebackup output", NULL, NULL);
    int rc = pgtar_check(&r, s, e);
    src_reader_free(&r);
    fclose(f);
    return rc;
}

static unsigned char tar[200000];

TEST(whole)
{
    size_t n = make_tar(tar, sizeof(tar), NULL);
    struct pgtar_summary s;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(check_bytes(tar, n, &s, &e), 0);
    CHECK_EQ_INT(s.members, 4);
    CHECK(strstr(s.label.data, "START TIMELINE: 1") != NULL);
    CHECK(strstr(s.manifest_tail.data, "\"End-LSN\": \"0/2000100\"") != NULL);
    CHECK(s.system_identifier == UINT64_C(7312345678901234567));
    pgtar_summary_free(&s);
}

TEST(cut_anywhere)
{
    size_t n = make_tar(tar, sizeof(tar), NULL);
    unsigned bad = 0, tried = 0;
    for (size_t cut = 0; cut < n - 1024; cut += 97) {
        struct pgtar_summary s;
        struct cf_err e = CF_ERR_INIT;
        tried++;
        if (check_bytes(tar, cut, &s, &e) == 0 || e.code != CF_E_CORRUPT)
            bad++;
        pgtar_summary_free(&s);
    }
    CHECK(tried > 100);
    CHECK_EQ_INT(bad, 0);
}

TEST(missing_members)
{
    const char *names[] = { "backup_label", "global/pg_control", "backup_manifest" };
    for (size_t i = 0; i < 3; i++) {
        size_t n = make_tar(tar, sizeof(tar), names[i]);
        struct pgtar_summary s;
        struct cf_err e = CF_ERR_INIT;
        CHECK_EQ_INT(check_bytes(tar, n, &s, &e), -1);
        CHECK_MSG(e, names[i]);
        pgtar_summary_free(&s);
    }
}

TEST(data_after_end)
{
    size_t n = make_tar(tar, sizeof(tar), NULL);
    tar[n] = 'x';
    struct pgtar_summary s;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(check_bytes(tar, n + 1, &s, &e), -1);
    CHECK_MSG(e, "data after the end of the archive");
    pgtar_summary_free(&s);
}

int main(void)
{
    RUN(whole);
    RUN(cut_anywhere);
    RUN(missing_members);
    RUN(data_after_end);
    return unit_done();
}
