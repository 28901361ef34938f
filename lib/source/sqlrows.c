/* sqlrows.c - the rows of each table in mariadb-dump's SQL text, counted in one pass.
 *
 * Two layers, both byte at a time and resumable at any byte (a piece may end anywhere): the
 * lexer (strings, identifiers, comments, the delimiter) hands every byte outside strings and
 * comments to the statement machine, which follows INSERT ... VALUES and counts the rows. */
#include "sqlrows.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/util.h"

#define NAME_MAX_BYTES 256   /* 64 characters of up to 4 bytes: MariaDB's longest name */
#define DELIM_MAX 16

enum stage {
    ST_START,       /* between statements */
    ST_WORD,        /* the statement's first word */
    ST_DELIM_CMD,   /* "DELIMITER x": the rest of its line */
    ST_SKIP,        /* a statement not counted, up to its delimiter */
    ST_HEAD,        /* after INSERT/REPLACE: modifiers, INTO, then the table's name */
    ST_NAME,        /* in a quoted name */
    ST_AFTER_NAME,  /* the column list or VALUES */
    ST_COLS,        /* in the column list */
    ST_VALUES,      /* between rows */
    ST_ROW,         /* in a row */
};

enum comment { CM_NONE, CM_LINE, CM_BLOCK };

struct table {
    char *name;
    uint64_t rows;
};

struct sqlrows {
    enum stage st;
    /* lexer */
    char quote;          /* the open quote, 0 outside */
    char reopen;         /* a quote just closed: the same quote next is a doubled one */
    bool esc;            /* a backslash in a string: the next byte is taken as it is */
    enum comment cm;
    bool star;           /* in a block comment, the last byte was '*' */
    char pend[4];        /* "-", "--", "/", "/ *", "/ *M": not known yet to start a comment */
    size_t npend;
    char delim[DELIM_MAX + 1];
    size_t dlen, dm;     /* the delimiter, and how much of it has matched */
    bool delim_started;  /* ST_DELIM_CMD: its word has begun */
    /* statements */
    char word[NAME_MAX_BYTES + 1];
    size_t nword;
    bool word_quoted;
    int depth;           /* parentheses in a row or the column list */
    bool want_row;       /* after VALUES or a comma: a row must follow */
    size_t cur;          /* the current INSERT's table */
    uint64_t stmt;       /* statements begun, for messages */
    char problem[300];   /* the first INSERT that could not be counted, or "" */
    struct table *t;
    size_t nt, cap;
};

struct sqlrows *sqlrows_new(void)
{
    struct sqlrows *c = cf_calloc(1, sizeof(*c));
    c->delim[0] = ';';
    c->dlen = 1;
    return c;
}

void sqlrows_free(struct sqlrows *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nt; i++)
        free(c->t[i].name);
    free(c->t);
    free(c);
}

static bool is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* a byte of an unquoted name or keyword (bytes of UTF-8 characters included) */
static bool is_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || ch >= 0x80;
}

static void problem(struct sqlrows *c, const char *what)
{
    if (c->problem[0] == '\0')
        snprintf(c->problem, sizeof(c->problem), "statement %llu: %s",
                 (unsigned long long)c->stmt, what);
    c->st = ST_SKIP;
}

static bool word_is(const struct sqlrows *c, const char *kw)
{
    return !c->word_quoted && strlen(kw) == c->nword && strncasecmp(c->word, kw, c->nword) == 0;
}

static void word_add(struct sqlrows *c, unsigned char ch)
{
    if (c->nword < NAME_MAX_BYTES)
        c->word[c->nword] = (char)ch;
    c->nword++;
}

/* the table in c->word becomes the current INSERT's */
static void table_begin(struct sqlrows *c)
{
    if (c->nword > NAME_MAX_BYTES) {
        problem(c, "a table name longer than MariaDB allows");
        return;
    }
    c->word[c->nword] = '\0';
    /* a dump's INSERTs come table after table: the last one first */
    if (c->nt == 0 || strcmp(c->t[c->cur].name, c->word) != 0)
        for (c->cur = 0; c->cur < c->nt; c->cur++)
            if (strcmp(c->t[c->cur].name, c->word) == 0)
                break;
    if (c->cur == c->nt) {
        if (c->nt == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->t = cf_realloc(c->t, c->cap * sizeof(*c->t));
        }
        c->t[c->nt].name = cf_strndup(c->word, c->nword);
        c->t[c->nt++].rows = 0;
    }
    c->nword = 0;
    c->word_quoted = false;
    c->st = ST_AFTER_NAME;
}

