/* s3_sigv4.h - AWS Signature Version 4 for S3 requests (libsodium's HMAC-SHA256, OpenSSL's
 * SHA-256 for bodies).
 *
 * Pure functions, no I/O: tests/unit/test_s3_sigv4.c checks them against AWS's published
 * examples. The S3 flavour: the canonical URI is encoded once (not twice), and the payload
 * hash is the one sent in x-amz-content-sha256. */
#ifndef CF_S3_SIGV4_H
#define CF_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "../../core/buf.h"

/* a header or a query parameter; a NULL value in a query parameter is "" */
struct s3_pair {
    const char *name;
    const char *value;
};

struct s3_sign {
    const char *method;            /* "GET", "PUT", ... */
    const char *uri;               /* encoded path, "/bucket/key" or "/key" */
    const char *query;             /* canonical query (s3_query_build), "" for none */
    const struct s3_pair *hdr;     /* headers to sign, names lowercase (any order) */
    size_t nhdr;
    const char *payload_hash;      /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;          /* "20130524T000000Z", also sent as x-amz-date */
    const char *region;
    const char *service;           /* "s3" */
    const char *access_key;
    const char *secret;
};

/* s3_uri_encode() - append @s RFC 3986-encoded (unreserved characters kept, everything else
 * %XX uppercase); '/' kept when @keep_slash */
void s3_uri_encode(struct buf *out, const char *s, bool keep_slash);
/* s3_query_build() - the canonical query string of @n raw parameters: each name and value
 * encoded, sorted by name then value, joined with '&'; "name=" for empty values */
void s3_query_build(const struct s3_pair *params, size_t n, struct buf *out);
/* s3_sha256_hex() - lowercase hex SHA-256 of @len bytes into @out (65 bytes) */
void s3_sha256_hex(const void *data, size_t len, char *out);
/* s3_canonical_request() - the canonical request of @s (headers sorted, values trimmed) */
void s3_canonical_request(const struct s3_sign *s, struct buf *out);
/* s3_string_to_sign() - the string to sign of @s */
void s3_string_to_sign(const struct s3_sign *s, struct buf *out);
/* s3_signature() - the hex signature of @s (65 bytes) */
void s3_signature(const struct s3_sign *s, char *out);
/* s3_authorization() - the value of the Authorization header for @s */
void s3_authorization(const struct s3_sign *s, struct buf *out);

#endif
