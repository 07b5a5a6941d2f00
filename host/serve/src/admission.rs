//! The admission protocol (`admission.k8s.io/v1` AdmissionReview) and the decision: a
//! review's object in, an AdmissionReview answer out, with what failed, what warns and
//! what the failure policy made of errors. No I/O here: the HTTP layer feeds it.

use serde_json::{json, Map, Value};
use tollgate_runtime::Severity;

use tollgate::config::{AdmissionMode, FailurePolicy};
use tollgate::report::CheckEntry;
use tollgate::Verdicts;

pub const API_VERSION: &str = "admission.k8s.io/v1";

/// The API server keeps 4096 runes of warnings per request and drops warnings with
/// control characters; it recommends at most 120 characters each.
const WARNING_CHARS: usize = 120;
const WARNINGS_BUDGET: usize = 4000;
/// The denial message: what `kubectl apply` prints after "denied the request: ".
const MESSAGE_CHARS: usize = 2048;

/// How findings and failures become a decision.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub deny_on: Severity,
    pub warn_on: Severity,
    pub mode: AdmissionMode,
    pub failure_policy: FailurePolicy,
}

/// The parts of a review's request the webhook reads.
#[derive(Debug, Clone)]
pub struct Review {
    pub uid: String,
    pub operation: String,
    /// `request.kind.kind`.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub dry_run: bool,
    /// The object to evaluate (`request.object`), completed from the request (see
    /// [`parse`]).
    pub object: Option<Value>,
    /// The object's `tollgate.dev/exempt` annotation, to say when it was not honoured.
    pub exempt_annotation: Option<String>,
}

/// Why a body is not an AdmissionReview we can answer (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadReview(pub String);

/// The operations an AdmissionReview may carry; anything else is refused (400), so no
/// label or log field takes a value the client chose.
pub const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/// Reads a review. The request's own fields are the API server's word and win over
/// the object's: `request.kind` gives the object's `apiVersion` and `kind` (trimmed
/// fixtures and subresource requests name their kind only there), `request.namespace`
/// and `request.name` fill in what the object omits.
pub fn parse(body: &[u8]) -> Result<Review, BadReview> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| BadReview(format!("the body is not JSON: {e}")))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    match (
        text(&v, "apiVersion").as_deref(),
        text(&v, "kind").as_deref(),
    ) {
        (Some(API_VERSION), Some("AdmissionReview")) => {}
        (a, k) => {
            return Err(BadReview(format!(
                "expected an AdmissionReview of {API_VERSION}, got kind {} of apiVersion {}",
                k.unwrap_or("(none)"),
                a.unwrap_or("(none)")
            )))
        }
    }
    let request = v
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| BadReview("the AdmissionReview has no `request`".into()))?;
    let uid = text(request, "uid")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| BadReview("the AdmissionReview's request has no `uid`".into()))?;
    let operation = text(request, "operation").unwrap_or_default();
    if !OPERATIONS.contains(&operation.as_str()) {
        let mut shown: String = operation.chars().take(40).collect();
        shown.retain(|c| !c.is_control());
        return Err(BadReview(format!(
            "the request's operation is '{shown}'; expected one of {}",
            OPERATIONS.join(", ")
        )));
    }
    let namespace = text(request, "namespace").filter(|n| !n.is_empty());
    let name = text(request, "name").filter(|n| !n.is_empty());
    let kind = request.get("kind").filter(|k| k.is_object());
    let group_kind = kind.and_then(|k| {
        let kind = text(k, "kind").filter(|k| !k.is_empty())?;
        let version = text(k, "version").filter(|v| !v.is_empty())?;
        let api_version = match text(k, "group").filter(|g| !g.is_empty()) {
            Some(g) => format!("{g}/{version}"),
            None => version,
        };
        Some((api_version, kind))
    });
    let dry_run = request
        .get("dryRun")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let object = match v.pointer_mut("/request/object").map(Value::take) {
        Some(Value::Object(mut o)) => {
            if let Some((api_version, kind)) = &group_kind {
                o.insert("apiVersion".into(), Value::String(api_version.clone()));
                o.insert("kind".into(), Value::String(kind.clone()));
            }
            let meta = o
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                if let Some(ns) = &namespace {
                    meta.entry("namespace")
                        .or_insert_with(|| Value::String(ns.clone()));
                }
                if let Some(n) = &name {
                    meta.entry("name")
                        .or_insert_with(|| Value::String(n.clone()));
                }
            }
            Some(Value::Object(o))
        }
        _ => None,
    };
    let exempt_annotation = object.as_ref().and_then(|o| {
        o.pointer("/metadata/annotations")?
            .get(tollgate::exempt::ANNOTATION)?
            .as_str()
            .map(str::to_string)
    });
    Ok(Review {
        uid,
        operation,
        kind: group_kind.map(|(_, k)| k).unwrap_or_default(),
        name: name.or_else(|| {
            object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/name")?.as_str().map(str::to_string))
        }),
        namespace,
        dry_run,
        object,
        exempt_annotation,
    })
}

