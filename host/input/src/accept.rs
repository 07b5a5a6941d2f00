//! What a parsed document is, decided once for both parse paths: nothing, one object,
//! or a List whose items are expanded; and which objects become [`Resource`]s (those
//! with a `kind`), which are skipped (with the reason) and which are errors.

use std::sync::Arc;

use tollgate_tree::Tree;

use crate::{InputError, InputLimits, Loaded, Resource, Skipped, EXEMPT_ANNOTATION};

/// One object reduced to what a [`Resource`] needs, read from its tree once.
pub(crate) struct Item {
    tree: Tree,
    is_object: bool,
    /// Nesting depth of the object's value.
    pub(crate) depth: usize,
    kind: Option<String>,
    api_version: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    exempt_annotation: Option<String>,
    /// A List with items (see [`shape`]), inside a List.
    nested_list: bool,
}

impl Item {
    /// The one way an object becomes an item, whichever path parsed it.
    pub(crate) fn new(mut tree: Tree, depth: usize) -> Item {
        tree.shrink_to_fit();
        let root = tree.root();
        let text = |path: &[&str]| {
            path.iter()
                .try_fold(root, |node, key| node.get(key))
                .and_then(|n| n.as_str())
                .map(str::to_string)
        };
        let kind = text(&["kind"]);
        let items = match root.get("items") {
            None => ItemsField::Absent,
            Some(n) if n.is_array() => ItemsField::Array,
            Some(n) if n.is_null() => ItemsField::Null,
            Some(_) => ItemsField::Other,
        };
        Item {
            is_object: root.is_object(),
            depth,
            nested_list: root.is_object()
                && shape(kind.as_deref().unwrap_or(""), items) != Shape::Object,
            api_version: text(&["apiVersion"]),
            namespace: text(&["metadata", "namespace"]),
            name: text(&["metadata", "name"]),
            exempt_annotation: text(&["metadata", "annotations", EXEMPT_ANNOTATION]),
            kind,
            tree,
        }
    }

    /// The object's tree, for a path that has to put a document back together.
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }
}

/// What a mapping's `items` field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemsField {
    Absent,
    Null,
    Array,
    Other,
}

impl ItemsField {
    /// From whether the parser read `items` as an array (item by item), else whether
    /// the field is there (`Some`) and null (`Some(true)`).
    pub(crate) fn of(array: bool, null: Option<bool>) -> Self {
        match (array, null) {
            (true, _) => ItemsField::Array,
            (false, None) => ItemsField::Absent,
            (false, Some(true)) => ItemsField::Null,
            (false, Some(false)) => ItemsField::Other,
        }
    }
}

/// What a mapping is, as a list of objects or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Expand its items: `kind: List`, or a typed list (`PodList`, what `kubectl get -o
    /// yaml` writes) with an `items` array.
    List,
    /// `kind: List` with no items (absent or null): nothing to report.
    EmptyList,
    /// `kind: List` whose `items` is not an array: an error.
    ItemsNotArray,
    /// Any other mapping, `items` included: one object.
    Object,
}

/// The one decision of what a List is (documents and List items alike).
pub(crate) fn shape(kind: &str, items: ItemsField) -> Shape {
    match items {
        ItemsField::Array if kind == "List" || kind.ends_with("List") => Shape::List,
        ItemsField::Other if kind == "List" => Shape::ItemsNotArray,
        ItemsField::Absent | ItemsField::Null if kind == "List" => Shape::EmptyList,
        _ => Shape::Object,
    }
}

/// What one document turned out to be.
pub(crate) enum Outcome {
    /// Null document: nothing to report.
    Empty,
    /// One object (or a non-mapping, which is skipped).
    Whole(Item),
    /// A List's items, reduced.
    List(Vec<Item>),
    /// `kind: List` without items.
    EmptyList,
    /// `kind: List` whose `items` is not an array.
    ItemsNotArray,
}

/// A document's outcome into resources, skipped documents or errors: a List's items
/// one by one, anything else whole.
pub(crate) fn accept(
    file: &Arc<str>,
    document: usize,
    line: Option<usize>,
    o: Outcome,
    limits: &InputLimits,
    out: &mut Loaded,
) {
    let error = |message: String, out: &mut Loaded| {
        out.errors.push(InputError {
            file: file.to_string(),
            document: Some(document),
            message,
        })
    };
    match o {
        Outcome::Empty | Outcome::EmptyList => {}
        Outcome::ItemsNotArray => error("`items` of a List must be an array".into(), out),
        Outcome::Whole(item) => accept_object(file, document, None, line, item, out),
        Outcome::List(items) => {
            for (i, item) in items.into_iter().enumerate() {
                if item.depth + 2 > limits.max_depth {
                    error(
                        format!(
                            "item {i} of the List is nested deeper than {} levels",
                            limits.max_depth
                        ),
                        out,
                    );
                } else if item.nested_list {
                    out.skipped.push(Skipped {
                        file: file.to_string(),
                        document,
                        item: Some(i),
                        reason: "a List nested in a List is not expanded".into(),
                    });
                } else {
                    accept_object(file, document, Some(i), line, item, out);
                }
            }
        }
    }
}

fn accept_object(
    file: &Arc<str>,
    document: usize,
    item: Option<usize>,
    line: Option<usize>,
    it: Item,
    out: &mut Loaded,
) {
    let skip = |reason: &str, out: &mut Loaded| {
        out.skipped.push(Skipped {
            file: file.to_string(),
            document,
            item,
            reason: reason.into(),
        })
    };
    if !it.is_object {
        return skip(
            "not a Kubernetes object (the document is not a mapping)",
            out,
        );
    }
    // trivy evaluates objects without apiVersion (its own tests have some), so only a
    // missing kind disqualifies a document.
    let Some(kind) = it.kind.filter(|k| !k.is_empty()) else {
        return skip("not a Kubernetes object (no `kind`)", out);
    };
    out.resources.push(Resource {
        file: file.clone(),
        document,
        item,
        line,
        api_version: it.api_version,
        namespace: it.namespace,
        name: it.name,
        exempt_annotation: it.exempt_annotation,
        kind,
        tree: it.tree,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_list_is() {
        use ItemsField::*;
        assert_eq!(shape("List", Array), Shape::List);
        assert_eq!(shape("PodList", Array), Shape::List);
        assert_eq!(shape("PodList", Other), Shape::Object);
        assert_eq!(shape("PodList", Absent), Shape::Object);
        assert_eq!(shape("List", Absent), Shape::EmptyList);
        assert_eq!(shape("List", Null), Shape::EmptyList);
        assert_eq!(shape("List", Other), Shape::ItemsNotArray);
        assert_eq!(shape("Thing", Array), Shape::Object);
    }
}
