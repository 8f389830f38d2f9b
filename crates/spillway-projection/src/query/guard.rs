//! The functions a PostgreSQL query may call: an allow-list checked before the query is
//! sent.
//!
//! The query already runs as a role that may only read the projection's tables, inside a
//! `READ ONLY` transaction with a timeout; this check is the second wall. It lexes the SQL
//! as PostgreSQL does (comments, nested block comments, quoted identifiers, string and
//! dollar-quoted literals) and refuses every name followed by `(` that is neither an
//! allowed function, a keyword that takes parentheses, a type with a modifier, nor a
//! column list after `AS` or of a `WITH` query. Functions with side effects
//! (`pg_terminate_backend`, `pg_create_logical_replication_slot`, `pg_read_file`,
//! `dblink`, `lo_import`, `set_config`, `query_to_xml`, …) are simply not on the list.
//! Unicode-escaped identifiers (`U&"…"`) are refused, since they could spell any name.
//!
//! The lexer is pure and total: any input gives a verdict, never a panic.

/// Functions a query may call: aggregates, window functions, and functions of numbers,
/// text, dates, JSON and arrays without side effects.
const ALLOWED_FUNCTIONS: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "every",
    "string_agg",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_slope",
    "regr_intercept",
    "regr_count",
    "regr_r2",
    "regr_avgx",
    "regr_avgy",
    "bit_and",
    "bit_or",
    "bit_xor",
    "any_value",
    // window
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // conditionals
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "num_nulls",
    "num_nonnulls",
    // numbers
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "round",
    "trunc",
    "sign",
    "sqrt",
    "cbrt",
    "power",
    "pow",
    "exp",
    "ln",
    "log",
    "log10",
    "mod",
    "div",
    "width_bucket",
    "pi",
    "degrees",
    "radians",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "scale",
    "gcd",
    "lcm",
    "factorial",
    "trim_scale",
    "min_scale",
    "random",
    "to_number",
    "to_char",
    "float4",
    "float8",
    "int2",
    "int4",
    "int8",
    "numeric",
    // text
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "bit_length",
    "lower",
    "upper",
    "initcap",
    "concat",
    "concat_ws",
    "substr",
    "substring",
    "left",
    "right",
    "lpad",
    "rpad",
    "ltrim",
    "rtrim",
    "btrim",
    "trim",
    "replace",
    "reverse",
    "split_part",
    "strpos",
    "position",
    "starts_with",
    "regexp_replace",
    "regexp_match",
    "regexp_matches",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_count",
    "regexp_like",
    "regexp_substr",
    "regexp_instr",
    "format",
    "md5",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "encode",
    "decode",
    "to_hex",
    "ascii",
    "chr",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "translate",
    "overlay",
    "text",
    "unistr",
    "normalize",
    "convert_from",
    "convert_to",
    // dates and times
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "date_trunc",
    "date_part",
    "extract",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_date",
    "to_timestamp",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "date_bin",
    "timezone",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "isfinite",
    // JSON
    "to_json",
    "to_jsonb",
    "row_to_json",
    "array_to_json",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "json_object",
    "jsonb_object",
    "json_extract_path",
    "jsonb_extract_path",
    "json_extract_path_text",
    "jsonb_extract_path_text",
    "json_array_elements",
    "jsonb_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "json_each",
    "jsonb_each",
    "json_each_text",
    "jsonb_each_text",
    "json_object_keys",
    "jsonb_object_keys",
    "json_typeof",
    "jsonb_typeof",
    "json_array_length",
    "jsonb_array_length",
    "jsonb_set",
    "jsonb_insert",
    "json_strip_nulls",
    "jsonb_strip_nulls",
    "jsonb_pretty",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    "jsonb_path_exists",
    "jsonb_path_match",
    "json_to_record",
    "jsonb_to_record",
    "json_to_recordset",
    "jsonb_to_recordset",
    "json_populate_record",
    "jsonb_populate_record",
    // arrays and sets
    "array_length",
    "array_position",
    "array_positions",
    "array_to_string",
    "string_to_array",
    "string_to_table",
    "unnest",
    "cardinality",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_remove",
    "array_replace",
    "array_upper",
    "array_lower",
    "array_dims",
    "array_ndims",
    "generate_series",
    "generate_subscripts",
    // identifiers
    "gen_random_uuid",
    "uuid",
];