/// The warning that says an exemption annotation on the reviewed object was not
/// honoured for checks that failed: the tenant should know why the annotation did not
/// help, and whom to ask.
fn ignored_annotation(v: &Verdicts, annotation: &str) -> Option<String> {
    let (ids, _) = tollgate::exempt::parse_annotation(annotation).ok()?;
    let named: Vec<&str> = v
        .failed()
        .filter(|c| {
            ids.iter().any(|id| {
                c.meta.id.eq_ignore_ascii_case(id)
                    || c.meta.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
            })
        })
        .map(|c| c.meta.id.as_str())
        .collect();
    (!named.is_empty()).then(|| {
        format!(
            "{} not honoured at admission (an admin grants admission.annotation_exemptions): {}",
            tollgate::exempt::ANNOTATION,
            named.join(", ")
        )
    })
}

/// What became of the review's object.
#[derive(Debug)]
pub enum Outcome {
    /// Evaluated: the checks' verdicts (plugin errors among them).
    Evaluated(Box<Verdicts>),
    /// Nothing to evaluate (a DELETE, a CONNECT, an object the filters leave out).
    Skipped(&'static str),
    /// Could not be evaluated in time, or at all.
    Failed(String),
}

/// The answer to one review.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub allowed: bool,
    /// HTTP-like code and message of a denial.
    pub denial: Option<(u16, String)>,
    pub warnings: Vec<String>,
    /// Primary ids of the failed checks that denied (or would deny, in audit mode).
    pub denying: Vec<String>,
    /// Why the failure policy was applied, if it was.
    pub failure: Option<String>,
}

impl Answer {
    /// One word for logs and metrics.
    pub fn decision(&self) -> &'static str {
        match (self.allowed, &self.failure) {
            (false, Some(_)) => "error-denied",
            (false, None) => "denied",
            (true, Some(_)) => "error-allowed",
            (true, None) if self.warnings.is_empty() => "allowed",
            (true, None) => "warned",
        }
    }
}

