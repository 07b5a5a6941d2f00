//! NodeInfo objects: a node's CIS facts as trivy-operator's node-collector (and
//! `tollgate node collect`) writes them.
//!
//! ```json
//! {"apiVersion": "v1", "kind": "NodeInfo", "type": "master",
//!  "info": {"kubeletConfFilePermissions": {"values": [600]},
//!           "kubeletConfFileOwnership":   {"values": ["root:root"]}}}
//! ```
//!
//! Values keep the collector's JSON types (a file mode is the number whose digits are
//! the octal mode, `644`; an owner is a `user:group` string; a flag value is a number
//! when it is an integer). Checks compare them with Rego's semantics, so a string
//! where a number was expected is not an error but sorts above every number: compare
//! with [`rego_cmp`](crate::value::rego_cmp) / [`rego_cmp_number`](crate::value::rego_cmp_number)
//! and [`rego_eq`] rather than converting.
//!
//! ```
//! use std::cmp::Ordering;
//! use tollgate_kit::node_info::NodeInfo;
//! use tollgate_kit::value::rego_cmp_number;
//! use tollgate_kit::{Object, Tree};
//!
//! let t = Tree::from_json(r#"{"kind":"NodeInfo","type":"worker",
//!     "info":{"kubeletConfFilePermissions":{"values":[644,"600"]}}}"#).unwrap();
//! let object = Object::new(t.root());
//! let node = NodeInfo::from(&object).unwrap();
//! assert!(node.is_type(&["master", "worker"]));
//! let too_open: Vec<String> = node
//!     .values("kubeletConfFilePermissions")
//!     .unwrap()
//!     .iter()
//!     .filter(|v| rego_cmp_number(*v, 600.0) == Ordering::Greater)
//!     .map(|v| v.to_json())
//!     .collect();
//! assert_eq!(too_open, ["644", "\"600\""]);
//! ```

use crate::value::{elements, rego_eq, Elements};
use crate::Object;
use tollgate_tree::Node;

/// The `kind` of a NodeInfo object, compared exactly (trivy's checks do).
pub const KIND: &str = "NodeInfo";

/// A NodeInfo object: its node type and its `info` entries.
#[derive(Debug, Clone, Copy)]
pub struct NodeInfo<'a> {
    value: Node<'a>,
}

impl<'a> NodeInfo<'a> {
    /// The object as a NodeInfo, or `None` unless its `kind` is exactly `NodeInfo`. trivy
    /// selects NodeInfo checks by a case-insensitive kind but its rules test
    /// `kind == "NodeInfo"`, so a `nodeinfo` object is scanned and always passes.
    pub fn from(object: &Object<'a>) -> Option<Self> {
        Self::from_node(object.value)
    }

    /// [`NodeInfo::from`] for a bare node.
    pub fn from_node(value: Node<'a>) -> Option<Self> {
        (value.get("kind")?.as_str()? == KIND).then_some(NodeInfo { value })
    }

    /// The object itself.
    pub fn node(&self) -> Node<'a> {
        self.value
    }

    /// `type`: `"master"` or `"worker"` as the collector decided, if it is a string.
    pub fn node_type(&self) -> Option<&'a str> {
        self.value.get("type")?.as_str()
    }

    /// Whether `type` is exactly one of `types` (case-sensitive; a missing type is none
    /// of them), the gate every NodeInfo check starts with.
    pub fn is_type(&self, types: &[&str]) -> bool {
        self.node_type().is_some_and(|t| types.contains(&t))
    }

    /// `info`, if present.
    pub fn info(&self) -> Option<Node<'a>> {
        self.value.get("info")
    }

    /// The info keys, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.info().into_iter().flat_map(|i| i.keys())
    }

    /// `info.<key>.values`, or `None` when the key or its `values` is missing (a
    /// command that did not run: every check passes then, even those that fail on an
    /// empty list).
    pub fn values(&self, key: &str) -> Option<Values<'a>> {
        let node = self.info()?.get(key)?.get("values")?;
        Some(Values { node })
    }
}

