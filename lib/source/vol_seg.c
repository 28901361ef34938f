/* vol_seg.c - a volume in layout 3 (docs/FORMAT.md "Volume backups, layout 3").
 *
 * Export walks the tree as layout 1 does and writes the same pax entries, but into a
 * segmented stream: before each entry the stream may start a new segment and says where the
 * entry lands. A file or symlink that the parent's index lists with the same type, size,
 * times, inode and device, both times before the parent started, is not read: its index
 * entry is the parent's. Every other entry is stored. The index lists the whole tree.
 *
 * The walk itself is stat alone: what the comparison needs. xattrs, ACLs, file flags and the
 * sparse map (an open, ioctls and seeks per file, most of a no-change run's time) are read
 * only for an entry that is stored, through a descriptor of its own. An unchanged ctime says
 * they are unchanged too: the kernel moves ctime on every xattr, ACL, mode or owner change.
 *
 * Extraction reads the segments the index names, each once, and extracts the entries at
 * their offsets with layout 1's secure flags; hard links last, so that their targets exist. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "tar_extract.h"
#include "vol_int.h"

static int64_t ns(time_t s, long nsec)
{
    return (int64_t)s * 1000000000 + nsec;
}

static const char *type_name(struct archive_entry *en)
{
    if (archive_entry_hardlink(en) != NULL)
        return "hardlink";
    switch (archive_entry_filetype(en)) {
    case AE_IFREG: return "file";
    case AE_IFDIR: return "dir";
    case AE_IFLNK: return "symlink";
    case AE_IFIFO: return "fifo";
    case AE_IFCHR: return "chr";
    case AE_IFBLK: return "blk";
    case AE_IFSOCK: return "sock";
    default: return "other";
    }
}

/* the index entry's name field: "path" when UTF-8, else "path_hex" */
static void set_path(json_t *o, const char *key, const char *p)
{
    json_t *s = json_string(p);
    if (s != NULL) {
        json_object_set_new(o, key, s);
        return;
    }
    size_t n = strlen(p);
    char *hex = cf_malloc(2 * n + 1);
    hex_encode((const unsigned char *)p, n, hex);
    char k[32];
    snprintf(k, sizeof(k), "%s_hex", key);
    json_object_set_new(o, k, json_string(hex));
    free(hex);
}

/* the raw name of an index entry (for the parent's map); NULL when it has none */
static char *entry_path(const json_t *o)
{
    const char *p = json_string_value(json_object_get(o, "path"));
    const char *h = json_string_value(json_object_get(o, "path_hex"));
    if (p)
        return cf_strdup(p);
    if (h == NULL)
        return NULL;
    size_t n = strlen(h) / 2;
    char *out = cf_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (char)v;
    }
    out[n] = '\0';
    return out;
}

static bool same_i(const json_t *o, const char *k, int64_t v)
{
    const json_t *j = json_object_get(o, k);
    return json_is_integer(j) && json_integer_value(j) == v;
}

struct walk {
    json_t *entries, *pmap;
    int64_t pstart;
    const char *id;
    uint64_t files, dirs, others, excluded, files_new, files_ref, bytes_ref;
    uint64_t file_bytes;   /* of the regular files in the tree, stored or referenced */
};

/* the parent's entry for @rel when the file is unchanged since (see the file's comment) */
static json_t *unchanged(struct walk *w, const char *rel, struct archive_entry *en,
                         const char *type, int64_t mt, int64_t ct)
{
    json_t *pe;
    if (w->pmap == NULL || (strcmp(type, "file") != 0 && strcmp(type, "symlink") != 0))
        return NULL;
    pe = json_object_get(w->pmap, rel);
    if (pe == NULL || !json_is_string(json_object_get(pe, "type")) ||
        strcmp(json_string_value(json_object_get(pe, "type")), type) != 0)
        return NULL;
    if (!same_i(pe, "size", archive_entry_size(en)) || !same_i(pe, "mtime_ns", mt) ||
        !same_i(pe, "ctime_ns", ct) || !same_i(pe, "ino", (int64_t)archive_entry_ino64(en)) ||
        !same_i(pe, "dev", (int64_t)archive_entry_dev(en)) || mt >= w->pstart ||
        ct >= w->pstart)
        return NULL;
    return json_is_array(json_object_get(pe, "at")) ? pe : NULL;
}