fn short(c: &CheckEntry) -> String {
    let first = c.messages.first().map(String::as_str).unwrap_or("");
    let more = match c.messages.len() {
        0 | 1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    format!(
        "{} ({}) {}: {first}{more}",
        c.meta.id, c.severity, c.meta.title
    )
}

/// Text the API server will pass on: no control characters, at most `max` characters
/// (the last one an ellipsis when cut). One pass, and none for short ASCII text.
fn clean(text: &str, max: usize) -> String {
    if text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.pop();
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

pub fn decide(outcome: &Outcome, rules: &Rules, exempt_annotation: Option<&str>) -> Answer {
    let audit = rules.mode == AdmissionMode::Audit;
    let mut answer = Answer {
        allowed: true,
        denial: None,
        warnings: Vec::new(),
        denying: Vec::new(),
        failure: None,
    };
    let mut warn: Vec<String> = Vec::new();
    let mut deny: Vec<&CheckEntry> = Vec::new();
    match outcome {
        Outcome::Skipped(_) => return answer,
        Outcome::Failed(why) => answer.failure = Some(why.clone()),
        Outcome::Evaluated(v) => {
            if let Some(note) = exempt_annotation.and_then(|a| ignored_annotation(v, a)) {
                warn.push(note);
            }
            let mut failed: Vec<&CheckEntry> = v.failed().collect();
            failed.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.meta.id.cmp(&b.meta.id)));
            for c in failed {
                if c.severity >= rules.deny_on {
                    deny.push(c);
                } else if c.severity >= rules.warn_on {
                    warn.push(short(c));
                }
            }
            if !v.errors.is_empty() {
                let errors: Vec<String> = v
                    .errors
                    .iter()
                    .map(|e| match &e.plugin {
                        Some(p) => format!("plugin '{p}' failed ({}): {}", e.class, e.message),
                        None => format!("{}: {}", e.class, e.message),
                    })
                    .collect();
                answer.failure = Some(errors.join("; "));
            }
        }
    }
    answer.denying = deny.iter().map(|c| c.meta.id.clone()).collect();
    let mut message = String::new();
    if !deny.is_empty() {
        message = format!(
            "{} failed check{}: ",
            deny.len(),
            if deny.len() == 1 { "" } else { "s" }
        );
        for (listed, c) in deny.iter().enumerate() {
            let part = short(c);
            if message.len() + part.len() > MESSAGE_CHARS && listed > 0 {
                message.push_str(&format!("; and {} more", deny.len() - listed));
                break;
            }
            if listed > 0 {
                message.push_str("; ");
            }
            message.push_str(&part);
        }
    }
    // A plugin switched off after repeated time-outs fails closed whatever the policy:
    // otherwise a client that hangs it with a few crafted reviews would waive its checks
    // for everyone's next objects.
    let switched_off = matches!(outcome, Outcome::Evaluated(v) if v.errors.iter().any(|e| e.class == "switched-off"));
    let failure_note = answer.failure.as_ref().map(|why| {
        match (rules.failure_policy, switched_off) {
            (_, true) => format!(
                "tollgate could not evaluate the object (a plugin is switched off, which denies whatever the failure policy): {why}"
            ),
            (FailurePolicy::Fail, false) => {
                format!("tollgate could not evaluate the object (failure_policy: fail): {why}")
            }
            (FailurePolicy::Ignore, false) => format!(
                "tollgate could not evaluate the object, allowed by failure_policy: ignore: {why}"
            ),
        }
    });
    let fail_closed =
        answer.failure.is_some() && (rules.failure_policy == FailurePolicy::Fail || switched_off);
    if (!deny.is_empty() || fail_closed) && !audit {
        let mut text = message.clone();
        if fail_closed {
            if !text.is_empty() {
                text.push_str(". ");
            }
            text.push_str(failure_note.as_deref().unwrap_or(""));
        }
        answer.allowed = false;
        answer.denial = Some((403, clean(&text, MESSAGE_CHARS)));
    } else {
        // What does not deny is said as warnings: in audit mode, what would have denied.
        let mut first: Vec<String> = Vec::new();
        if audit && !deny.is_empty() {
            first.push(format!("audit mode, would deny: {message}"));
            first.extend(deny.iter().map(|c| short(c)));
        }
        if let Some(note) = &failure_note {
            first.insert(0, note.clone());
        }
        warn.splice(0..0, first);
    }
    answer.warnings = budget(warn);
    answer
}

/// Warnings within what the API server passes on: each short, no duplicates, a total
/// budget, and the count of what was left out.
fn budget(all: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut used = 0;
    for (i, w) in all.iter().enumerate() {
        let w = clean(w, WARNING_CHARS);
        if out.contains(&w) {
            continue;
        }
        if used + w.chars().count() > WARNINGS_BUDGET - 60 {
            out.push(format!(
                "and {} more findings: run `tollgate scan` on the object",
                all.len() - i
            ));
            break;
        }
        used += w.chars().count();
        out.push(w);
    }
    out
}

