//! Small predicates over JSON values with the exact meanings trivy's Rego gives them.

use std::cmp::Ordering;

use tollgate_tree::{Fields, Items, Node, Tree, Writer};

/// Key present, whatever the value (Rego `has_key`): `null` and `false` count.
pub fn has_key(v: Option<Node>, key: &str) -> bool {
    v.is_some_and(|m| m.contains_key(key))
}

/// Key present and value not `false` (Rego `obj[f]` used as a condition).
pub fn truthy(v: Option<Node>) -> bool {
    v.is_some_and(|v| v.as_bool() != Some(false))
}

/// Exactly the JSON boolean `true` (strings like "true" do not count).
pub fn is_true(v: Option<Node>) -> bool {
    v.and_then(|v| v.as_bool()) == Some(true)
}

/// Exactly the JSON boolean `false`.
pub fn is_false(v: Option<Node>) -> bool {
    v.and_then(|v| v.as_bool()) == Some(false)
}

/// Walks a dotted path of object keys.
pub fn get<'a>(v: Node<'a>, path: &[&str]) -> Option<Node<'a>> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// The elements of an array value; nothing for anything else.
pub fn items(v: Option<Node<'_>>) -> Items<'_> {
    match v {
        Some(v) => v.items(),
        None => Items::default(),
    }
}

/// The string elements of an array value.
pub fn strings(v: Option<Node<'_>>) -> impl Iterator<Item = &str> {
    items(v).filter_map(|x| x.as_str())
}

/// Whether an array value holds the exact string `s`.
pub fn contains_str(v: Option<Node>, s: &str) -> bool {
    strings(v).any(|x| x == s)
}

/// Rego's total order across types, reduced to what numeric thresholds need:
/// `null < false < true < numbers < strings < arrays < objects`. Returns whether
/// `v > threshold` under that order.
pub fn rego_greater_than(v: Node, threshold: f64) -> bool {
    if v.is_null() || v.is_boolean() {
        false
    } else if v.is_number() {
        v.as_f64().is_some_and(|x| x > threshold)
    } else {
        true
    }
}

/// The elements Rego's `x[_]` iterates: an array's items or an object's values (the
/// last of a repeated key); nothing for a scalar. trivy's checks iterate NodeInfo
/// `values` and container `command`/`args` this way, so a mapping written where a list
/// belongs is still read.
pub fn elements(v: Option<Node<'_>>) -> Elements<'_> {
    match v {
        Some(n) if n.is_array() => Elements(Inner::Items(n.items())),
        Some(n) if n.is_object() => Elements(Inner::Values(n.fields(), n.is_sorted_object())),
        _ => Elements(Inner::Nothing),
    }
}

/// Iterator of [`elements`].
#[derive(Clone)]
pub struct Elements<'a>(Inner<'a>);

#[derive(Clone)]
enum Inner<'a> {
    Items(Items<'a>),
    /// An object's fields; `true` when its keys are known to be unique.
    Values(Fields<'a>, bool),
    Nothing,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        match &mut self.0 {
            Inner::Items(items) => items.next(),
            Inner::Values(fields, unique) => loop {
                let (k, v) = fields.next()?;
                // A key given again later is read as that later value, as in Rego.
                if *unique || !fields.clone().any(|(k2, _)| k2 == k) {
                    return Some(v);
                }
            },
            Inner::Nothing => None,
        }
    }
}

/// Where a value sorts in Rego's total order across types:
/// `null < false < true < numbers < strings < arrays < objects`.
fn type_rank(v: Node) -> u8 {
    if v.is_boolean() {
        1
    } else if v.is_number() {
        2
    } else if v.is_string() {
        3
    } else if v.is_array() {
        4
    } else if v.is_object() {
        5
    } else {
        0
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

fn cmp_numbers(a: Node, b: Node) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    cmp_f64(a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0))
}

/// An object's pairs, a repeated key read as its last value, sorted by key.
fn sorted_pairs(v: Node<'_>) -> Vec<(&str, Node<'_>)> {
    let mut pairs: Vec<(&str, Node)> = Vec::with_capacity(v.len());
    for (k, x) in v.fields() {
        match pairs.iter_mut().find(|(k2, _)| *k2 == k) {
            Some(slot) => slot.1 = x,
            None => pairs.push((k, x)),
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
}

/// Rego's comparison (`<`, `>`, `==`) of any two values. Checks compare what a node
/// collector measured against thresholds without knowing its type first, and Rego does
/// not fail on a type mismatch: it orders by type (`null < false < true < numbers <
/// strings < arrays < objects`), so the string `"600"` is above every number. Numbers
/// compare by value (`0 == 0.0`), strings bytewise, arrays element by element, objects
/// by their sorted keys and then values.
///
/// ```
/// use std::cmp::Ordering;
/// use tollgate_kit::{json, value::rego_cmp, Tree};
/// let (a, b) = (Tree::from_value(&json!("600")), Tree::from_value(&json!(601)));
/// assert_eq!(rego_cmp(a.root(), b.root()), Ordering::Greater);
/// ```
pub fn rego_cmp(a: Node, b: Node) -> Ordering {
    let rank = type_rank(a).cmp(&type_rank(b));
    if rank != Ordering::Equal {
        return rank;
    }
    match type_rank(a) {
        1 => a.as_bool().cmp(&b.as_bool()),
        2 => cmp_numbers(a, b),
        3 => a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")),
        4 => {
            let (mut x, mut y) = (a.items(), b.items());
            loop {
                match (x.next(), y.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(p), Some(q)) => match rego_cmp(p, q) {
                        Ordering::Equal => {}
                        o => return o,
                    },
                }
            }
        }
        5 => {
            let (x, y) = (sorted_pairs(a), sorted_pairs(b));
            for ((kx, vx), (ky, vy)) in x.iter().zip(&y) {
                let o = kx.cmp(ky).then_with(|| rego_cmp(*vx, *vy));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

/// Rego's `==`: JSON equality where numbers compare by value (`0 == 0.0`) and types
/// never convert (`"0"` is not `0`, `"true"` is not `true`).
pub fn rego_eq(a: Node, b: Node) -> bool {
    rego_cmp(a, b) == Ordering::Equal
}

/// [`rego_cmp`] of a value against a number, for thresholds such as `v > 600`.
///
/// ```
/// use std::cmp::Ordering;
/// use tollgate_kit::{json, value::rego_cmp_number, Tree};
/// let t = Tree::from_value(&json!([644, "600", null]));
/// let order: Vec<Ordering> = t.root().items().map(|v| rego_cmp_number(v, 600.0)).collect();
/// assert_eq!(order, [Ordering::Greater, Ordering::Greater, Ordering::Less]);
/// ```
pub fn rego_cmp_number(v: Node, n: f64) -> Ordering {
    match type_rank(v).cmp(&2) {
        Ordering::Equal => cmp_f64(v.as_f64().unwrap_or(0.0), n),
        o => o,
    }
}

/// Rego's `==` of a value and a string literal: only that exact string.
pub fn is_str(v: Node, s: &str) -> bool {
    v.as_str() == Some(s)
}

/// Numeric equality as Rego does it (`0 == 0.0`); non-numbers never equal a number.
pub fn num_eq(v: Option<Node>, n: f64) -> bool {
    v.and_then(|v| v.as_f64()).is_some_and(|x| x == n)
}

/// OPA's `object.union`: recursive merge of objects, `over` wins for anything else.
pub fn deep_merge<'a>(base: Node<'a>, over: Node<'a>) -> Tree {
    deep_merge_some(base, |_| true, over)
}

/// [`deep_merge`] of only those top-level keys of `base` that `keep` accepts.
pub fn deep_merge_some<'a>(base: Node<'a>, keep: impl Fn(&str) -> bool, over: Node<'a>) -> Tree {
    let mut w = Writer::default();
    merge_into(base, &keep, over, &mut w);
    w.finish()
}

fn merge_into<'a>(base: Node<'a>, keep: &dyn Fn(&str) -> bool, over: Node<'a>, w: &mut Writer) {
    if !(base.is_object() && over.is_object()) {
        w.copy(over);
        return;
    }
    let mark = w.begin_object();
    let mut pairs = 0;
    if base.is_sorted_object() && over.is_sorted_object() {
        // Both key lists ascend: merge them in one pass and the result ascends too.
        let mut a = base.fields().filter(|(k, _)| keep(k)).peekable();
        let mut b = over.fields().peekable();
        loop {
            let order = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
            };
            match order {
                Ordering::Less => {
                    let (k, v) = a.next().expect("peeked");
                    w.key(k);
                    w.copy(v);
                }
                Ordering::Greater => {
                    let (k, v) = b.next().expect("peeked");
                    w.key(k);
                    w.copy(v);
                }
                Ordering::Equal => {
                    let ((k, x), (_, y)) = (a.next().expect("peeked"), b.next().expect("peeked"));
                    w.key(k);
                    merge_into(x, &|_| true, y, w);
                }
            }
            pairs += 1;
        }
        w.end_object(mark, pairs, true);
        return;
    }
    for (k, b) in base.fields().filter(|(k, _)| keep(k)) {
        w.key(k);
        match over.get(k) {
            Some(o) => merge_into(b, &|_| true, o, w),
            None => w.copy(b),
        }
        pairs += 1;
    }
    for (k, o) in over.fields() {
        if !(keep(k) && base.contains_key(k)) {
            w.key(k);
            w.copy(o);
            pairs += 1;
        }
    }
    w.end_object(mark, pairs, false);
}

/// Go's `strings.ToLower` (Rego's `lower`): Unicode lower case, one character for one,
/// so `İ` (U+0130) becomes `i` where Rust would write `i` and a combining dot.
pub fn go_lower(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let one = if c == '\u{130}' { Some('i') } else { None };
            one.into_iter()
                .chain(c.to_lowercase().filter(move |_| one.is_none()))
        })
        .collect()
}

