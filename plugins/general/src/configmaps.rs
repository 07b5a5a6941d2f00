//! ConfigMaps that hold secrets (KSV0109) or sensitive data (KSV01010), with trivy's
//! patterns. The case-insensitive word patterns (`(?i)(password\s*(=|:))` and the like)
//! are matched here directly, with RE2's semantics: `(?i)` folds case the Unicode way
//! (so `k` also matches the Kelvin sign U+212A and `s` the long s U+017F) and `\s` is
//! `[\t\n\f\r ]`. The structured patterns (e-mail, IBAN) go through `regex-lite`, whose
//! ASCII-only classes and word boundary are RE2's for those patterns.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex_lite::Regex;
use tollgate_kit::{Finding, Node, Object};

/// `(key, value)` of every entry of `data` the way Rego iterates it: an object's
/// fields (a repeated key reads as its last value), or an array's elements with no
/// string key (their keys are numbers, which no key pattern matches).
fn entries<'a>(o: &Object<'a>) -> Vec<(Option<&'a str>, Node<'a>, usize)> {
    let Some(data) = o.value.get("data") else {
        return vec![];
    };
    if data.is_array() {
        return data
            .items()
            .enumerate()
            .map(|(i, v)| (None, v, i))
            .collect();
    }
    let fields: Vec<(&str, Node)> = data.fields().collect();
    fields
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| {
            data.is_sorted_object() || !fields[i + 1..].iter().any(|(k2, _)| k2 == k)
        })
        .map(|(i, (k, v))| (Some(*k), *v, i))
        .collect()
}

/// RE2's `(?i)` for an ASCII letter or digit of a pattern: simple case folding.
fn fold_eq(pattern: u8, c: char) -> bool {
    match c {
        '\u{212A}' => pattern.eq_ignore_ascii_case(&b'k'),
        '\u{17F}' => pattern.eq_ignore_ascii_case(&b's'),
        c if c.is_ascii() => (c as u8).eq_ignore_ascii_case(&pattern),
        _ => false,
    }
}

/// Byte offsets just past each case-insensitive occurrence of `word` in `hay`.
fn word_ends<'h>(hay: &'h str, word: &'h str) -> impl Iterator<Item = usize> + 'h {
    hay.char_indices().filter_map(move |(start, _)| {
        let mut chars = hay[start..].char_indices();
        for &p in word.as_bytes() {
            let (_, c) = chars.next()?;
            if !fold_eq(p, c) {
                return None;
            }
        }
        Some(chars.next().map_or(hay.len(), |(i, _)| start + i))
    })
}

/// `(?i)(WORD\s*)`, unanchored: the word anywhere (the `\s*` may match nothing).
fn has_word(hay: &str, word: &str) -> bool {
    word_ends(hay, word).next().is_some()
}

/// `(?i)(WORD\s*(=|:))`, unanchored: the word, RE2 blanks, then `=` or `:`.
fn has_assignment(hay: &str, word: &str) -> bool {
    word_ends(hay, word).any(|end| {
        hay[end..]
            .trim_start_matches(['\t', '\n', '\x0c', '\r', ' '])
            .starts_with(['=', ':'])
    })
}

// ---- KSV0109 ---------------------------------------------------------------------

/// The words of trivy's secret key and value patterns.
const SECRET_WORDS: [&str; 14] = [
    "password",
    "pass",
    "pword",
    "passphrase",
    "passwrd",
    "passwd",
    "secret",
    "secretkey",
    "appSecret",
    "clientSecret",
    "aws_access_key_id",
    "pswrd",
    "token",
    "pwd",
];

/// trivy's `is_interpolation`: after one leading `"`, `${`, `$(` or `{{`.
fn is_interpolation(value: &str) -> bool {
    let v = value.strip_prefix('"').unwrap_or(value);
    ["${", "$(", "{{"].iter().any(|p| v.starts_with(p))
}

/// The keys trivy's `config_map_secret_key` gives a line: for each of `:` and `=`, the
/// text before the first one when what follows it up to the next one is neither empty
/// nor an interpolation. Two keys are trivy's conflict error (see the check's
/// `conflicting-values` deviation).
fn secret_keys(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for delimiter in [':', '='] {
        let mut parts = line.split(delimiter);
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !value.is_empty() && !is_interpolation(value) {
            out.push(key);
        }
    }
    out
}

pub fn secrets(o: &Object) -> Vec<Finding> {
    if o.kind() != "ConfigMap" {
        return vec![];
    }
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let mut conflicts: Vec<String> = Vec::new();
    for (key, value, _) in entries(o) {
        if let Some(k) = key.filter(|k| SECRET_WORDS.iter().any(|w| has_word(k, w))) {
            keys.insert(k.to_string());
        }
        let Some(v) = value.as_str() else { continue };
        for line in v.split('\n') {
            if !SECRET_WORDS.iter().any(|w| has_assignment(line, w)) {
                continue;
            }
            let found = secret_keys(line);
            if found.len() > 1 {
                conflicts.push(line.to_string());
            }
            keys.extend(found.into_iter().map(str::to_string));
        }
    }
    if keys.is_empty() {
        return vec![];
    }
    let list: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    let mut message = format!(
        "{} stores secrets in data (keys or assignments {}); use a Secret",
        o.describe(),
        list.join(", ")
    );
    if !conflicts.is_empty() {
        let lines: Vec<String> = conflicts.iter().map(|l| format!("'{l}'")).collect();
        message.push_str(&format!(
            " (trivy stops with an evaluation error on the line(s) {}, which assign with both ':' and '=')",
            lines.join(", ")
        ));
    }
    vec![Finding::at(message, "data")]
}

