/* mig_split.c - cut a migration script into statements, as psql and the mariadb client do.
 *
 * The scanner walks the text once, skipping over everything that may hold a delimiter
 * without ending a statement (strings, quoted identifiers, comments, dollar-quoted bodies).
 * A statement that holds nothing but comments and blanks is dropped; the rest is sent as
 * written, comments included (MariaDB's executable comments need to reach the server). */
#include "mig.h"

#include <ctype.h>
#include <string.h>

struct splitter {
    enum mig_engine eng;
    const char *p;       /* the script */
    size_t i;            /* scan position */
    int line;            /* line at i */
    bool has_code;       /* the current statement holds more than comments and blanks */
    size_t code_start;   /* its first character that is not a comment or blank */
    int code_line;
    char delim[32];      /* MariaDB: the current delimiter */
    /* PostgreSQL, as psql: a ';' inside parentheses, or inside the BEGIN ATOMIC ... END body
     * of a CREATE FUNCTION/PROCEDURE, does not end the statement */
    int paren_depth;
    int begin_depth;
    int nwords;          /* words seen in the statement so far (up to 4 are kept) */
    char words[4][16];
    struct mig_stmts *out;
};

static void advance(struct splitter *sp, size_t n)
{
    for (size_t k = 0; k < n && sp->p[sp->i]; k++, sp->i++)
        if (sp->p[sp->i] == '\n')
            sp->line++;
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

static void mark_code(struct splitter *sp)
{
    if (sp->has_code)
        return;
    sp->has_code = true;
    sp->code_start = sp->i;
    sp->code_line = sp->line;
}

static void emit(struct splitter *sp, size_t end)
{
    size_t a = sp->code_start, b = end;
    int line = sp->code_line;

    if (sp->has_code) {
        while (b > a && isspace((unsigned char)sp->p[b - 1]))
            b--;
        sp->out->s = cf_realloc(sp->out->s, (sp->out->n + 1) * sizeof(*sp->out->s));
        sp->out->s[sp->out->n].sql = cf_strndup(sp->p + a, b - a);
        sp->out->s[sp->out->n].line = line;
        sp->out->n++;
    }
    sp->has_code = false;
    sp->paren_depth = 0;
    sp->begin_depth = 0;
    sp->nwords = 0;
}

static int unterminated(const char *what, int line, struct cf_err *e)
{
    return cf_err_set(e, CF_E_USAGE, "line %d: unterminated %s", line, what);
}

/* Skip a quoted run opened by sp->p[sp->i] == @q. A doubled quote stays inside; with
 * @backslash, a backslash escapes the next character. */
static int skip_quoted(struct splitter *sp, char q, bool backslash, const char *what,
                       struct cf_err *e)
{
    int line = sp->line;

    advance(sp, 1);
    for (;;) {
        char c = sp->p[sp->i];
        if (c == '\0')
            return unterminated(what, line, e);
        if (backslash && c == '\\') {
            if (sp->p[sp->i + 1] == '\0')
                return unterminated(what, line, e);
            advance(sp, 2);
            continue;
        }
        if (c == q) {
            if (sp->p[sp->i + 1] == q) {
                advance(sp, 2);
                continue;
            }
            advance(sp, 1);
            return 0;
        }
        advance(sp, 1);
    }
}

static void skip_line(struct splitter *sp)
{
    while (sp->p[sp->i] && sp->p[sp->i] != '\n')
        advance(sp, 1);
}

/* block comment at sp->i ("/" "*"); PostgreSQL nests them, MariaDB does not */
static int skip_block(struct splitter *sp, struct cf_err *e)
{
    int line = sp->line, depth = 1;

    advance(sp, 2);
    while (depth > 0) {
        const char *c = sp->p + sp->i;
        if (*c == '\0')
            return unterminated("block comment", line, e);
        if (c[0] == '*' && c[1] == '/') {
            depth--;
            advance(sp, 2);
        } else if (sp->eng == MIG_PG && c[0] == '/' && c[1] == '*') {
            depth++;
            advance(sp, 2);
        } else {
            advance(sp, 1);
        }
    }
    return 0;
}

/* PostgreSQL: the length of a dollar-quote tag ("$$", "$body$") at @s, or 0 */
static size_t dollar_tag(const char *s)
{
    size_t n = 1;

    if (s[0] != '$')
        return 0;
    if (isdigit((unsigned char)s[1]))
        return 0;   /* $1: a parameter */
    while (s[n] && s[n] != '$') {
        if (!ident_char(s[n]) || s[n] == '$')
            return 0;
        n++;
    }
    return s[n] == '$' ? n + 1 : 0;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/* psql's rule: within CREATE [OR REPLACE] FUNCTION/PROCEDURE, BEGIN and CASE open a block
 * that END closes */
static void pg_word(struct splitter *sp, const char *w, size_t n)
{
    if (sp->nwords < 4) {
        size_t k = n < sizeof(sp->words[0]) - 1 ? n : sizeof(sp->words[0]) - 1;
        memcpy(sp->words[sp->nwords], w, k);
        sp->words[sp->nwords][k] = '\0';
    }
    sp->nwords++;
    if (sp->nwords < 3 || strcasecmp(sp->words[0], "create") != 0)
        return;
    int kind = 1;
    if (strcasecmp(sp->words[1], "or") == 0) {
        if (sp->nwords < 5 || strcasecmp(sp->words[2], "replace") != 0)
            return;
        kind = 3;
    }
    if (strcasecmp(sp->words[kind], "function") != 0 &&
        strcasecmp(sp->words[kind], "procedure") != 0)
        return;
    if (word_is(w, n, "begin") || word_is(w, n, "case"))
        sp->begin_depth++;
    else if (word_is(w, n, "end") && sp->begin_depth > 0)
        sp->begin_depth--;
}

static int pg_step(struct splitter *sp, struct cf_err *e)
{
    const char *c = sp->p + sp->i;
    bool after_ident = sp->i > 0 && ident_char(sp->p[sp->i - 1]);

    if (c[0] == '-' && c[1] == '-') {
        skip_line(sp);
        return 0;
    }
    if (c[0] == '/' && c[1] == '*')
        return skip_block(sp, e);
    if (c[0] == ';' && sp->paren_depth == 0 && sp->begin_depth == 0) {
        emit(sp, sp->i);
        advance(sp, 1);
        return 0;
    }
    if (!isspace((unsigned char)c[0]))
        mark_code(sp);
    if (c[0] == '\'')
        return skip_quoted(sp, '\'', false, "string", e);
    if ((c[0] == 'E' || c[0] == 'e') && c[1] == '\'' && !after_ident) {
        advance(sp, 1);
        return skip_quoted(sp, '\'', true, "E'' string", e);
    }
    if (c[0] == '"')
        return skip_quoted(sp, '"', false, "quoted identifier", e);
    if (c[0] == '$' && !after_ident) {
        size_t n = dollar_tag(c);
        if (n > 0) {
            int line = sp->line;
            advance(sp, n);
            for (;;) {
                const char *q = sp->p + sp->i;
                if (*q == '\0')
                    return unterminated("dollar-quoted string", line, e);
                if (*q == '$' && strncmp(q, c, n) == 0) {
                    advance(sp, n);
                    return 0;
                }
                advance(sp, 1);
            }
        }
    }
    if (ident_char(c[0])) {
        size_t start = sp->i;
        while (ident_char(sp->p[sp->i]))
            advance(sp, 1);
        pg_word(sp, sp->p + start, sp->i - start);
        return 0;
    }
    if (c[0] == '(')
        sp->paren_depth++;
    else if (c[0] == ')' && sp->paren_depth > 0)
        sp->paren_depth--;
    advance(sp, 1);
    return 0;
}

static bool at_line_start(const struct splitter *sp)
{
    size_t k = sp->i;
    while (k > 0 && (sp->p[k - 1] == ' ' || sp->p[k - 1] == '\t'))
        k--;
    return k == 0 || sp->p[k - 1] == '\n';
}

/* MariaDB client: "DELIMITER xx" on a line of its own sets the delimiter */
static int maria_delimiter(struct splitter *sp, struct cf_err *e)
{
    const char *c = sp->p + sp->i;
    size_t n = 0, k = 9;

    if (strncasecmp(c, "delimiter", 9) != 0 || (c[9] != ' ' && c[9] != '\t'))
        return 1;
    if (sp->has_code || !at_line_start(sp))
        return 1;
    while (c[k] == ' ' || c[k] == '\t')
        k++;
    while (c[k + n] && !isspace((unsigned char)c[k + n]))
        n++;
    if (n == 0 || n >= sizeof(sp->delim))
        return cf_err_set(e, CF_E_USAGE, "line %d: DELIMITER needs a delimiter of 1 to %zu "
                          "characters", sp->line, sizeof(sp->delim) - 1);
    /* what came before on earlier lines is a statement without its delimiter */
    emit(sp, sp->i);
    memcpy(sp->delim, c + k, n);
    sp->delim[n] = '\0';
    skip_line(sp);
    return 0;
}

static int maria_step(struct splitter *sp, struct cf_err *e)
{
    const char *c = sp->p + sp->i;
    size_t dl = strlen(sp->delim);

    if (c[0] == '#' || (c[0] == '-' && c[1] == '-' && (c[2] == '\0' || isspace((unsigned char)c[2])
                                                       || iscntrl((unsigned char)c[2])))) {
        skip_line(sp);
        return 0;
    }
    if (c[0] == '/' && c[1] == '*' && c[2] != '!' && c[2] != 'M')
        return skip_block(sp, e);
    if (c[0] == 'd' || c[0] == 'D') {
        int r = maria_delimiter(sp, e);
        if (r <= 0)
            return r;
    }
    if (strncmp(c, sp->delim, dl) == 0) {
        emit(sp, sp->i);
        advance(sp, dl);
        return 0;
    }
    if (!isspace((unsigned char)c[0]))
        mark_code(sp);
    if (c[0] == '/' && c[1] == '*') {
        /* executable comment: code, but its text may hold anything up to the closing mark */
        return skip_block(sp, e);
    }
    if (c[0] == '\'')
        return skip_quoted(sp, '\'', true, "string", e);
    if (c[0] == '"')
        return skip_quoted(sp, '"', true, "string", e);
    if (c[0] == '`')
        return skip_quoted(sp, '`', false, "quoted identifier", e);
    advance(sp, 1);
    return 0;
}

int mig_split(enum mig_engine eng, const char *sql, struct mig_stmts *out, struct cf_err *e)
{
    struct splitter sp;

    memset(&sp, 0, sizeof(sp));
    sp.eng = eng;
    sp.p = sql;
    sp.line = 1;
    strcpy(sp.delim, ";");
    sp.out = out;
    out->s = NULL;
    out->n = 0;
    if (strncmp(sql, "\xef\xbb\xbf", 3) == 0)
        sp.i = 3;
    while (sp.p[sp.i]) {
        int r = eng == MIG_PG ? pg_step(&sp, e) : maria_step(&sp, e);
        if (r != 0) {
            mig_stmts_free(out);
            return -1;
        }
    }
    emit(&sp, sp.i);
    return 0;
}

void mig_stmts_free(struct mig_stmts *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->s[i].sql);
    free(st->s);
    st->s = NULL;
    st->n = 0;
}

bool mig_stmt_is_tx_control(const char *sql)
{
    static const char *const words[] = { "begin", "commit", "rollback", "end", "abort",
                                         "start transaction", "savepoint", "release", NULL };
    for (size_t i = 0; words[i]; i++) {
        size_t k = strlen(words[i]);
        if (strncasecmp(sql, words[i], k) != 0)
            continue;
        const char *p = sql + k;
        /* "begin" alone or followed by transaction options; not "begin_x" or "beginning" */
        if (*p == '\0' || isspace((unsigned char)*p) || *p == ';')
            return true;
    }
    return false;
}