/* what the walk left out of @en (xattrs, ACLs, file flags, the sparse map), read as layout 1's
 * walk reads it: 0, or 1 when the entry is passed over (a warning, as that walk would) */
static int meta_fill(const struct volume *v, struct archive *meta, struct archive_entry *en,
                     const char *rel, struct export_ctx *x)
{
    struct stat st = *archive_entry_stat(en);
    char *full = strcmp(rel, ".") == 0 ? cf_strdup(v->path)
                                       : cf_asprintf("%s/%s", strcmp(v->path, "/") == 0 ? "" :
                                                     v->path, rel);
    int fd = -1, r;

    /* a descriptor for what libarchive would open itself; never a device or fifo */
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        struct stat fst;
        fd = open(full, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        /* O_NOFOLLOW guards the last name only: a directory above it swapped for a symlink
         * since the walk would give another file's xattrs and ACLs; the inode must be the one
         * the walk saw */
        if (fd >= 0 && (fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev ||
                        fst.st_ino != st.st_ino)) {
            close(fd);
            free(full);
            vol_warn(x, "'%s' skipped: replaced while the backup read it", rel);
            return 1;
        }
    }
    archive_entry_copy_sourcepath(en, full);
    r = archive_read_disk_entry_from_file(meta, en, fd, &st);
    if (fd >= 0)
        close(fd);
    free(full);
    if (r < ARCHIVE_WARN) {
        vol_warn(x, "'%s' skipped: %s", rel, archive_error_string(meta));
        return 1;
    }
    if (r == ARCHIVE_WARN)
        vol_warn(x, "'%s': %s", rel, archive_error_string(meta));
    return 0;
}

/* store the entry: mark, header, data, its index entry */
static int store(struct walk *w, struct archive *in, struct archive *ar,
                 struct archive_entry *en, const char *rel, const char *type, int64_t mt,
                 int64_t ct, struct export_ctx *x, struct cf_err *e)
{
    crypto_generichash_state hs;
    unsigned char h[32];
    char hex[65];
    uint32_t n;
    uint64_t off, w0;
    bool is_file = strcmp(type, "file") == 0;
    int r;

    if (source_out_seg_mark(x->out, &n, &off, e) != 0)
        return -1;
    w0 = x->written;
    r = archive_write_header(ar, en);
    if (r == ARCHIVE_FATAL)
        return cf_err_set(e, e->code ? e->code : CF_E_SOURCE, "writing '%s': %s", rel,
                          e->code ? e->msg : archive_error_string(ar));
    if (r == ARCHIVE_FAILED) {
        vol_warn(x, "'%s' skipped: %s", rel, archive_error_string(ar));
        return 0;
    }
    if (r == ARCHIVE_WARN)
        vol_warn(x, "'%s': %s", rel, archive_error_string(ar));
    if (is_file) {
        crypto_generichash_init(&hs, NULL, 0, 32);
        x->hash = &hs;
        if (archive_entry_size(en) > 0 && vol_copy_file_data(in, ar, en, rel, x) != 0) {
            x->hash = NULL;
            if (e->code == CF_E_OK)
                cf_err_set(e, CF_E_SOURCE, "reading '%s': %s", rel, archive_error_string(in));
            return -1;
        }
        x->hash = NULL;
    }
    if (archive_write_finish_entry(ar) < ARCHIVE_WARN) {
        if (e->code == CF_E_OK)
            cf_err_set(e, CF_E_SOURCE, "writing '%s': %s", rel, archive_error_string(ar));
        return -1;
    }
    json_t *o = json_object();
    set_path(o, "path", rel);
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "mode", json_integer(archive_entry_mode(en) & 07777));
    json_object_set_new(o, "uid", json_integer(archive_entry_uid(en)));
    json_object_set_new(o, "gid", json_integer(archive_entry_gid(en)));
    json_object_set_new(o, "mtime_ns", json_integer(mt));
    json_object_set_new(o, "ctime_ns", json_integer(ct));
    json_object_set_new(o, "size", json_integer(archive_entry_size(en)));
    json_object_set_new(o, "ino", json_integer((json_int_t)archive_entry_ino64(en)));
    json_object_set_new(o, "dev", json_integer((json_int_t)archive_entry_dev(en)));
    if (archive_entry_hardlink(en))
        set_path(o, "link", archive_entry_hardlink(en));
    if (is_file) {
        crypto_generichash_final(&hs, h, sizeof(h));
        hex_encode(h, sizeof(h), hex);
        json_object_set_new(o, "blake2b", json_string(hex));
        w->files_new++;
    }
    json_object_set_new(o, "at", json_pack("[s,i,I,I]", w->id, (int)n, (json_int_t)off,
                                           (json_int_t)(x->written - w0)));
    json_array_append_new(w->entries, o);
    return 0;
}