/// The AdmissionReview answering `uid`.
pub fn response(uid: &str, answer: &Answer) -> Value {
    let mut r = Map::new();
    r.insert("uid".into(), json!(uid));
    r.insert("allowed".into(), json!(answer.allowed));
    if let Some((code, message)) = &answer.denial {
        r.insert(
            "status".into(),
            json!({"code": code, "message": message, "reason": "Forbidden", "status": "Failure"}),
        );
    }
    if !answer.warnings.is_empty() {
        r.insert("warnings".into(), json!(answer.warnings));
    }
    let mut notes = Map::new();
    notes.insert("decision".into(), json!(answer.decision()));
    if !answer.denying.is_empty() {
        notes.insert("failed-checks".into(), json!(answer.denying.join(",")));
    }
    r.insert("auditAnnotations".into(), Value::Object(notes));
    json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": r})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_read_and_bad_ones_refused_with_the_reason() {
        let ok = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","object":{"kind":"Pod","metadata":{"name":"p"}}}}"#;
        let r = parse(ok).unwrap();
        assert_eq!(
            (r.uid.as_str(), r.kind.as_str(), r.operation.as_str()),
            ("u1", "Pod", "CREATE")
        );
        assert_eq!(r.object.unwrap()["metadata"]["namespace"], "shop");
        assert!(parse(b"{").unwrap_err().0.contains("not JSON"));
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}"#;
        assert!(parse(v1beta1)
            .unwrap_err()
            .0
            .contains("apiVersion admission.k8s.io/v1beta1"));
        let no_request = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
        assert!(parse(no_request).unwrap_err().0.contains("no `request`"));
    }

    #[test]
    fn the_request_completes_the_object_and_operations_are_a_closed_set() {
        let trimmed = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"UPDATE","name":"web","namespace":"shop","kind":{"group":"apps","version":"v1","kind":"Deployment"},"object":{"spec":{}}}}"#;
        let r = parse(trimmed).unwrap();
        let o = r.object.unwrap();
        assert_eq!(o["apiVersion"], "apps/v1");
        assert_eq!(o["kind"], "Deployment");
        assert_eq!(o["metadata"]["name"], "web");
        assert_eq!(o["metadata"]["namespace"], "shop");
        assert_eq!(r.kind, "Deployment");
        // The request's kind is the API server's word over the object's.
        let lying = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p","annotations":{"tollgate.dev/exempt":"KSV017: trust me"}}}}}"#;
        let r = parse(lying).unwrap();
        assert_eq!(r.object.unwrap()["kind"], "Pod");
        assert_eq!(r.exempt_annotation.as_deref(), Some("KSV017: trust me"));
        let junk = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"PATCH\u0007"}}"#;
        let e = parse(junk).unwrap_err().0;
        assert!(
            e.contains("'PATCH'") && e.contains("CREATE, UPDATE, DELETE, CONNECT"),
            "{e}"
        );
    }

    #[test]
    fn text_for_the_api_server_is_clean_and_short() {
        assert_eq!(clean("a\nb\tc", 10), "a b c");
        let long = "x".repeat(500);
        assert_eq!(clean(&long, 120).chars().count(), 120);
        assert!(clean(&long, 120).ends_with('…'));
        assert_eq!(
            clean(&"é".repeat(120), 120),
            "é".repeat(120),
            "120 characters fit"
        );
        assert_eq!(clean("\u{85}x", 10), " x", "C1 controls too");
        let many: Vec<String> = (0..200)
            .map(|i| format!("KSV{i:03} {}", "y".repeat(100)))
            .collect();
        let kept = budget(many);
        let total: usize = kept.iter().map(|w| w.chars().count()).sum();
        assert!(total <= 4096, "{total}");
        assert!(
            kept.last().unwrap().starts_with("and "),
            "{:?}",
            kept.last()
        );
    }

    /// Verdicts with failed checks of these (id, severity) and plugin errors of these
    /// classes.
    fn verdicts(failed: &[(&str, Severity)], errors: &[&str]) -> Outcome {
        use std::sync::Arc;
        use tollgate::report::{CheckMeta, ErrorEntry, ResourceEntry, Summary};
        let checks = failed
            .iter()
            .map(|(id, severity)| CheckEntry {
                meta: Arc::new(CheckMeta::new(id, &[], "a check", "General", "p")),
                severity: *severity,
                success: false,
                messages: vec![format!("{id} failed")],
                exempted: None,
            })
            .collect();
        let errors = errors
            .iter()
            .map(|class| ErrorEntry {
                file: "-".into(),
                document: None,
                item: None,
                plugin: Some("slow".into()),
                class: class.to_string(),
                message: "it took too long".into(),
            })
            .collect();
        Outcome::Evaluated(Box::new(Verdicts {
            resource: ResourceEntry {
                file: Arc::from("-"),
                document: 0,
                item: None,
                line: None,
                api_version: Some("v1".into()),
                kind: "Pod".into(),
                namespace: Some("shop".into()),
                name: Some("web".into()),
                checks,
            },
            errors,
            summary: Summary::default(),
            filtered: false,
        }))
    }

    fn rules(mode: AdmissionMode, failure_policy: FailurePolicy) -> Rules {
        Rules {
            deny_on: Severity::High,
            warn_on: Severity::Medium,
            mode,
            failure_policy,
        }
    }

    #[test]
    fn findings_deny_at_deny_on_and_warn_below_down_to_warn_on() {
        let enforce = rules(AdmissionMode::Enforce, FailurePolicy::Fail);
        let v = verdicts(
            &[
                ("KSV011", Severity::Low),
                ("KSV020", Severity::Medium),
                ("KSV017", Severity::High),
            ],
            &[],
        );
        let a = decide(&v, &enforce, None);
        assert!(!a.allowed);
        assert_eq!(a.denying, ["KSV017"]);
        let (code, message) = a.denial.clone().unwrap();
        assert_eq!(code, 403);
        assert!(
            message.starts_with("1 failed check: KSV017 (HIGH)"),
            "{message}"
        );
        assert_eq!(
            a.warnings.len(),
            1,
            "MEDIUM warns, LOW is below warn_on: {:?}",
            a.warnings
        );
        assert!(a.warnings[0].starts_with("KSV020"));
        assert_eq!(a.decision(), "denied");
        // Below deny_on: allowed with the warning.
        let a = decide(
            &verdicts(&[("KSV020", Severity::Medium)], &[]),
            &enforce,
            None,
        );
        assert!(a.allowed && a.decision() == "warned");
        // Audit mode never denies; it says what would have.
        let a = decide(&v, &rules(AdmissionMode::Audit, FailurePolicy::Fail), None);
        assert!(a.allowed && a.denial.is_none());
        assert!(
            a.warnings[0].starts_with("audit mode, would deny: 1 failed check: KSV017"),
            "{:?}",
            a.warnings
        );
        assert_eq!(a.denying, ["KSV017"]);
    }

    #[test]
    fn failures_follow_the_failure_policy_except_a_switched_off_plugin() {
        for (class, policy, allowed) in [
            ("time-limit", FailurePolicy::Fail, false),
            ("time-limit", FailurePolicy::Ignore, true),
            ("switched-off", FailurePolicy::Fail, false),
            // A client that hangs a plugin until it is switched off must not waive its
            // checks: switched off denies whatever the policy.
            ("switched-off", FailurePolicy::Ignore, false),
        ] {
            let a = decide(
                &verdicts(&[], &[class]),
                &rules(AdmissionMode::Enforce, policy),
                None,
            );
            assert_eq!(a.allowed, allowed, "{class} under {policy:?}");
            assert!(a.failure.as_deref().unwrap().contains("it took too long"));
            let said = a
                .denial
                .map(|d| d.1)
                .unwrap_or_else(|| a.warnings.join(" "));
            assert!(said.contains("could not evaluate"), "{said}");
        }
        let a = decide(
            &Outcome::Failed("deadline".into()),
            &rules(AdmissionMode::Enforce, FailurePolicy::Fail),
            None,
        );
        assert_eq!((a.allowed, a.decision()), (false, "error-denied"));
        let a = decide(
            &Outcome::Failed("deadline".into()),
            &rules(AdmissionMode::Enforce, FailurePolicy::Ignore),
            None,
        );
        assert_eq!((a.allowed, a.decision()), (true, "error-allowed"));
        let a = decide(
            &Outcome::Skipped("DELETE"),
            &rules(AdmissionMode::Enforce, FailurePolicy::Fail),
            None,
        );
        assert_eq!((a.allowed, a.decision()), (true, "allowed"));
    }

    #[test]
    fn an_ignored_exemption_annotation_is_said() {
        let v = verdicts(&[("KSV017", Severity::High)], &[]);
        let a = decide(
            &v,
            &rules(AdmissionMode::Enforce, FailurePolicy::Fail),
            Some("KSV017: trust me"),
        );
        assert!(!a.allowed);
        assert!(
            a.warnings
                .iter()
                .any(|w| w.contains("not honoured at admission") && w.contains("KSV017")),
            "{:?}",
            a.warnings
        );
    }
}
