/* Normalizes SQL text into a fingerprint so that queries of the same shape compare equal. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fingerprint.h"

/*
 * A single pass of a small lexer over the text: every token is either copied
 * (identifiers, operators), uppercased (keywords), replaced by "?" (values)
 * or dropped to a pending space (whitespace, comments). The lexer knows just
 * enough SQL to find where literals end; it never needs to parse. The text
 * comes from another process and may be cut anywhere, so every scan stops at
 * len and every construct left open runs to the end.
 */

enum tok_kind {
	TOK_END,
	TOK_SPACE, /* whitespace, comments, control bytes */
	TOK_WORD, /* unquoted identifier */
	TOK_KEYWORD, /* unquoted word in the keyword list */
	TOK_QUOTED, /* "x", `x`, [x] */
	TOK_VALUE, /* literal or placeholder: written as ? */
	TOK_PUNCT, /* anything else, one byte, or :: */
};

struct token {
	enum tok_kind kind;
	size_t start, end; /* the bytes of the text the token covers */
};

struct lexer {
	const char *s;
	size_t len, pos;
	struct token prev; /* the last token that was not TOK_SPACE */
};

/* Kept sorted (for bsearch) and uppercase. */
static const char *const keywords[] = {
	"ALL",	       "ALTER",	    "AND",	  "ANY",       "ARRAY",	     "AS",	"ASC",
	"BEGIN",       "BETWEEN",   "BY",	  "CASE",      "CAST",	     "CHECK",	"COLLATE",
	"COMMIT",      "CONFLICT",  "CONSTRAINT", "CREATE",    "CROSS",	     "DEFAULT", "DELETE",
	"DESC",	       "DISTINCT",  "DO",	  "DROP",      "ELSE",	     "END",	"ESCAPE",
	"EXCEPT",      "EXISTS",    "EXPLAIN",	  "FALSE",     "FETCH",	     "FOR",	"FOREIGN",
	"FROM",	       "FULL",	    "GLOB",	  "GROUP",     "HAVING",     "IF",	"ILIKE",
	"IN",	       "INDEX",	    "INNER",	  "INSERT",    "INTERSECT",  "INTO",	"IS",
	"ISNULL",      "JOIN",	    "KEY",	  "LATERAL",   "LEFT",	     "LIKE",	"LIMIT",
	"LOCKED",      "NATURAL",   "NOT",	  "NOTHING",   "NOTNULL",    "NOWAIT",	"NULL",
	"NULLS",       "OFFSET",    "ON",	  "OR",	       "ORDER",	     "OUTER",	"OVER",
	"PARTITION",   "PRAGMA",    "PRIMARY",	  "RECURSIVE", "REFERENCES", "REGEXP",	"RELEASE",
	"REPLACE",     "RETURNING", "RIGHT",	  "ROLLBACK",  "SAVEPOINT",  "SELECT",	"SET",
	"SHARE",       "SIMILAR",   "SKIP",	  "SOME",      "TABLE",	     "THEN",	"TO",
	"TRANSACTION", "TRUE",	    "UNION",	  "UNIQUE",    "UPDATE",     "USING",	"VALUES",
	"WHEN",	       "WHERE",	    "WINDOW",	  "WITH",
};