/* the end of a word that was being read in ST_WORD, ST_HEAD or ST_AFTER_NAME */
static void word_end(struct sqlrows *c)
{
    switch (c->st) {
    case ST_WORD:
        if (word_is(c, "DELIMITER")) {
            c->st = ST_DELIM_CMD;
            c->delim_started = false;
            c->dlen = 0;
        } else if ((word_is(c, "INSERT") || word_is(c, "REPLACE")) && c->dlen == 1 &&
                   c->delim[0] == ';') {
            c->st = ST_HEAD;
        } else {
            c->st = ST_SKIP;
        }
        break;
    case ST_HEAD:
        if (word_is(c, "INTO") || word_is(c, "IGNORE") || word_is(c, "LOW_PRIORITY") ||
            word_is(c, "DELAYED") || word_is(c, "HIGH_PRIORITY"))
            break;
        table_begin(c);
        return;
    case ST_AFTER_NAME:
        if (word_is(c, "VALUES") || word_is(c, "VALUE")) {
            c->st = ST_VALUES;
            c->want_row = true;
        } else
            problem(c, "an INSERT without VALUES (INSERT ... SELECT or SET): its rows are not "
                       "in the text");
        break;
    default:
        break;
    }
    c->nword = 0;
}

/* the statement ends at its delimiter */
static void statement_end(struct sqlrows *c)
{
    if (c->nword > 0 && (c->st == ST_WORD || c->st == ST_HEAD || c->st == ST_AFTER_NAME))
        word_end(c);
    if (c->st == ST_DELIM_CMD) {   /* "DELIMITER;": nothing given, ';' it stays */
        c->delim[0] = ';';
        c->dlen = 1;
    }
    if (c->st == ST_HEAD || c->st == ST_NAME || c->st == ST_AFTER_NAME || c->st == ST_COLS ||
        c->st == ST_ROW || (c->st == ST_VALUES && c->want_row))
        problem(c, "an INSERT that ends before its rows do");
    c->st = ST_START;
    c->nword = 0;
}

/* a quote opens outside a string: @q */
static void quote_open(struct sqlrows *c, char q)
{
    switch (c->st) {
    case ST_START:
    case ST_WORD:
    case ST_VALUES:
        c->st = ST_SKIP;   /* not an INSERT, or text after its rows (ON DUPLICATE ...) */
        break;
    case ST_HEAD:
        if (c->nword > 0)
            word_end(c);
        if (c->st == ST_HEAD && q != '\'') {
            c->st = ST_NAME;
            c->nword = 0;
            c->word_quoted = true;
        } else if (c->st == ST_HEAD) {
            problem(c, "an INSERT into a table named by a string");
        }
        break;
    case ST_NAME:   /* `a`"b": a name, then something else */
        table_begin(c);
        problem(c, "an INSERT with something unexpected after its table's name");
        break;
    case ST_AFTER_NAME:
        problem(c, "an INSERT with something unexpected after its table's name");
        break;
    default:
        break;
    }
    c->quote = q;
}

