//! KCV0093: ingress-nginx annotations whose values can inject nginx configuration
//! (CVE-2025-24514, CVE-2025-1097, CVE-2025-1098).
//!
//! trivy's two RE2 patterns are matched by hand here:
//! * URL: `https?://[^\s<>"{}|^`\\\r\n]*[\r\n<>"{}|^`\\][^\s]*`
//! * CN: `CN=.*[\r\n#{};|].*` (`.` does not cross a newline)

use tollgate_kit::{Finding, Object};

const KEYS: [&str; 4] = [
    "nginx.ingress.kubernetes.io/auth-url",
    "nginx.ingress.kubernetes.io/auth-tls-match-cn",
    "nginx.ingress.kubernetes.io/mirror-target",
    "nginx.ingress.kubernetes.io/mirror-host",
];

/// One finding per suspicious annotation of an nginx-class Ingress.
pub fn insecure_annotations(o: &Object) -> Vec<Finding> {
    if !go_lower_is(o.kind(), "ingress") {
        return vec![];
    }
    // `ingressClassName` present and not false, and "nginx" once lower-cased; the legacy
    // `kubernetes.io/ingress.class` annotation is not read.
    let class = o.spec().and_then(|s| s.get("ingressClassName"));
    if !class
        .and_then(|c| c.as_str())
        .is_some_and(|c| go_lower_is(c, "nginx"))
    {
        return vec![];
    }
    let Some(annotations) = o.metadata().and_then(|m| m.get("annotations")) else {
        return vec![];
    };
    KEYS.iter()
        .filter_map(|key| {
            let value = annotations.get(key)?.as_str()?;
            suspicious(value).then(|| {
                Finding::at(
                    format!(
                        "{} has the annotation {key} with characters that can inject nginx configuration: {}",
                        o.describe(),
                        shown(value)
                    ),
                    "metadata.annotations",
                )
            })
        })
        .collect()
}

/// Whether the value matches either of trivy's patterns (both are tried on every key).
pub fn suspicious(value: &str) -> bool {
    url_injection(value) || cn_injection(value)
}

/// A character a URL may not contain, other than whitespace.
fn breaks_url(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\'
    )
}

/// RE2's `\s`.
fn re2_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// `http://` or `https://`, then URL characters, then one that breaks the URL. After the
/// scheme the first character that is not a plain URL character decides: a breaking one
/// matches, whitespace (or the end) does not.
fn url_injection(value: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        value.match_indices(scheme).any(|(i, _)| {
            value[i + scheme.len()..]
                .chars()
                .find(|&c| re2_space(c) || breaks_url(c))
                .is_some_and(breaks_url)
        })
    })
}

/// `CN=`, then anything on the same line, then one of CR LF # { } ; |. The first `CN=`
/// decides: every later one sees a part of the same rest.
fn cn_injection(value: &str) -> bool {
    let Some(i) = value.find("CN=") else {
        return false;
    };
    for c in value[i + 3..].chars() {
        if matches!(c, '\r' | '\n' | '#' | '{' | '}' | ';' | '|') {
            return true;
        }
    }
    false
}

/// Go's `strings.ToLower(s) == target` for a lower-case ASCII target: Go maps each rune
/// on its own (U+0130 'İ' becomes 'i', where Rust's full mapping gives two characters).
fn go_lower_is(s: &str, target: &str) -> bool {
    let mut lowered = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{130}' => lowered.push('i'),
            c => lowered.extend(c.to_lowercase()),
        }
    }
    lowered == target
}

/// The value as JSON text, cut at 80 characters.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(80).collect();
    let mut s = tollgate_kit::serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < value.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_pattern() {
        assert!(url_injection("http://example.com/invalid|url"));
        assert!(url_injection("http://example.com/#;\ninjection_point"));
        assert!(url_injection("https://|"));
        assert!(url_injection("x https://a.b/\"}; evil"));
        assert!(!url_injection("https://valid-url.com"));
        assert!(
            !url_injection("https://a.b/ |c"),
            "whitespace ends the URL first"
        );
        assert!(!url_injection("ftp://a|b"));
        assert!(!url_injection("http://a.b/#;"));
        assert!(
            url_injection("http://a b http://c|"),
            "every occurrence is tried"
        );
    }

    #[test]
    fn cn_pattern() {
        assert!(cn_injection("CN=invalid|cn"));
        assert!(cn_injection("CN=valid#;\ninjection_point"));
        assert!(cn_injection("CN=a\nb"));
        assert!(cn_injection("x\nCN=a;"));
        assert!(!cn_injection("CN=valid-cn"));
        assert!(!cn_injection("cn=a|b"));
        assert!(!cn_injection("a|b CN="));
        assert!(
            suspicious("https://x/?CN=a#frag"),
            "CN pattern on a URL key"
        );
    }

    #[test]
    fn lower_case_like_go() {
        assert!(go_lower_is("NGINX", "nginx"));
        assert!(go_lower_is("Ingress", "ingress"));
        assert!(go_lower_is("\u{130}ngress", "ingress"));
        assert!(!go_lower_is("nginx-internal", "nginx"));
        assert!(!go_lower_is("ngin", "nginx"));
    }
}
