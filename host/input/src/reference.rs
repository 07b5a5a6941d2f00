//! The reference path: a document read by serde-saphyr (YAML, with its budgets) or
//! serde_json (JSON) into values. Every document the fast path leaves comes here, and
//! the fast path is tested against it (the `oracle` feature).

use std::sync::Arc;

use serde_json::Value;
use tollgate_tree::Tree;

use crate::accept::{self, shape, Item, ItemsField, Outcome, Shape};
use crate::{InputError, InputLimits, Loaded, RawDoc};

/// Parses one document with serde-saphyr (YAML) or serde_json (JSON) into `out`.
pub(crate) fn parse_doc(doc: &RawDoc, limits: &InputLimits, out: &mut Loaded) {
    let text = doc.text();
    let parsed = if doc.json {
        let mut de = serde_json::Deserializer::from_str(text);
        serde::de::Deserializer::deserialize_any(&mut de, DocVisitor)
            .and_then(|d| de.end().map(|()| d))
            .map_err(|e| format!("invalid JSON: {e}"))
    } else {
        parse_yaml(text, limits).map_err(|m| format!("invalid YAML: {m}"))
    };
    match parsed.and_then(|d| outcome(d, limits)) {
        Ok(o) => accept::accept(&doc.file, doc.index, Some(doc.line), o, limits, out),
        Err(message) => out.errors.push(InputError {
            file: Arc::<str>::to_string(&doc.file),
            document: Some(doc.index),
            message,
        }),
    }
}

/// A parsed document. A mapping's `items` array is kept as one reduced [`Item`] (its
/// tree encoding and identity) per element instead of parsed values: a `kubectl get -A
/// -o yaml` List of 100,000 objects then costs about the size of its text, not
/// gigabytes of `serde_json::Value`s.
enum Doc {
    Map {
        fields: serde_json::Map<String, Value>,
        items: Option<Vec<Item>>,
    },
    Other(Value),
}

fn outcome(d: Doc, limits: &InputLimits) -> Result<Outcome, String> {
    let (fields, items) = match d {
        Doc::Other(Value::Null) => return Ok(Outcome::Empty),
        Doc::Other(v) => return Ok(Outcome::Whole(item(&v))),
        Doc::Map { fields, items } => (fields, items),
    };
    let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
    // `items` is in `fields` only when it was not an array.
    let field = ItemsField::of(items.is_some(), fields.get("items").map(Value::is_null));
    Ok(match (shape(kind, field), items) {
        (Shape::List, Some(items)) => Outcome::List(items),
        (Shape::EmptyList, _) => Outcome::EmptyList,
        (Shape::ItemsNotArray, _) => Outcome::ItemsNotArray,
        (_, items) => {
            // Not a List after all: put `items` back where it was (rare).
            let mut fields = fields;
            if let Some(items) = items {
                let values = items.iter().map(|t| t.tree().root().to_value()).collect();
                fields.insert("items".into(), Value::Array(values));
            }
            let v = Value::Object(fields);
            if depth(&v) > limits.max_depth {
                return Err(format!("nested deeper than {} levels", limits.max_depth));
            }
            Outcome::Whole(item(&v))
        }
    })
}

/// An object already parsed (an admission request's): what [`outcome`] makes of the
/// same document read from text.
pub(crate) fn value_outcome(v: &Value, limits: &InputLimits) -> Result<Outcome, String> {
    let Value::Object(fields) = v else {
        return Ok(match v {
            Value::Null => Outcome::Empty,
            other => Outcome::Whole(item(other)),
        });
    };
    let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
    let items = fields.get("items");
    let field = ItemsField::of(
        items.is_some_and(Value::is_array),
        items.filter(|i| !i.is_array()).map(Value::is_null),
    );
    Ok(match (shape(kind, field), items) {
        (Shape::List, Some(Value::Array(items))) => Outcome::List(items.iter().map(item).collect()),
        (Shape::EmptyList, _) => Outcome::EmptyList,
        (Shape::ItemsNotArray, _) => Outcome::ItemsNotArray,
        _ if depth(v) > limits.max_depth => {
            return Err(format!("nested deeper than {} levels", limits.max_depth))
        }
        _ => Outcome::Whole(item(v)),
    })
}

fn item(v: &Value) -> Item {
    Item::new(Tree::from_value(v), depth(v))
}

/// Scalars become a plain `Value`, for both visitors below.
macro_rules! plain_values {
    ($wrap:path) => {
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($wrap(Value::String(v.into())))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(Value::Bool(v)))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(Value::from(v)))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(Value::Null))
        }
    };
}

struct DocVisitor;

impl<'de> serde::de::Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML or JSON document")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut fields = serde_json::Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                match map.next_value_seed(ItemsSeed)? {
                    Items::List(list) => {
                        fields.remove("items");
                        items = Some(list);
                    }
                    Items::Other(other) => {
                        items = None;
                        fields.insert(key, other);
                    }
                }
            } else {
                let v: Value = map.next_value()?;
                fields.insert(key, v);
            }
        }
        Ok(Doc::Map { fields, items })
    }

    // Anything but a mapping is not a Kubernetes object; it is kept whole to say so.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Doc, A::Error> {
        use serde::Deserialize;
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Doc::Other)
    }

    plain_values!(Doc::Other);
}

impl<'de> serde::Deserialize<'de> for Doc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

/// `items`: an array becomes one reduced [`Item`] per element, each element's value
/// dropped as soon as it is reduced; anything else stays a value.
struct ItemsSeed;

enum Items {
    List(Vec<Item>),
    Other(Value),
}

impl<'de> serde::de::DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> serde::de::Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(item(&v));
        }
        Ok(Items::List(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        use serde::Deserialize;
        Value::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Items::Other)
    }

    plain_values!(Items::Other);
}

fn parse_yaml(text: &str, limits: &InputLimits) -> Result<Doc, String> {
    serde_saphyr::from_str_with_options::<Doc>(text, saphyr_options(limits)).map_err(|e| {
        // The library's advice to its own callers means nothing to a user.
        one_line(&e.to_string()).replace(", set DuplicateKeyPolicy in Options if acceptable", "")
    })
}

/// One plain scalar typed exactly as serde-saphyr types it here: the transcoder's
/// resolver for spellings it does not know by heart.
pub(crate) fn parse_value(scalar: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<Value>(scalar, saphyr_options(&InputLimits::default()))
}

fn saphyr_options(limits: &InputLimits) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // A key given twice: the last one wins, as with kubectl's (JSON-based) decoding and
    // trivy, which scans such files (several public examples have them). Refusing them
    // would parse ~40% faster, but would drop real manifests.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    options
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_bomb_is_refused() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        assert!(parse_yaml(&bomb, &InputLimits::default()).is_err());
    }
}