/// The `values` of one info entry: normally an array, but read as Rego reads whatever
/// is there.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    node: Node<'a>,
}

impl<'a> Values<'a> {
    /// The `values` node itself.
    pub fn node(&self) -> Node<'a> {
        self.node
    }

    /// The values a check iterates (`values[_]`): an array's items, an object's values;
    /// nothing for a string, number, boolean or null.
    pub fn iter(&self) -> Elements<'a> {
        elements(Some(self.node))
    }

    /// Rego's `count(values)`: elements of an array or object, characters of a string;
    /// `None` (an error, so no verdict from that rule) for anything else.
    pub fn count(&self) -> Option<usize> {
        let n = self.node;
        if n.is_array() || n.is_object() {
            Some(self.iter().count())
        } else {
            n.as_str().map(|s| s.chars().count())
        }
    }

    /// Whether `count(values) == 0` (`[]`, `{}` or `""`): what the "fail on empty"
    /// checks fail on. A kubelet setting the collector could not read arrives this way.
    pub fn is_empty(&self) -> bool {
        self.count() == Some(0)
    }

    /// The values `bad` accepts, each distinct value once (by [`rego_eq`]), in order.
    /// trivy's NodeInfo rules build a set of offending values, so a repeated value is one.
    pub fn offending(&self, bad: impl Fn(Node<'a>) -> bool) -> Vec<Node<'a>> {
        distinct(self.iter().filter(|v| bad(*v)))
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = Node<'a>;
    type IntoIter = Elements<'a>;

    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

/// Each distinct value once (Rego equality: `0` and `0.0` are one value), first
/// occurrence first.
pub fn distinct<'a>(values: impl IntoIterator<Item = Node<'a>>) -> Vec<Node<'a>> {
    let mut out: Vec<Node<'a>> = Vec::new();
    for v in values {
        if !out.iter().any(|o| rego_eq(*o, v)) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tree;

    fn with(json: &str, test: impl Fn(Option<NodeInfo>)) {
        let t = Tree::from_json(json).unwrap();
        test(NodeInfo::from(&Object::new(t.root())));
    }

    #[test]
    fn kind_and_type_are_exact() {
        with(r#"{"kind":"nodeinfo","type":"master"}"#, |n| {
            assert!(n.is_none())
        });
        with(r#"{"kind":"NodeInfo","type":"Master"}"#, |n| {
            let n = n.unwrap();
            assert_eq!(n.node_type(), Some("Master"));
            assert!(!n.is_type(&["master", "worker"]));
        });
        with(r#"{"kind":"NodeInfo"}"#, |n| {
            assert!(!n.unwrap().is_type(&["master"]))
        });
        with(r#"{"kind":"NodeInfo","type":"worker"}"#, |n| {
            assert!(n.unwrap().is_type(&["master", "worker"]))
        });
    }

    #[test]
    fn values_count_and_iterate_like_rego() {
        with(
            r#"{"kind":"NodeInfo","type":"master","info":{
                "a":{"values":[600,600.0,"600",600]},"e":{"values":[]},"o":{"values":{}},
                "s":{"values":""},"t":{"values":"abc"},"n":{"values":5},"z":{"values":null},
                "m":{},"x":"text"}}"#,
            |n| {
                let n = n.unwrap();
                let v = |k: &str| n.values(k);
                assert_eq!(v("a").unwrap().iter().count(), 4);
                assert_eq!(v("a").unwrap().offending(|_| true).len(), 2);
                for k in ["e", "o", "s"] {
                    assert!(v(k).unwrap().is_empty(), "{k}");
                }
                assert_eq!(v("t").unwrap().count(), Some(3));
                assert_eq!(v("t").unwrap().iter().count(), 0);
                assert_eq!(v("n").unwrap().count(), None);
                assert!(!v("z").unwrap().is_empty());
                for k in ["m", "x", "missing"] {
                    assert!(v(k).is_none(), "{k}");
                }
                assert_eq!(n.keys().count(), 9);
            },
        );
    }
}