int vol_seg_export(struct volume *v, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct archive *in = NULL, *ar = NULL, *meta = archive_read_disk_new();
    struct archive_entry_linkresolver *res = NULL;
    struct archive_entry *entry = NULL, *spare = NULL;
    struct export_ctx x = { out, json_array(), 0, e, 0, NULL };
    json_t *parent = source_out_seg_parent(out), *pe;
    const int stat_only = ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                          ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE;
    struct walk w;
    size_t i;
    struct timespec ts;
    int rc = -1;

    memset(&w, 0, sizeof(w));
    clock_gettime(CLOCK_REALTIME, &ts);
    w.entries = json_array();
    w.id = source_out_seg_id(out);
    if (parent) {
        w.pmap = json_object();
        w.pstart = (int64_t)json_integer_value(json_object_get(parent, "started_ns"));
        json_array_foreach(json_object_get(parent, "entries"), i, pe) {
            char *p = entry_path(pe);
            if (p)
                json_object_set_nocheck(w.pmap, p, pe);
            free(p);
        }
    }
    if (meta == NULL) {
        cf_err_set(e, CF_E_NOMEM, "libarchive: out of memory");
        goto out;
    }
    archive_read_disk_set_standard_lookup(meta);
    archive_read_disk_set_symlink_physical(meta);
    if (vol_archives_open(v, &x, stat_only, &in, &ar, &res, e) != 0)
        goto out;
    for (;;) {
        char rel[4096 + 2];
        int k = vol_walk_next(v, in, &x, rel, sizeof(rel), &entry, &w.excluded, e);
        if (k <= 0) {
            if (k < 0)
                goto out;
            break;
        }
        bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
        archive_entry_copy_pathname(entry, rel);
        int64_t mt = ns(archive_entry_mtime(entry), archive_entry_mtime_nsec(entry));
        int64_t ct = ns(archive_entry_ctime(entry), archive_entry_ctime_nsec(entry));
        /* a single link (which the link resolver leaves alone) is compared on its stat */
        const char *type = archive_entry_nlink(entry) == 1 ? type_name(entry) : "";
        if ((pe = unchanged(&w, rel, entry, type, mt, ct)) == NULL) {
            if (meta_fill(v, meta, entry, rel, &x) != 0) {
                archive_entry_free(entry);
                entry = NULL;
                continue;
            }
            archive_entry_linkify(res, &entry, &spare);
            if (entry == NULL)
                continue;
            type = type_name(entry);
            pe = unchanged(&w, rel, entry, type, mt, ct);   /* the first of several links */
        }
        if (pe != NULL) {
            json_array_append(w.entries, pe);
            if (strcmp(type, "file") == 0) {
                w.files_ref++;
                w.bytes_ref += (uint64_t)archive_entry_size(entry);
            }
        } else if (store(&w, in, ar, entry, rel, type, mt, ct, &x, e) != 0) {
            goto out;
        }
        if (is_dir)
            w.dirs++;
        else if (archive_entry_filetype(entry) == AE_IFREG) {
            w.files++;
            w.file_bytes += (uint64_t)archive_entry_size(entry);
        } else {
            w.others++;
        }
        archive_entry_free(entry);
    }
    archive_entry_free(entry);
    entry = NULL;
    if (archive_write_close(ar) != ARCHIVE_OK) {
        if (e->code == CF_E_OK)
            cf_err_set(e, CF_E_SOURCE, "libarchive: %s", archive_error_string(ar));
        goto out;
    }
    json_t *index = json_pack("{s:I,s:O}", "started_ns", (json_int_t)ns(ts.tv_sec, ts.tv_nsec),
                              "entries", w.entries);
    if (source_out_seg_index(out, index, e) != 0)
        goto out;
    json_object_set_new(info, "path", json_string(v->path));
    json_object_set_new(info, "files", json_integer((json_int_t)w.files));
    json_object_set_new(info, "file_bytes", json_integer((json_int_t)w.file_bytes));
    json_object_set_new(info, "directories", json_integer((json_int_t)w.dirs));
    json_object_set_new(info, "other_entries", json_integer((json_int_t)w.others));
    json_object_set_new(info, "excluded", json_integer((json_int_t)w.excluded));
    json_object_set_new(info, "files_new", json_integer((json_int_t)w.files_new));
    json_object_set_new(info, "files_referenced", json_integer((json_int_t)w.files_ref));
    json_object_set_new(info, "warning_count", json_integer(x.nwarn));
    json_object_set(info, "warnings", x.warnings);
    log_info("volume read path=%s files=%" PRIu64 " new=%" PRIu64 " referenced=%" PRIu64
             " directories=%" PRIu64 " excluded=%" PRIu64 " warnings=%u", v->path, w.files,
             w.files_new, w.files_ref, w.dirs, w.excluded, x.nwarn);
    rc = 0;
out:
    archive_entry_free(entry);
    archive_entry_free(spare);
    vol_archives_close(in, ar, res);
    if (meta)
        archive_read_free(meta);
    json_decref(x.warnings);
    json_decref(w.entries);
    json_decref(w.pmap);
    return rc;
}

