//! Small predicates over JSON values with the exact meanings trivy's Rego gives them.

use std::cmp::Ordering;

use crate::tree::{Items, Node, Tree, Writer};

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