/* one byte outside strings and comments, the delimiter already taken out */
static void stmt_byte(struct sqlrows *c, unsigned char ch)
{
    switch (c->st) {
    case ST_START:
        if (is_space(ch))
            return;
        c->stmt++;
        c->word_quoted = false;
        c->nword = 0;
        if (is_word(ch)) {
            c->st = ST_WORD;
            word_add(c, ch);
        } else {
            c->st = ST_SKIP;
        }
        return;
    case ST_WORD:
        if (is_word(ch)) {
            word_add(c, ch);
            return;
        }
        word_end(c);
        if (c->st == ST_DELIM_CMD && ch == '\n') {
            c->st = ST_START;   /* "DELIMITER" alone: the client says so, we go on */
            c->delim[0] = ';';
            c->dlen = 1;
        } else if (c->st == ST_HEAD) {
            stmt_byte(c, ch);
        }
        return;
    case ST_HEAD:
        if (is_word(ch)) {
            word_add(c, ch);
            return;
        }
        if (c->nword > 0)
            word_end(c);
        if (c->st == ST_HEAD && !is_space(ch))
            problem(c, "an INSERT whose table's name is not where it belongs");
        else if (c->st == ST_AFTER_NAME)
            stmt_byte(c, ch);
        return;
    case ST_NAME:   /* the quoted name closed (by quote_close) */
        table_begin(c);
        if (c->st == ST_AFTER_NAME)
            stmt_byte(c, ch);
        return;
    case ST_AFTER_NAME:
        if (is_word(ch)) {
            word_add(c, ch);
            return;
        }
        if (c->nword > 0) {
            word_end(c);
            if (c->st == ST_VALUES)
                stmt_byte(c, ch);
            return;
        }
        if (ch == '(') {
            c->st = ST_COLS;
            c->depth = 1;
        } else if (ch == '.') {
            problem(c, "an INSERT into a table named with its database");
        } else if (!is_space(ch)) {
            problem(c, "an INSERT with something unexpected after its table's name");
        }
        return;
    case ST_COLS:
        if (ch == '(')
            c->depth++;
        else if (ch == ')' && --c->depth == 0)
            c->st = ST_AFTER_NAME;
        return;
    case ST_VALUES:
        if (ch == '(' && c->want_row) {
            c->st = ST_ROW;
            c->depth = 1;
        } else if (ch == ',' && !c->want_row) {
            c->want_row = true;
        } else if (!is_space(ch)) {
            c->st = ST_SKIP;   /* ON DUPLICATE KEY UPDATE ...: no more rows */
        }
        return;
    case ST_ROW:
        if (ch == '(') {
            c->depth++;
        } else if (ch == ')' && --c->depth == 0) {
            c->t[c->cur].rows++;
            c->want_row = false;
            c->st = ST_VALUES;
        }
        return;
    case ST_DELIM_CMD:
    case ST_SKIP:
        return;
    }
}

/* a byte outside strings and comments: the delimiter first, as the client looks for it */
static void code_byte(struct sqlrows *c, unsigned char ch)
{
    for (;;) {
        if (ch == (unsigned char)c->delim[c->dm]) {
            if (++c->dm == c->dlen) {
                c->dm = 0;
                statement_end(c);
            }
            return;
        }
        if (c->dm == 0)
            break;
        /* a partial match was text after all: give it to the statement, then try @ch again */
        size_t n = c->dm;
        c->dm = 0;
        for (size_t i = 0; i < n; i++)
            stmt_byte(c, (unsigned char)c->delim[i]);
    }
    stmt_byte(c, ch);
}

/* "DELIMITER x": its first word is the new delimiter, the rest of the line is ignored */
static void delim_cmd_byte(struct sqlrows *c, unsigned char ch)
{
    if (ch == '\n') {
        if (c->dlen == 0) {
            c->delim[0] = ';';
            c->dlen = 1;
        }
        c->st = ST_START;
        return;
    }
    if (is_space(ch)) {
        if (c->dlen > 0)
            c->delim_started = true;   /* the word has ended */
        return;
    }
    if (!c->delim_started && c->dlen < DELIM_MAX)
        c->delim[c->dlen++] = (char)ch;
    c->delim[c->dlen] = '\0';
}

/* the pending bytes ("-", "/"...) were not a comment's start: they are code */
static void pend_flush(struct sqlrows *c)
{
    size_t n = c->npend;
    c->npend = 0;
    for (size_t i = 0; i < n; i++)
        code_byte(c, (unsigned char)c->pend[i]);
}