// ---- KSV01010 --------------------------------------------------------------------

/// The word patterns of KSV01010: `(word, value pattern needs '=' or ':' after it)`.
const SENSITIVE_WORDS: [(&str, bool); 7] = [
    ("username", true),
    ("email", true),
    ("key", true),
    ("phone", true),
    ("SHA1", false),
    ("MD5", false),
    ("iban", true),
];

const EMAIL: &str = r"([a-zA-Z0-9_\-\.]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?)";
const ACCOUNT: &str = r"[^\.](?:\b[A-Z]{2}\d{2} ?\d{4} ?\d{4} ?\d{4} ?\d{4} ?[\d]{0,2}\b)";
const IBAN: &str = r"([A-Z]{2}[ \-]?[0-9]{2}[ \-]?([A-Z0-9]{3,5}[ \-]?){2,7}[A-Z0-9]{1,3})";

struct Patterns {
    email: Regex,
    account: Regex,
    iban: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        email: Regex::new(EMAIL).expect("e-mail pattern"),
        account: Regex::new(ACCOUNT).expect("account pattern"),
        iban: Regex::new(IBAN).expect("IBAN pattern"),
    })
}

/// `^[A-Z0-9<]{3,20}$`: trivy's passport pattern.
fn passport(s: &str) -> bool {
    (3..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<')
}

/// Whether one of KSV01010's value patterns matches a line.
fn sensitive_value(line: &str) -> bool {
    let p = patterns();
    SENSITIVE_WORDS.iter().any(|(w, assign)| {
        if *assign {
            has_assignment(line, w)
        } else {
            has_word(line, w)
        }
    }) || p.email.is_match(line)
        || p.account.is_match(line)
}

/// Whether one of KSV01010's key patterns matches a key.
fn sensitive_key(key: &str) -> bool {
    let p = patterns();
    SENSITIVE_WORDS.iter().any(|(w, _)| has_word(key, w))
        || p.email.is_match(key)
        || p.account.is_match(key)
}

pub fn sensitive(o: &Object) -> Vec<Finding> {
    if o.kind() != "ConfigMap" {
        return vec![];
    }
    let p = patterns();
    let mut found: BTreeSet<String> = BTreeSet::new();
    for (key, value, index) in entries(o) {
        // Only string values count, for the key test too.
        let Some(v) = value.as_str() else { continue };
        let name = key.map_or_else(|| index.to_string(), str::to_string);
        let lines: Vec<&str> = v.split('\n').collect();
        for line in &lines {
            if sensitive_value(line) {
                // The text before the first ':' (else the first '='), if any.
                if let Some((before, _)) = line.split_once(':').or_else(|| line.split_once('=')) {
                    found.insert(before.to_string());
                }
            }
        }
        if key.is_some_and(sensitive_key) {
            found.insert(name.clone());
        }
        // trivy reads piece i of line i (split on ':'), for the e-mail pattern and for
        // the IBAN and passport patterns.
        let piece_hit = lines.iter().enumerate().any(|(i, line)| {
            line.split(':').nth(i).is_some_and(|piece| {
                p.email.is_match(piece) || p.iban.is_match(piece) || passport(piece)
            })
        });
        if piece_hit {
            found.insert(name);
        }
    }
    if found.is_empty() {
        return vec![];
    }
    let list: Vec<String> = found.iter().map(|k| format!("'{k}'")).collect();
    vec![Finding::at(
        format!(
            "{} stores sensitive content (user names, e-mail addresses, keys, phone or account numbers, hashes) in data: {}",
            o.describe(),
            list.join(", ")
        ),
        "data",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_like_re2() {
        assert!(has_word("MyPassWord", "password"));
        assert!(has_word("\u{212A}EY", "key"));
        assert!(has_word("to\u{212A}en", "token"));
        assert!(has_word("\u{17F}ecret", "secret"));
        assert!(!has_word("pa", "pass"));
        assert!(has_assignment("x TOKEN \t = y", "token"));
        assert!(has_assignment("token\n:", "token"));
        // \v is not RE2's \s.
        assert!(!has_assignment("token\x0b=", "token"));
        assert!(!has_assignment("token x=", "token"));
    }

    #[test]
    fn secret_keys_of_a_line() {
        assert_eq!(secret_keys("password: abc"), ["password"]);
        assert_eq!(secret_keys("password:${X}"), Vec::<&str>::new());
        assert_eq!(secret_keys("password: ${X}"), ["password"]);
        assert_eq!(secret_keys("password:\"${X}\""), Vec::<&str>::new());
        assert_eq!(secret_keys("password:"), Vec::<&str>::new());
        assert_eq!(secret_keys("token = x"), ["token "]);
        assert_eq!(
            secret_keys("password=abc:def"),
            ["password=abc", "password"]
        );
    }

    #[test]
    fn patterns_compile_and_match() {
        let p = patterns();
        assert!(p.email.is_match("mail: a.b@example.com"));
        assert!(p.email.is_match("x@[10.0.0.12"));
        assert!(!p.email.is_match("a@b"));
        assert!(p.account.is_match(" DE89 3704 0044 0532 0130 00"));
        assert!(!p.account.is_match(".DE89370400440532013000"));
        assert!(p.iban.is_match("GB82 WEST 1234 5698 7654 32"));
        assert!(passport("INFO") && passport("8080") && !passport("80") && !passport("info"));
    }
}
