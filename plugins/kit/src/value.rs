//! Small predicates over JSON values with the exact meanings trivy's Rego gives them.

use serde_json::Value;

/// Key present, whatever the value (Rego `has_key`): `null` and `false` count.
pub fn has_key(v: Option<&Value>, key: &str) -> bool {
    v.and_then(Value::as_object)
        .is_some_and(|m| m.contains_key(key))
}

/// Key present and value not `false` (Rego `obj[f]` used as a condition).
pub fn truthy(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Bool(false)))
}

/// Exactly the JSON boolean `true` (strings like "true" do not count).
pub fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// Exactly the JSON boolean `false`.
pub fn is_false(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(false)))
}

/// Walks a dotted path of object keys.
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// The elements of an array value; nothing for anything else.
pub fn items(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// The string elements of an array value.
pub fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    items(v).iter().filter_map(Value::as_str)
}

/// Whether an array value holds the exact string `s`.
pub fn contains_str(v: Option<&Value>, s: &str) -> bool {
    strings(v).any(|x| x == s)
}

/// Rego's total order across types, reduced to what numeric thresholds need:
/// `null < false < true < numbers < strings < arrays < objects`. Returns whether
/// `v > threshold` under that order.
pub fn rego_greater_than(v: &Value, threshold: f64) -> bool {
    match v {
        Value::Null | Value::Bool(_) => false,
        Value::Number(n) => n.as_f64().is_some_and(|x| x > threshold),
        Value::String(_) | Value::Array(_) | Value::Object(_) => true,
    }
}

/// Numeric equality as Rego does it (`0 == 0.0`); non-numbers never equal a number.
pub fn num_eq(v: Option<&Value>, n: f64) -> bool {
    v.and_then(Value::as_f64).is_some_and(|x| x == n)
}

/// OPA's `object.union`: recursive merge of objects, `over` wins for anything else.
pub fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_rego() {
        let o = json!({"a": null, "b": false, "c": 0});
        assert!(truthy(o.get("a")));
        assert!(!truthy(o.get("b")));
        assert!(truthy(o.get("c")));
        assert!(!truthy(o.get("missing")));
        assert!(has_key(Some(&o), "b"));
    }

    #[test]
    fn cross_type_order() {
        assert!(!rego_greater_than(&json!(null), 10000.0));
        assert!(!rego_greater_than(&json!(true), 10000.0));
        assert!(rego_greater_than(&json!("20"), 10000.0));
        assert!(rego_greater_than(&json!(10001), 10000.0));
        assert!(!rego_greater_than(&json!(10000), 10000.0));
    }

    #[test]
    fn merge_is_recursive() {
        let pod = json!({"seLinuxOptions": {"user": "u"}, "runAsUser": 20000});
        let c = json!({"seLinuxOptions": {"type": "container_t"}, "runAsUser": 0});
        assert_eq!(
            deep_merge(&pod, &c),
            json!({"seLinuxOptions": {"user": "u", "type": "container_t"}, "runAsUser": 0})
        );
    }
}