/// Settings that take only `k8s_version` (see [`k8s_version_setting`]): the version, or
/// why the settings are refused (`help` says what they accept).
pub fn only_k8s_version(
    settings: &serde_json::Map<String, serde_json::Value>,
    help: &str,
) -> Result<Option<String>, String> {
    let mut version = None;
    for (k, v) in settings {
        match k.as_str() {
            "k8s_version" => version = k8s_version_setting(v)?,
            other => return Err(format!("unknown setting '{other}'; {help}")),
        }
    }
    Ok(version)
}

/// The `k8s_version` setting: the target cluster's Kubernetes version, a string, or
/// `null` for none. The host passes `--k8s-version` (or `k8s_version:` in its
/// configuration) as this setting to every plugin whose settings help names
/// `"k8s_version"` in quotes, unless the plugin's own settings set it.
pub fn k8s_version_setting(v: &serde_json::Value) -> Result<Option<String>, String> {
    match v {
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Null => Ok(None),
        other => Err(format!(
            "'k8s_version' must be a version string like \"1.29.0\", got {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_rego() {
        let v = json!({"a": null, "b": false, "c": 0});
        let t = Tree::from_value(&v);
        let o = t.root();
        assert!(truthy(o.get("a")));
        assert!(!truthy(o.get("b")));
        assert!(truthy(o.get("c")));
        assert!(!truthy(o.get("missing")));
        assert!(has_key(Some(o), "b"));
    }

    #[test]
    fn cross_type_order() {
        let gt = |v: serde_json::Value| rego_greater_than(Tree::from_value(&v).root(), 10000.0);
        assert!(!gt(json!(null)));
        assert!(!gt(json!(true)));
        assert!(gt(json!("20")));
        assert!(gt(json!(10001)));
        assert!(!gt(json!(10000)));
        assert!(gt(json!([])));
    }

    #[test]
    fn rego_order_across_types() {
        let t = Tree::from_value(&json!([
            null, false, true, -1, 0, 0.5, 600, 601, "", "0", "600", "a", [], [0], [0, 1], [1],
            {}, {"a": 0}, {"a": 1}, {"a": 1, "b": 0}, {"b": 0}
        ]));
        let all: Vec<Node> = t.root().items().collect();
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert_eq!(rego_cmp(*a, *b), i.cmp(&j), "{a} vs {b}");
            }
        }
        let eq = Tree::from_value(&json!([0, 0.0, "0", {"x": [1, 2.0]}, {"x": [1.0, 2]}]));
        let v: Vec<Node> = eq.root().items().collect();
        assert!(rego_eq(v[0], v[1]));
        assert!(!rego_eq(v[0], v[2]));
        assert!(rego_eq(v[3], v[4]));
        assert_eq!(rego_cmp_number(v[2], 1e9), Ordering::Greater);
        assert_eq!(rego_cmp_number(v[1], 0.0), Ordering::Equal);
    }

    #[test]
    fn elements_of_arrays_and_objects() {
        let t = Tree::from_json(r#"{"a":[1,"x"],"o":{"k":1,"j":2,"k":3},"s":"str"}"#).unwrap();
        let r = t.root();
        let list = |k: &str| elements(r.get(k)).map(|n| n.to_json()).collect::<Vec<_>>();
        assert_eq!(list("a"), ["1", "\"x\""]);
        assert_eq!(list("o"), ["2", "3"]);
        assert!(list("s").is_empty());
        assert!(list("missing").is_empty());
    }

    #[test]
    fn merge_is_recursive() {
        let pod = json!({"seLinuxOptions": {"user": "u"}, "runAsUser": 20000});
        let c = json!({"seLinuxOptions": {"type": "container_t"}, "runAsUser": 0});
        let (pod, c) = (Tree::from_value(&pod), Tree::from_value(&c));
        assert_eq!(
            deep_merge(pod.root(), c.root()).root().to_value(),
            json!({"seLinuxOptions": {"user": "u", "type": "container_t"}, "runAsUser": 0})
        );
        let unsorted_pod =
            Tree::from_json(r#"{"seLinuxOptions":{"user":"u"},"runAsUser":20000}"#).unwrap();
        let unsorted_c =
            Tree::from_json(r#"{"seLinuxOptions":{"type":"container_t"},"runAsUser":0}"#).unwrap();
        assert_eq!(
            deep_merge(unsorted_pod.root(), unsorted_c.root()).root(),
            deep_merge(pod.root(), c.root()).root()
        );
        let only_user = deep_merge_some(pod.root(), |k| k == "runAsUser", c.root());
        assert_eq!(
            only_user.root().to_value(),
            json!({"seLinuxOptions": {"type": "container_t"}, "runAsUser": 0})
        );
        let scalar = json!(5);
        let scalar = Tree::from_value(&scalar);
        assert_eq!(
            deep_merge(pod.root(), scalar.root()).root().to_value(),
            json!(5)
        );
    }
}