static void lex_byte(struct sqlrows *c, unsigned char ch)
{
    if (c->st == ST_DELIM_CMD) {
        delim_cmd_byte(c, ch);
        return;
    }
    if (c->reopen) {   /* '' inside '...', `` inside `...`: the quote goes on */
        char q = c->reopen;
        c->reopen = 0;
        if (ch == (unsigned char)q) {
            c->quote = q;
            if (c->st == ST_NAME)
                word_add(c, ch);
            return;
        }
    }
    if (c->quote) {
        if (c->esc) {
            c->esc = false;
        } else if (ch == '\\' && c->quote != '`') {
            c->esc = true;
            if (c->st == ST_NAME)
                word_add(c, ch);
            return;
        } else if (ch == (unsigned char)c->quote) {
            c->reopen = c->quote;
            c->quote = 0;
            return;
        }
        if (c->st == ST_NAME)
            word_add(c, ch);
        return;
    }
    if (c->cm == CM_LINE) {
        if (ch == '\n') {
            c->cm = CM_NONE;
            code_byte(c, ' ');
        }
        return;
    }
    if (c->cm == CM_BLOCK) {
        if (c->star && ch == '/') {
            c->cm = CM_NONE;
            code_byte(c, ' ');
        }
        c->star = ch == '*';
        return;
    }
    if (c->npend > 0) {
        const char *p = c->pend;
        if ((c->npend == 1 && p[0] == '-' && ch == '-') ||
            (c->npend == 1 && p[0] == '/' && ch == '*') ||
            (c->npend == 2 && p[0] == '/' && ch == 'M')) {
            c->pend[c->npend++] = (char)ch;
            return;
        }
        if (c->npend == 2 && p[0] == '-' && ch <= ' ') {   /* "-- " */
            c->npend = 0;
            c->cm = CM_LINE;
            if (ch == '\n') {
                c->cm = CM_NONE;
                code_byte(c, ' ');
            }
            return;
        }
        if (p[0] == '/' && c->npend >= 2 && ch != '!') {   /* a comment, unless "/ *!" */
            c->npend = 0;
            c->cm = CM_BLOCK;
            c->star = ch == '*';
            return;
        }
        pend_flush(c);
    }
    switch (ch) {
    case '-':
    case '/':
        /* unless it completes the delimiter ("//") */
        if (c->dm + 1 == c->dlen && ch == (unsigned char)c->delim[c->dm]) {
            code_byte(c, ch);
            return;
        }
        c->pend[c->npend++] = (char)ch;
        return;
    case '#':
        c->cm = CM_LINE;
        return;
    case '\'':
    case '"':
    case '`':
        if (c->dm > 0) {   /* a delimiter begun is text after all */
            size_t n = c->dm;
            c->dm = 0;
            for (size_t i = 0; i < n; i++)
                stmt_byte(c, (unsigned char)c->delim[i]);
        }
        quote_open(c, (char)ch);
        return;
    default:
        code_byte(c, ch);
    }
}

/* the bytes that can change anything in a row or a skipped statement: quotes, comments'
 * starts, parentheses (the delimiter is checked besides) */
static const bool plain_not[256] = {
    ['\''] = true, ['"'] = true, ['`'] = true, ['-'] = true, ['/'] = true, ['#'] = true,
    ['('] = true, [')'] = true,
};

void sqlrows_feed(struct sqlrows *c, const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    while (p < end) {
        if (c->quote) {
            /* most bytes of a dump are inside strings: on to the next quote or backslash */
            if (c->quote != '`' && !c->esc && !c->reopen && c->st != ST_NAME) {
                const unsigned char q = (unsigned char)c->quote;
                while (p < end && *p != q && *p != '\\')
                    p++;
                if (p == end)
                    break;
            }
        } else if ((c->st == ST_ROW || c->st == ST_SKIP) && c->cm == CM_NONE && !c->npend &&
                   !c->reopen && !c->dm) {
            /* and the rest between them: numbers, commas, NULLs */
            const unsigned char d = (unsigned char)c->delim[0];
            while (p < end && !plain_not[*p] && *p != d)
                p++;
            if (p == end)
                break;
        }
        lex_byte(c, *p++);
    }
}

int sqlrows_end(struct sqlrows *c, struct cf_err *e)
{
    const char *cut = NULL;
    if (c->reopen) {   /* the last byte closed a quote */
        c->reopen = 0;
        if (c->st == ST_NAME)
            stmt_byte(c, ' ');
    }
    if (c->npend > 0)
        pend_flush(c);
    if (c->nword > 0 && c->st == ST_WORD)
        word_end(c);   /* the last statement's first word, with no byte after it */
    if (c->quote)
        cut = "inside a string";
    else if (c->cm == CM_BLOCK)
        cut = "inside a comment";
    else if (c->st == ST_ROW)
        cut = "inside a row";
    else if (c->st == ST_HEAD || c->st == ST_NAME || c->st == ST_AFTER_NAME ||
             c->st == ST_COLS || (c->st == ST_VALUES && c->want_row))
        cut = "inside an INSERT";
    if (cut)
        return cf_err_set(e, CF_E_CORRUPT, "the SQL text ends %s (statement %llu): cut short",
                          cut, (unsigned long long)c->stmt);
    if (c->problem[0])
        return cf_err_set(e, CF_E_CORRUPT, "rows not countable from the SQL text: %s",
                          c->problem);
    return 0;
}

const char *sqlrows_table(const struct sqlrows *c, size_t i, uint64_t *rows)
{
    if (i >= c->nt)
        return NULL;
    if (rows)
        *rows = c->t[i].rows;
    return c->t[i].name;
}

uint64_t sqlrows_get(const struct sqlrows *c, const char *name)
{
    for (size_t i = 0; i < c->nt; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return c->t[i].rows;
    return 0;
}