/// Keywords and type names that may precede `(` without calling anything.
const PAREN_KEYWORDS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "between",
    "bigint",
    "bit",
    "boolean",
    "by",
    "case",
    "cast",
    "char",
    "character",
    "collate",
    "cross",
    "cube",
    "dec",
    "decimal",
    "desc",
    "distinct",
    "double",
    "else",
    "end",
    "except",
    "exists",
    "fetch",
    "filter",
    "first",
    "float",
    "following",
    "for",
    "from",
    "full",
    "group",
    "grouping",
    "groups",
    "having",
    "ilike",
    "in",
    "inner",
    "int",
    "integer",
    "intersect",
    "interval",
    "is",
    "join",
    "last",
    "lateral",
    "left",
    "like",
    "limit",
    "materialized",
    "natural",
    "not",
    "null",
    "nulls",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "over",
    "overlaps",
    "partition",
    "preceding",
    "precision",
    "range",
    "real",
    "recursive",
    "right",
    "rollup",
    "row",
    "rows",
    "select",
    "sets",
    "similar",
    "smallint",
    "some",
    "table",
    "then",
    "time",
    "timestamp",
    "to",
    "unbounded",
    "union",
    "using",
    "values",
    "varchar",
    "varying",
    "when",
    "where",
    "window",
    "with",
    "within",
    "without",
    "zone",
];

/// A token of SQL, as far as the check needs to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted name or keyword, lower-cased.
    Word(String),
    /// A `"quoted"` identifier, exact.
    Quoted(String),
    Open,
    Close,
    /// Anything else: literals, numbers, operators, punctuation.
    Other(char),
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Checks that every function `sql` calls is allowed.
pub fn check(sql: &str) -> Result<(), Refusal> {
    let tokens = lex(sql)?;
    let mut column_lists = with_column_lists(&tokens);
    column_lists.sort_unstable();
    for (i, token) in tokens.iter().enumerate() {
        let (name, quoted) = match token {
            Token::Word(w) => (w.as_str(), false),
            Token::Quoted(q) => (q.as_str(), true),
            _ => continue,
        };
        if tokens.get(i + 1) != Some(&Token::Open) {
            continue;
        }
        let allowed_function = ALLOWED_FUNCTIONS.contains(&name);
        let keyword = !quoted && PAREN_KEYWORDS.contains(&name);
        let after_as = i > 0 && is_word(&tokens[i - 1], "as");
        if allowed_function || keyword || after_as || column_lists.binary_search(&(i + 1)).is_ok() {
            continue;
        }
        return Err(Refusal(format!(
            "function {name:?} is not allowed in queries here; they may call aggregates, window functions and functions of numbers, text, dates, JSON and arrays (for a column list, write AS alias(columns))"
        )));
    }
    Ok(())
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w == word)
}

/// For each token, the index of the `)` matching it when it is a `(` (computed once, so
/// the check stays linear in the query's length).
fn matches(tokens: &[Token]) -> Vec<Option<usize>> {
    let mut found = vec![None; tokens.len()];
    let mut open = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Open => open.push(i),
            Token::Close => {
                if let Some(o) = open.pop() {
                    found[o] = Some(i);
                }
            }
            _ => {}
        }
    }
    found
}

/// The `(` of every column list of a `WITH` query:
/// `WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (query) [, …]`.
fn with_column_lists(tokens: &[Token]) -> Vec<usize> {
    let matching = matches(tokens);
    let mut lists = Vec::new();
    for (w, token) in tokens.iter().enumerate() {
        if !is_word(token, "with") {
            continue;
        }
        let mut i = w + 1;
        if tokens.get(i).is_some_and(|t| is_word(t, "recursive")) {
            i += 1;
        }
        // One common table expression per turn.
        loop {
            if !matches!(tokens.get(i), Some(Token::Word(_) | Token::Quoted(_))) {
                break;
            }
            i += 1;
            if tokens.get(i) == Some(&Token::Open) {
                let Some(close) = matching[i] else {
                    break;
                };
                let names_only = tokens[i + 1..close]
                    .iter()
                    .all(|t| matches!(t, Token::Word(_) | Token::Quoted(_) | Token::Other(',')));
                if !names_only {
                    break;
                }
                lists.push(i);
                i = close + 1;
            }
            if !tokens.get(i).is_some_and(|t| is_word(t, "as")) {
                break;
            }
            i += 1;
            if tokens.get(i).is_some_and(|t| is_word(t, "not")) {
                i += 1;
            }
            if tokens.get(i).is_some_and(|t| is_word(t, "materialized")) {
                i += 1;
            }
            if tokens.get(i) != Some(&Token::Open) {
                break;
            }
            let Some(close) = matching[i] else {
                break;
            };
            i = close + 1;
            if tokens.get(i) != Some(&Token::Other(',')) {
                break;
            }
            i += 1;
        }
    }
    lists
}