static bool is_space(unsigned char c)
{
	/* control bytes (NUL included) would only make the fingerprint unreadable */
	return c <= ' ' || c == 0x7f;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

/*
 * Returns whether c can end an operand (a name, a value or a bracket), after
 * which a '.' is not a decimal point and ':', '@', '$', '%' do not start a
 * parameter marker. '?' is in the set because it ends what values become:
 * that keeps a fingerprint its own fingerprint. '.' is in it because a number
 * may end with one ("1."): once that number is a '?', what follows must read
 * the same as it did after the '.'.
 */
static bool ends_operand(unsigned char c)
{
	return is_ident(c) || c == '"' || c == '`' || c == ']' || c == ')' || c == '\'' ||
	       c == '?' || c == '.';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Returns the byte at pos, or 0 past the end (0 is never a byte any rule looks for). */
static unsigned char lexer__at(const struct lexer *lx, size_t pos)
{
	return pos < lx->len ? (unsigned char)lx->s[pos] : 0;
}

/* A word looked up in keywords[]: not NUL-terminated, it is a slice of the text. */
struct word {
	const char *s;
	size_t n;
};

static int keyword__cmp(const void *key, const void *elem)
{
	const struct word *w = key;
	const char *kw = *(const char *const *)elem;
	size_t kwlen = strlen(kw);
	int c = strncasecmp(w->s, kw, w->n < kwlen ? w->n : kwlen);

	if (c)
		return c;
	return w->n < kwlen ? -1 : w->n > kwlen;
}

/* Returns whether the n bytes at s spell a keyword, in any case. */
static bool keyword__is(const char *s, size_t n)
{
	struct word w = { .s = s, .n = n };

	return bsearch(&w, keywords, sizeof(keywords) / sizeof(keywords[0]), sizeof(keywords[0]),
		       keyword__cmp) != NULL;
}

/* Returns whether the keyword token t is kw (an entry of keywords[], uppercase). */
static bool token__is(const struct lexer *lx, const struct token *t, const char *kw)
{
	size_t n = t->end - t->start;

	return t->kind == TOK_KEYWORD && strlen(kw) == n && !strncasecmp(lx->s + t->start, kw, n);
}

/* Returns the position after a quoted run opened at pos by q, where q q is an escaped q. */
static size_t lexer__skip_quoted(const struct lexer *lx, size_t pos, char q, bool backslash)
{
	for (pos++; pos < lx->len; pos++) {
		if (backslash && lx->s[pos] == '\\') {
			pos++; /* the escaped byte, whatever it is */
			continue;
		}
		if (lx->s[pos] != q)
			continue;
		if (lexer__at(lx, pos + 1) != (unsigned char)q)
			return pos + 1;
		pos++;
	}
	return lx->len;
}

/* Returns the position after a [bracketed] identifier opened at pos. */
static size_t lexer__skip_bracket(const struct lexer *lx, size_t pos)
{
	const char *close = memchr(lx->s + pos, ']', lx->len - pos);

	return close ? (size_t)(close - lx->s) + 1 : lx->len;
}

/*
 * At a '$' at pos: returns the position after a $tag$...$tag$ string (tag
 * empty or an identifier not starting with a digit), or 0 when pos does not
 * open one.
 */
static size_t lexer__skip_dollar(const struct lexer *lx, size_t pos)
{
	size_t tag = pos + 1, taglen, i;

	/* tags are identifiers (at most 63 bytes in PostgreSQL): a bound keeps the search linear */
	while (tag < lx->len && tag - pos <= 64 &&
	       (is_ident_start(lx->s[tag]) || is_digit(lx->s[tag])))
		tag++;
	if (lexer__at(lx, tag) != '$' || tag - pos > 64 || is_digit(lexer__at(lx, pos + 1)))
		return 0;
	taglen = tag + 1 - pos; /* "$tag$" */
	for (i = tag + 1; i + taglen <= lx->len; i++)
		if (lx->s[i] == '$' && !memcmp(lx->s + i, lx->s + pos, taglen))
			return i + taglen;
	return lx->len;
}

/* Returns the position after a number starting at pos (digits or '.'). */
static size_t lexer__skip_number(const struct lexer *lx, size_t pos)
{
	if (lexer__at(lx, pos) == '0' && (lexer__at(lx, pos + 1) | 0x20) == 'x' &&
	    is_hex(lexer__at(lx, pos + 2))) {
		for (pos += 2; is_hex(lexer__at(lx, pos));)
			pos++;
	} else {
		while (is_digit(lexer__at(lx, pos)))
			pos++;
		if (lexer__at(lx, pos) == '.')
			for (pos++; is_digit(lexer__at(lx, pos));)
				pos++;
		if ((lexer__at(lx, pos) | 0x20) == 'e' &&
		    (is_digit(lexer__at(lx, pos + 1)) ||
		     ((lexer__at(lx, pos + 1) == '-' || lexer__at(lx, pos + 1) == '+') &&
		      is_digit(lexer__at(lx, pos + 2)))))
			for (pos += 2; is_digit(lexer__at(lx, pos));)
				pos++;
	}
	/* "123abc" is not an identifier: keep it one value rather than "?abc" */
	while (is_ident(lexer__at(lx, pos)))
		pos++;
	return pos;
}

/*
 * Returns whether a sign at the current position is unary: it follows
 * nothing, an operator, an opening bracket, a comma or a keyword that does
 * not end an expression. A sign after an identifier, a value or a closing
 * bracket is the binary operator.
 */
static bool lexer__sign_is_unary(const struct lexer *lx)
{
	const struct token *p = &lx->prev;
	unsigned char c = lexer__at(lx, p->start);

	switch (p->kind) {
	case TOK_END:
		return true;
	case TOK_PUNCT:
		return c != ')' && c != ']';
	case TOK_KEYWORD:
		return !token__is(lx, p, "END") && !token__is(lx, p, "NULL");
	default:
		return false;
	}
}

/*
 * At a byte that may start a parameter marker (%s, %(name)s, $1, :name,
 * @name, $name): returns the position after it, or 0 when it is not one.
 * A marker never follows an operand, so "a:b", "arr[1:n]" and "::" stay.
 */
static size_t lexer__skip_param(const struct lexer *lx, size_t pos)
{
	unsigned char c = lexer__at(lx, pos), n = lexer__at(lx, pos + 1);
	size_t i;

	if (pos && (ends_operand(lx->s[pos - 1]) || lx->s[pos - 1] == ':'))
		return 0;
	if (c == '%') {
		if (n == 's' && !is_ident(lexer__at(lx, pos + 2)))
			return pos + 2;
		if (n != '(')
			return 0;
		/* %(name)s: a name of identifier bytes only, so "%(a + b)" stays */
		for (i = pos + 2; is_ident(lexer__at(lx, i)); i++)
			;
		if (i > pos + 2 && lexer__at(lx, i) == ')' && lexer__at(lx, i + 1) == 's')
			return i + 2;
		return 0;
	}
	if (c == ':' && n == ':')
		return 0;
	if ((c == ':' || c == '@' || c == '$') && (is_ident_start(n) || is_digit(n))) {
		/* a name without '$', so that "$a$" is never half a dollar quote */
		for (i = pos + 1; is_ident_start(lexer__at(lx, i)) || is_digit(lexer__at(lx, i));
		     i++)
			;
		return i;
	}
	return 0;
}

/* Returns whether '[' at the current position opens a [quoted identifier], not a subscript. */
static bool lexer__bracket_is_ident(const struct lexer *lx)
{
	const struct token *p = &lx->prev;
	unsigned char c = lexer__at(lx, p->start);

	switch (p->kind) {
	case TOK_END:
		return true;
	case TOK_KEYWORD:
		return !token__is(lx, p, "ARRAY");
	case TOK_PUNCT:
		return c != ')' && c != ']';
	default:
		return false;
	}
}

/* Scans a word at pos (an identifier start), which may prefix a string: E'..', N'..', U&'..'. */
static void lexer__word(struct lexer *lx, struct token *t)
{
	size_t pos = t->start, n;
	unsigned char c = lexer__at(lx, pos);

	while (is_ident(lexer__at(lx, pos)))
		pos++;
	n = pos - t->start;
	if (n == 1 && lexer__at(lx, pos) == '\'' && strchr("eEnNbBxX", c)) {
		t->kind = TOK_VALUE;
		t->end = lexer__skip_quoted(lx, pos, '\'', (c | 0x20) == 'e');
		return;
	}
	if (n == 1 && (c | 0x20) == 'u' && lexer__at(lx, pos) == '&' &&
	    lexer__at(lx, pos + 1) == '\'') {
		t->kind = TOK_VALUE;
		t->end = lexer__skip_quoted(lx, pos + 1, '\'', false);
		return;
	}
	t->end = pos;
	t->kind = TOK_WORD;
	/* a qualified name's parts are identifiers even when they spell a keyword */
	if ((t->start && lx->s[t->start - 1] == '.') || lexer__at(lx, pos) == '.')
		return;
	if (keyword__is(lx->s + t->start, n)) {
		t->kind = TOK_KEYWORD;
		if (token__is(lx, t, "TRUE") || token__is(lx, t, "FALSE"))
			t->kind = TOK_VALUE;
	}
}

/* Returns the end of a comment starting at pos, or 0 when none starts there. */
static size_t lexer__skip_comment(const struct lexer *lx, size_t pos)
{
	const char *end;
	size_t i;

	if (lexer__at(lx, pos) == '-' && lexer__at(lx, pos + 1) == '-') {
		end = memchr(lx->s + pos, '\n', lx->len - pos);
		return end ? (size_t)(end - lx->s) : lx->len;
	}
	if (lexer__at(lx, pos) == '/' && lexer__at(lx, pos + 1) == '*') {
		for (i = pos + 2; i + 1 < lx->len; i++)
			if (lx->s[i] == '*' && lx->s[i + 1] == '/')
				return i + 2;
		return lx->len;
	}
	return 0;
}

/* Reads the next token into t; every token but TOK_END covers at least one byte. */
static void lexer__next(struct lexer *lx, struct token *t)
{
	size_t pos = lx->pos, end;
	unsigned char c = lexer__at(lx, pos), n = lexer__at(lx, pos + 1);

	t->start = pos;
	t->end = pos + 1;
	if (pos >= lx->len) {
		t->kind = TOK_END;
		t->end = pos;
		return;
	}
	if (is_space(c) || lexer__skip_comment(lx, pos)) {
		t->kind = TOK_SPACE;
		for (end = pos; end < lx->len;) {
			if (is_space(lx->s[end]))
				end++;
			else if (lexer__skip_comment(lx, end))
				end = lexer__skip_comment(lx, end);
			else
				break;
		}
		t->end = end;
	} else if (c == '\'') {
		t->kind = TOK_VALUE;
		t->end = lexer__skip_quoted(lx, pos, '\'', false);
	} else if (c == '"' || c == '`') {
		t->kind = TOK_QUOTED;
		t->end = lexer__skip_quoted(lx, pos, c, false);
	} else if (c == '[' && lexer__bracket_is_ident(lx)) {
		t->kind = TOK_QUOTED;
		t->end = lexer__skip_bracket(lx, pos);
	} else if (is_digit(c) ||
		   (c == '.' && is_digit(n) && !(pos && ends_operand(lx->s[pos - 1])))) {
		t->kind = TOK_VALUE;
		t->end = lexer__skip_number(lx, pos);
	} else if ((c == '-' || c == '+') &&
		   (is_digit(n) || (n == '.' && is_digit(lexer__at(lx, pos + 2)))) &&
		   lexer__sign_is_unary(lx)) {
		t->kind = TOK_VALUE;
		t->end = lexer__skip_number(lx, pos + 1);
	} else if (c == '?') {
		t->kind = TOK_VALUE;
		for (end = pos + 1; is_digit(lexer__at(lx, end));)
			end++;
		t->end = end;
	} else if (c == '$' && (end = lexer__skip_dollar(lx, pos))) {
		t->kind = TOK_VALUE;
		t->end = end;
	} else if ((c == '%' || c == ':' || c == '@' || c == '$') &&
		   (end = lexer__skip_param(lx, pos))) {
		t->kind = TOK_VALUE;
		t->end = end;
	} else if (is_ident_start(c)) {
		lexer__word(lx, t);
	} else {
		t->kind = TOK_PUNCT;
		if (c == ':' && n == ':')
			t->end = pos + 2;
	}
	lx->pos = t->end;
	if (t->kind != TOK_SPACE)
		lx->prev = *t;
}

/* Reads the next token that is not space. */
static void lexer__next_solid(struct lexer *lx, struct token *t)
{
	do
		lexer__next(lx, t);
	while (t->kind == TOK_SPACE);
}

static bool token__is_punct(const struct lexer *lx, const struct token *t, const char *p)
{
	size_t n = strlen(p);

	return t->kind == TOK_PUNCT && t->end - t->start == n && !memcmp(lx->s + t->start, p, n);
}

/*
 * Reads one list item made only of a value: a literal or placeholder (its
 * sign already part of it), or NULL (or DEFAULT when allow_default), with any
 * ::type casts. Returns the token after it, in *t; false when the item is
 * anything else.
 */
static bool lexer__simple_item(struct lexer *lx, struct token *t, bool allow_default)
{
	lexer__next_solid(lx, t);
	if (t->kind != TOK_VALUE && !token__is(lx, t, "NULL") &&
	    !(allow_default && token__is(lx, t, "DEFAULT")))
		return false;
	lexer__next_solid(lx, t);
	while (token__is_punct(lx, t, "::")) {
		lexer__next_solid(lx, t);
		if (t->kind != TOK_WORD && t->kind != TOK_KEYWORD && t->kind != TOK_QUOTED)
			return false;
		lexer__next_solid(lx, t);
		if (token__is_punct(lx, t, "[")) {
			lexer__next_solid(lx, t);
			if (!token__is_punct(lx, t, "]"))
				return false;
			lexer__next_solid(lx, t);
		}
	}
	return true;
}

/*
 * Reads "( item, item, ... )" of simple items. Returns true with the lexer
 * after the ')' when the whole list is simple, false otherwise (the lexer is
 * then somewhere inside; the caller works on a copy).
 */
static bool lexer__simple_list(struct lexer *lx, bool allow_default)
{
	struct token t;

	lexer__next_solid(lx, &t);
	if (!token__is_punct(lx, &t, "("))
		return false;
	do {
		if (!lexer__simple_item(lx, &t, allow_default))
			return false;
	} while (token__is_punct(lx, &t, ","));
	return token__is_punct(lx, &t, ")");
}

/*
 * After IN or VALUES: returns true, with lx moved past the lists, when what
 * follows collapses to "(?)": one simple list after IN, one or more
 * comma-separated simple lists after VALUES.
 */
static bool lexer__collapse(struct lexer *lx, bool values)
{
	struct lexer ahead = *lx, after;
	struct token t;

	if (!lexer__simple_list(&ahead, values))
		return false;
	while (values) {
		after = ahead;
		lexer__next_solid(&after, &t);
		if (!token__is_punct(&after, &t, ",") || !lexer__simple_list(&after, true))
			break;
		ahead = after;
	}
	*lx = ahead;
	return true;
}

struct writer {
	char *buf;
	size_t cap, n; /* cap: bytes available before the NUL */
	bool space; /* a space is due before the next token */
	bool full;
};

static void writer__put(struct writer *w, const char *s, size_t n)
{
	size_t room;

	if (w->space && w->n) {
		w->space = false;
		writer__put(w, " ", 1);
	}
	w->space = false;
	room = w->cap - w->n;
	if (n > room) {
		n = room;
		w->full = true;
	}
	/* only quoted identifiers can hold control bytes; a NUL would end the string early */
	for (; n; n--, s++)
		w->buf[w->n++] = is_space(*s) ? ' ' : *s;
}

static void writer__upper(struct writer *w, const char *s, size_t n)
{
	char up[16];
	size_t i;

	for (i = 0; i < n && i < sizeof(up); i++)
		up[i] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i];
	writer__put(w, up, i);
}

/* Drops a UTF-8 sequence cut by the size limit and any trailing space. */
static void writer__finish(struct writer *w)
{
	size_t lead = w->n, need;
	unsigned char c;

	if (w->full) {
		while (lead > 0 && lead + 4 > w->n &&
		       ((unsigned char)w->buf[lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead > 0) {
			c = w->buf[lead - 1];
			need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (c >= 0x80 && lead - 1 + need > w->n)
				w->n = lead - 1;
		}
	}
	while (w->n && w->buf[w->n - 1] == ' ')
		w->n--;
	w->buf[w->n] = '\0';
}

int sql_fingerprint(const char *sql, size_t len, char *out, size_t outlen)
{
	struct lexer lx = { .s = sql, .len = len };
	struct writer w = { .buf = out };
	struct token t;
	bool values;

	if (!sql || !out || !outlen)
		return -1;
	w.cap = outlen - 1 > INT_MAX ? INT_MAX : outlen - 1;
	while (!w.full) {
		lexer__next(&lx, &t);
		switch (t.kind) {
		case TOK_END:
			goto done;
		case TOK_SPACE:
			w.space = true;
			break;
		case TOK_VALUE:
			writer__put(&w, "?", 1);
			break;
		case TOK_KEYWORD:
			writer__upper(&w, sql + t.start, t.end - t.start);
			values = token__is(&lx, &t, "VALUES");
			if ((values || token__is(&lx, &t, "IN")) && lexer__collapse(&lx, values)) {
				w.space = true;
				writer__put(&w, "(?)", 3);
				lx.prev.kind = TOK_PUNCT; /* as if at the ')' */
				lx.prev.start = lx.pos - 1;
				lx.prev.end = lx.pos;
			}
			break;
		default:
			writer__put(&w, sql + t.start, t.end - t.start);
			break;
		}
	}
done:
	writer__finish(&w);
	return (int)w.n;
}

/* True when the word token t is kw, in any case. */
static bool word__is(const struct lexer *lx, const struct token *t, const char *kw)
{
	size_t n = t->end - t->start;

	return strlen(kw) == n && !strncasecmp(lx->s + t->start, kw, n);
}

/* True for a value token that is a literal, not a placeholder ($1, ?, %s, :name). */
static bool token__is_literal(const struct lexer *lx, const struct token *t)
{
	unsigned char c = lexer__at(lx, t->start);

	if (c == '$')
		return lexer__at(lx, t->start + 1) == '$' ||
		       !is_digit(lexer__at(lx, t->start + 1)); /* $$..$$ or $tag$..$tag$ */
	return c == '\'' || is_digit(c) || c == '.' || c == '-' || c == '+';
}

/* Appends n bytes to out if they fit; false once out is full. */
static bool redact__put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len > cap - *n)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

int sql_redact(const char *sql, size_t len, bool literals, char *out, size_t outlen)
{
	struct lexer lx = { .s = sql, .len = len };
	bool secret = false, fits = true, pw = false;
	size_t n = 0, cap;
	struct token t;

	if (!sql || !out || !outlen)
		return -1;
	cap = outlen - 1;
	while (fits) {
		lexer__next(&lx, &t);
		if (t.kind == TOK_END)
			break;
		if (t.kind == TOK_VALUE && token__is_literal(&lx, &t) &&
		    lexer__at(&lx, t.start) == '\'' && secret) {
			fits = redact__put(out, cap, &n, "'***'", 5);
		} else if (t.kind == TOK_VALUE && literals && token__is_literal(&lx, &t)) {
			fits = redact__put(out, cap, &n, "?", 1);
		} else {
			fits = redact__put(out, cap, &n, sql + t.start, t.end - t.start);
		}
		/* the string right after PASSWORD or BY (IDENTIFIED BY) is a secret, and so is
		 * the one after the = of a statement that named PASSWORD (SET PASSWORD FOR u = ...) */
		if (t.kind == TOK_KEYWORD || t.kind == TOK_WORD) {
			secret = word__is(&lx, &t, "PASSWORD") || word__is(&lx, &t, "BY");
			pw = pw || word__is(&lx, &t, "PASSWORD");
		} else if (t.kind == TOK_PUNCT && sql[t.start] == '=') {
			secret = secret || pw;
		} else if (t.kind == TOK_PUNCT && sql[t.start] == ';') {
			secret = pw = false;
		} else if (t.kind != TOK_SPACE) {
			secret = false;
		}
	}
	out[n] = '\0';
	return (int)n;
}
