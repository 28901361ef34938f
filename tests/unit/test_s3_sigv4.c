/* test_s3_sigv4.c - SigV4 signing against AWS's published examples, canonical query strings
 * and URI encoding. Covers lib/storage/s3/s3_sigv4.c. */
#include <sodium.h>

#include "core/buf.h"
#include "storage/s3/s3_sigv4.h"
#include "unit.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define EX_KEY "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* "Example: GET Object" of the S3 SigV4 documentation (Authorization header) */
TEST(aws_get_object_example)
{
    const struct s3_pair hdr[] = {
        { "x-amz-date", "20130524T000000Z" },
        { "range", "bytes=0-9" },
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-content-sha256", EMPTY_SHA },
    };
    struct s3_sign s = { "GET", "/test.txt", "", hdr, 4, EMPTY_SHA, "20130524T000000Z",
                         "us-east-1", "s3", EX_KEY, EX_SECRET };
    struct buf b = BUF_INIT;
    char sig[65];

    s3_canonical_request(&s, &b);
    CHECK_STR(b.data, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                      "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
                      "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    buf_reset(&b);
    s3_string_to_sign(&s, &b);
    CHECK_STR(b.data, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    s3_signature(&s, sig);
    CHECK_STR(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    buf_reset(&b);
    s3_authorization(&s, &b);
    CHECK_STR(b.data, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                      "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    buf_free(&b);
}

/* "Example: GET Bucket (List Objects)": a query string built from unsorted parameters */
TEST(aws_list_objects_example)
{
    const struct s3_pair q[] = { { "prefix", "J" }, { "max-keys", "2" } };
    const struct s3_pair hdr[] = {
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-date", "20130524T000000Z" },
        { "x-amz-content-sha256", EMPTY_SHA },
    };
    struct buf query = BUF_INIT;
    char sig[65];

    s3_query_build(q, 2, &query);
    CHECK_STR(query.data, "max-keys=2&prefix=J");
    struct s3_sign s = { "GET", "/", query.data, hdr, 3, EMPTY_SHA, "20130524T000000Z",
                         "us-east-1", "s3", EX_KEY, EX_SECRET };
    s3_signature(&s, sig);
    CHECK_STR(sig, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    buf_free(&query);
}

/* "Example: GET Bucket Lifecycle": a parameter without a value is signed as "lifecycle=" */
TEST(aws_get_lifecycle_example)
{
    const struct s3_pair q[] = { { "lifecycle", NULL } };
    const struct s3_pair hdr[] = {
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-date", "20130524T000000Z" },
        { "x-amz-content-sha256", EMPTY_SHA },
    };
    struct buf query = BUF_INIT;
    char sig[65];

    s3_query_build(q, 1, &query);
    CHECK_STR(query.data, "lifecycle=");
    struct s3_sign s = { "GET", "/", query.data, hdr, 3, EMPTY_SHA, "20130524T000000Z",
                         "us-east-1", "s3", EX_KEY, EX_SECRET };
    s3_signature(&s, sig);
    CHECK_STR(sig, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    buf_free(&query);
}

/* AWS SigV4 test suite, get-vanilla-query-order-key-case: parameters sorted by name */
TEST(aws_suite_query_order)
{
    const struct s3_pair q[] = { { "Param2", "value2" }, { "Param1", "value1" } };
    const struct s3_pair hdr[] = {
        { "host", "example.amazonaws.com" },
        { "x-amz-date", "20150830T123600Z" },
    };
    struct buf query = BUF_INIT;
    char sig[65];

    s3_query_build(q, 2, &query);
    CHECK_STR(query.data, "Param1=value1&Param2=value2");
    struct s3_sign s = { "GET", "/", query.data, hdr, 2, EMPTY_SHA, "20150830T123600Z",
                         "us-east-1", "service", "AKIDEXAMPLE",
                         "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
    s3_signature(&s, sig);
    CHECK_STR(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    buf_free(&query);
}

TEST(query_encoding)
{
    const struct s3_pair q[] = {
        { "uploadId", "2~a/b+c=d e" },
        { "partNumber", "10" },
        { "uploads", NULL },
        { "continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=" },
    };
    struct buf b = BUF_INIT;

    s3_query_build(q, 4, &b);
    CHECK_STR(b.data, "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&"
                      "partNumber=10&uploadId=2~a%2Fb%2Bc%3Dd%20e&uploads=");
    buf_reset(&b);
    s3_query_build(q, 0, &b);
    CHECK_STR(b.data, "");
    buf_free(&b);
}

TEST(uri_encoding)
{
    struct buf b = BUF_INIT;
    s3_uri_encode(&b, "backups/media/a b+c~d_e.f-g/\xc3\xa9*", true);
    CHECK_STR(b.data, "backups/media/a%20b%2Bc~d_e.f-g/%C3%A9%2A");
    buf_reset(&b);
    s3_uri_encode(&b, "a/b", false);
    CHECK_STR(b.data, "a%2Fb");
    buf_free(&b);
}

TEST(header_values_trimmed)
{
    const struct s3_pair hdr[] = { { "x-amz-meta-a", "  one   two  " }, { "host", "h" } };
    struct s3_sign s = { "PUT", "/k", "", hdr, 2, "UNSIGNED-PAYLOAD", "20130524T000000Z",
                         "us-east-1", "s3", EX_KEY, EX_SECRET };
    struct buf b = BUF_INIT;
    s3_canonical_request(&s, &b);
    CHECK_STR(b.data, "PUT\n/k\n\nhost:h\nx-amz-meta-a:one two\n\nhost;x-amz-meta-a\n"
                      "UNSIGNED-PAYLOAD");
    buf_free(&b);
}

TEST(sha256)
{
    char h[65];
    s3_sha256_hex("", 0, h);
    CHECK_STR(h, EMPTY_SHA);
    s3_sha256_hex("Welcome to Amazon S3.", 21, h);
    CHECK_STR(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(aws_get_object_example);
    RUN(aws_list_objects_example);
    RUN(aws_get_lifecycle_example);
    RUN(aws_suite_query_order);
    RUN(query_encoding);
    RUN(uri_encoding);
    RUN(header_values_trimmed);
    RUN(sha256);
    return unit_done();
}
