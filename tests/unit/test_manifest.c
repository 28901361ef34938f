/* test_manifest.c - the manifest's JSON: format 1 unchanged, the fields of a layout 3 volume
 * backup (parent, chain, index, refs, bytes_referenced) written and read back, and which data
 * objects a prune's marks keep (repo_key_marked). */
#include "unit.h"
#include "core/err.h"
#include "repo/manifest.h"
#include "repo/repo_seg.h"

TEST(format1_has_no_layout3_fields)
{
    struct manifest *m = manifest_new();
    json_t *j = manifest_to_json(m);
    CHECK(j != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "format")), 1);
    CHECK(json_object_get(j, "refs") == NULL);
    CHECK(json_object_get(j, "index") == NULL);
    CHECK(json_is_null(json_object_get(j, "parent")));
    json_decref(j);
    manifest_free(m);
}

TEST(format3_round_trip)
{
    struct manifest *m = manifest_new(), *back = NULL;
    struct cf_err e = CF_ERR_INIT;
    m->format = MANIFEST_FORMAT_SEG;
    m->has_parent = true;
    snprintf(m->parent.source, sizeof(m->parent.source), "media");
    snprintf(m->parent.id, sizeof(m->parent.id), "20261122T031500Z-4071a2b3");
    m->chain = 2;
    m->index_size = 4242;
    snprintf(m->index_blake2b, sizeof(m->index_blake2b), "%064d", 7);
    m->refs = json_pack("[{s:s,s:i,s:i,s:s}]", "id", "20261122T031500Z-4071a2b3", "n", 3,
                        "size", 1000, "blake2b", "ab");
    m->bytes_referenced = 1000;
    manifest_object_add(m, 0, 77, "cd");
    json_t *j = manifest_to_json(m);
    CHECK(manifest_from_json(j, &back, &e) == 0);
    CHECK_EQ_INT(back->format, 3);
    CHECK(back->has_parent);
    CHECK_STR(back->parent.id, "20261122T031500Z-4071a2b3");
    CHECK_EQ_INT(back->chain, 2);
    CHECK_EQ_INT(back->index_size, 4242);
    CHECK_STR(back->index_blake2b, m->index_blake2b);
    CHECK_EQ_INT(json_array_size(back->refs), 1);
    CHECK_EQ_INT(back->bytes_referenced, 1000);
    json_t *d = manifest_details_json(back);
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "bytes_referenced")), 1000);
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "bytes_new")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(d, "layout")), 3);
    json_decref(d);
    json_decref(j);
    manifest_free(back);
    manifest_free(m);
}

TEST(marks)
{
    json_t *marks = json_object();
    json_object_set_new(marks, "20261122T031500Z-4071a2b3/3", json_true());
    CHECK(repo_key_marked("backups/media/20261122T031500Z-4071a2b3/data/00000003", marks));
    CHECK(!repo_key_marked("backups/media/20261122T031500Z-4071a2b3/data/00000004", marks));
    CHECK(!repo_key_marked("backups/media/20261122T031500Z-4071a2b3/index", marks));
    CHECK(!repo_key_marked("backups/media/20261122T031500Z-4071a2b3/manifest", marks));
    CHECK(!repo_key_marked("backups/media/20261122T031500Z-4071a2b3/data/00000003", NULL));
    json_decref(marks);
}

int main(void)
{
    RUN(format1_has_no_layout3_fields);
    RUN(format3_round_trip);
    RUN(marks);
    return unit_done();
}