/// Splits SQL into tokens, dropping whitespace and comments.
fn lex(sql: &str) -> Result<Vec<Token>, Refusal> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let unterminated = |what: &str| Refusal(format!("the query has an unterminated {what}"));
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in PostgreSQL.
            let mut depth = 0usize;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('/'), Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    (Some('*'), Some('/')) => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some(_), _) => i += 1,
                    (None, _) => return Err(unterminated("comment")),
                }
            }
        } else if (c == 'u' || c == 'U') && next == Some('&') {
            return Err(Refusal(
                "Unicode escapes (U&'…', U&\"…\") are not allowed in queries here".to_string(),
            ));
        } else if c == '\'' || ((c == 'e' || c == 'E') && next == Some('\'')) {
            let backslashes = c != '\'';
            i += if backslashes { 2 } else { 1 };
            loop {
                match chars.get(i) {
                    None => return Err(unterminated("string")),
                    Some('\\') if backslashes => i += 2,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            tokens.push(Token::Other('\''));
        } else if c == '"' {
            let mut name = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(unterminated("quoted identifier")),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        name.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        name.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Quoted(name));
        } else if c == '$' && next.is_some_and(|n| n == '$' || is_ident_start(n)) {
            // $tag$ … $tag$ (a `$1` parameter is lexed below as Other).
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '$' && is_ident_char(chars[j]) {
                j += 1;
            }
            if chars.get(j) == Some(&'$') {
                let tag: Vec<char> = chars[i..=j].to_vec();
                let mut k = j + 1;
                loop {
                    if k + tag.len() > chars.len() {
                        return Err(unterminated("dollar-quoted string"));
                    }
                    if chars[k..k + tag.len()] == tag[..] {
                        i = k + tag.len();
                        break;
                    }
                    k += 1;
                }
                tokens.push(Token::Other('$'));
            } else {
                tokens.push(Token::Other('$'));
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token::Word(word.to_lowercase()));
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            tokens.push(Token::Other('0'));
        } else {
            tokens.push(match c {
                '(' => Token::Open,
                ')' => Token::Close,
                other => Token::Other(other),
            });
            i += 1;
        }
    }
    Ok(tokens)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_queries_pass() {
        for sql in [
            "SELECT id, name FROM t ORDER BY id",
            "SELECT count(*), max(balance), coalesce(sum(x), 0) FROM t WHERE id IN (1, 2) AND EXISTS (SELECT 1)",
            "WITH a(x, y) AS (SELECT 1, 2) SELECT * FROM a",
            "WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a",
            "WITH RECURSIVE a(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM a), b(m) AS NOT MATERIALIZED (SELECT 2) SELECT * FROM a, b",
            "SELECT CAST(x AS numeric(10, 2)), x::varchar(5) FROM t",
            "SELECT * FROM unnest(ARRAY[1,2]) AS u(v)",
            "SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t",
            "SELECT 'pg_terminate_backend(1)', $$pg_read_file('x')$$ -- pg_sleep(1)\n",
            "SELECT /* nested /* pg_ls_dir('.') */ still */ 1",
            "SELECT date_trunc('day', now()) - interval '1 day', data->>'k' FROM t",
            "VALUES (1), (2)",
            "SELECT E'it\\'s (', \"Weird Col\" FROM t",
        ] {
            assert_eq!(check(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn functions_with_side_effects_are_refused() {
        for sql in [
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
            "SELECT pg_create_logical_replication_slot('x', 'pgoutput')",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT * FROM pg_ls_dir('.')",
            "SELECT dblink('host=evil', 'select 1')",
            "SELECT lo_import('/etc/passwd')",
            "SELECT set_config('role', 'postgres', false)",
            "SELECT query_to_xml('select 1', true, true, '')",
            "SELECT pg_catalog.pg_terminate_backend(1)",
            "SELECT \"pg_terminate_backend\"(1)",
            "SELECT PG_TERMINATE_BACKEND (1)",
            "SELECT pg_terminate_backend/**/(1)",
            "SELECT pg_terminate_backend(1) AS x",
            "SELECT U&\"\\0070g_sleep\"(1)",
            "SELECT nextval('s')",
            "SELECT 'x' FROM t WHERE pg_sleep(10) IS NULL",
            "SELECT pg_terminate_backend(pid) AS materialized FROM pg_stat_activity",
            "SELECT * FROM t, LATERAL pg_ls_dir(dir) AS materialized(x)",
            "WITH a(x) AS (SELECT 1), b AS (SELECT pg_sleep(1)) SELECT 1",
        ] {
            assert!(check(sql).is_err(), "{sql} was let through");
        }
    }

    #[test]
    fn any_input_gets_a_verdict_without_a_panic() {
        let alphabet: Vec<char> = "aEuU&'\"$_(),.;:-/*\\ \n0é\u{0}".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut sql = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for i in 0..(state % 40) {
                sql.push(alphabet[((state >> (i % 50)) as usize + i as usize) % alphabet.len()]);
            }
            let _ = check(&sql);
        }
    }

    #[test]
    fn unterminated_input_is_refused_without_a_panic() {
        for sql in [
            "SELECT 'abc",
            "SELECT \"x",
            "SELECT /* x",
            "SELECT $a$ x",
            "SELECT $",
            "U",
            "E'",
        ] {
            let _ = check(sql);
        }
        assert!(check("SELECT 'abc").is_err());
    }
}
