/* test_my_rows.c - the mariadb source's escape (my_rows.c) against libmariadb's own
 * mysql_real_escape_string in a utf8mb4 session, which is what mariadb-dump calls: the same
 * output for every byte alone, for valid UTF-8 of every length, for broken, overlong, cut
 * short and out-of-range sequences, and for a million random strings drawn from bytes that
 * matter (so every boundary of the eight-byte fast path is crossed). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/source/my_int.h"
#include "unit.h"

static MYSQL *lib;

/* 1 when my_escape and the library agree on @s (printing the first difference otherwise) */
static int same(const unsigned char *s, size_t n)
{
    char *a = malloc(2 * n + 8), *b = malloc(2 * n + 1);   /* my_escape's room: no more */
    size_t la = my_escape(a, s, n);
    size_t lb = mysql_real_escape_string(lib, b, (const char *)s, (unsigned long)n);
    int ok = la == lb && memcmp(a, b, la) == 0;
    if (!ok) {
        printf("#   input:");
        for (size_t i = 0; i < n; i++)
            printf(" %02x", s[i]);
        printf("\n#   mine %zu bytes, library %zu bytes\n", la, lb);
    }
    free(a);
    free(b);
    return ok;
}

TEST(every_byte_alone_and_in_a_long_run)
{
    unsigned char s[40];
    for (unsigned c = 0; c < 256; c++) {
        s[0] = (unsigned char)c;
        CHECK(same(s, 1));
        memset(s, 'a', sizeof(s));
        s[17] = (unsigned char)c;
        CHECK(same(s, sizeof(s)));
    }
}

TEST(utf8_valid_broken_and_cut_short)
{
    static const char *const cases[] = {
        "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "ab\xc3", "ab\xe2\x82", "ab\xf0\x9f\x98",
        "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\xa0\x80", "\xed\xa0\x80", "\xf0\x80\x80\x80",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80", "\xc3'", "\xe2\x82'", "\xc3\\", "\x80\x80", "\xbf'x",
        "12345678\xc3\xa9\xc3", "1234567\xf0\x9f\x98\x80", "'\"\\\n\r\032", "",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(same((const unsigned char *)cases[i], strlen(cases[i])));
    static const unsigned char nul[] = { 'a', 0, 'b', 0xc3, 0, 0xa9, 0 };
    CHECK(same(nul, sizeof(nul)));
}

TEST(random_strings)
{
    /* bytes that matter: specials, ASCII, continuation bytes, every kind of lead byte */
    static const unsigned char pool[] = { 0,    '\n', '\r', '\\', '\'', '"',  032,  'a',  ' ',
                                          '0',  0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                          0xc1, 0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0,
                                          0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff };
    unsigned char s[64];
    unsigned seed = 12345, bad = 0;
    for (int t = 0; t < 1000000 && bad < 5; t++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(s));
        int plain = rand_r(&seed) % 4;   /* some strings mostly plain text */
        for (size_t i = 0; i < n; i++)
            s[i] = plain && rand_r(&seed) % 8 ? (unsigned char)('a' + i % 26)
                                              : pool[rand_r(&seed) % (int)sizeof(pool)];
        if (!same(s, n))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    lib = mysql_init(NULL);
    /* the session's character set, as after connecting with utf8mb4 (no server needed) */
    lib->charset = mariadb_get_charset_by_name("utf8mb4");
    if (lib->charset == NULL) {
        printf("not ok - libmariadb has no utf8mb4\n");
        return 1;
    }
    RUN(every_byte_alone_and_in_a_long_run);
    RUN(utf8_valid_broken_and_cut_short);
    RUN(random_strings);
    mysql_close(lib);
    return unit_done();
}