/* ---- extraction ---- */

struct want {
    size_t entry;
    uint64_t off;
};

struct segw {
    const char *id;
    uint32_t n;
    struct want *w;
    size_t cnt, cap;
};

struct rd {
    struct source_in *in;
    char *buf;
    struct cf_err *e;
};

static la_ssize_t seg_read(struct archive *a, void *arg, const void **buf)
{
    struct rd *c = arg;
    ssize_t n = source_in_read(c->in, c->buf, 1 << 20, c->e);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", c->e->msg);
        return -1;
    }
    *buf = c->buf;
    return n;
}

static int want_cmp(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* the entries of @s (sorted by offset) from its segment */
static int extract_segment(struct source_in *in, json_t *entries, struct segw *s,
                           struct archive *dw, char *buf, struct cf_err *e)
{
    struct rd c = { in, buf, e };
    struct archive *ar = archive_read_new();
    struct archive_entry *en;
    size_t k = 0;
    int rc = -1, r;

    archive_read_support_format_tar(ar);
    if (source_in_seg_open(in, s->id, s->n, e) != 0)
        goto out;
    if (archive_read_open(ar, &c, NULL, seg_read, NULL) != ARCHIVE_OK) {
        if (e->code == CF_E_OK)
            cf_err_set(e, CF_E_CORRUPT, "not a pax segment: %s", archive_error_string(ar));
        goto bad;
    }
    while (k < s->cnt) {
        r = archive_read_next_header(ar, &en);
        if (r == ARCHIVE_EOF || (r != ARCHIVE_OK && r != ARCHIVE_WARN)) {
            if (e->code == CF_E_OK)
                cf_err_set(e, CF_E_CORRUPT, "the segment ends before the entry at offset %"
                           PRIu64 " %s", s->w[k].off, r == ARCHIVE_EOF ? "" :
                           archive_error_string(ar));
            goto bad;
        }
        uint64_t pos = (uint64_t)archive_read_header_position(ar);
        if (pos < s->w[k].off)
            continue;   /* an entry this backup does not take */
        json_t *ie = json_array_get(entries, s->w[k].entry);
        char *want = entry_path(ie);
        const char *got = archive_entry_pathname(en);
        size_t gl = got ? strlen(got) : 0;
        while (gl > 1 && got[gl - 1] == '/')
            gl--;
        bool same = want && got && pos == s->w[k].off && strlen(want) == gl &&
                    memcmp(want, got, gl) == 0;
        free(want);
        if (!same) {
            cf_err_set(e, CF_E_CORRUPT, "the index's entry %zu is not at offset %" PRIu64
                       " (found '%s')", s->w[k].entry, s->w[k].off, got ? got : "?");
            goto bad;
        }
        if (src_tar_extract_entry(ar, dw, en, "volume stream", e) != 0)
            goto out;
        k++;
    }
    /* the rest of the segment is read too, so that its end is checked (FINAL, size, frame) */
    {
        ssize_t nr;
        while ((nr = source_in_read(in, buf, 1 << 20, e)) > 0)
            ;
        if (nr < 0)
            goto out;
    }
    rc = 0;
    goto out;
bad:
    if (strstr(e->msg, " of backup ") == NULL)   /* the stream's errors name the object */
        cf_err_ctx(e, "object %u of backup %s", s->n, s->id);
out:
    archive_read_free(ar);
    return rc;
}

int vol_seg_extract(struct source_in *in, json_t *index, struct cf_err *e)
{
    json_t *entries = json_object_get(index, "entries"), *ie, *slot = json_object();
    struct segw *segs[2] = { NULL, NULL };
    size_t nsegs[2] = { 0, 0 }, i;
    struct archive *dw = archive_write_disk_new();
    char *buf = cf_malloc(1 << 20), key[160], msg[512];
    int rc = -1;

    archive_write_disk_set_options(dw, SRC_TAR_EXTRACT_FLAGS);
    archive_write_disk_set_standard_lookup(dw);
    /* the segments in the order of first use; hard links in a pass of their own, last */
    json_array_foreach(entries, i, ie) {
        json_t *at = json_object_get(ie, "at");
        const char *id = json_string_value(json_array_get(at, 0));
        const char *type = json_string_value(json_object_get(ie, "type"));
        json_int_t n = json_integer_value(json_array_get(at, 1));
        json_int_t off = json_integer_value(json_array_get(at, 2));
        int pass = type && strcmp(type, "hardlink") == 0;
        if (id == NULL || n < 0 || n > UINT32_MAX || off < 0) {
            cf_err_set(e, CF_E_CORRUPT, "the index's entry %zu has no place", i);
            goto out;
        }
        snprintf(key, sizeof(key), "%d/%s/%lld", pass, id, (long long)n);
        json_t *sl = json_object_get(slot, key);
        if (sl == NULL) {
            segs[pass] = cf_realloc(segs[pass], (nsegs[pass] + 1) * sizeof(struct segw));
            memset(&segs[pass][nsegs[pass]], 0, sizeof(struct segw));
            segs[pass][nsegs[pass]].id = id;
            segs[pass][nsegs[pass]].n = (uint32_t)n;
            json_object_set_new(slot, key, sl = json_integer((json_int_t)nsegs[pass]++));
        }
        struct segw *s = &segs[pass][json_integer_value(sl)];
        if (s->cnt == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 16;
            s->w = cf_realloc(s->w, s->cap * sizeof(*s->w));
        }
        s->w[s->cnt].entry = i;
        s->w[s->cnt++].off = (uint64_t)off;
    }
    for (int pass = 0; pass < 2; pass++)
        for (i = 0; i < nsegs[pass]; i++) {
            struct segw *s = &segs[pass][i];
            qsort(s->w, s->cnt, sizeof(*s->w), want_cmp);
            if (extract_segment(in, entries, s, dw, buf, e) != 0)
                goto out;
        }
    if (archive_write_close(dw) != ARCHIVE_OK) {
        snprintf(msg, sizeof(msg), "%s", archive_error_string(dw));
        cf_err_set(e, CF_E_IO, "unable to finish the restore: %s", msg);
        goto out;
    }
    rc = 0;
out:
    for (int pass = 0; pass < 2; pass++) {
        for (i = 0; i < nsegs[pass]; i++)
            free(segs[pass][i].w);
        free(segs[pass]);
    }
    archive_write_free(dw);
    json_decref(slot);
    free(buf);
    return rc;
}
