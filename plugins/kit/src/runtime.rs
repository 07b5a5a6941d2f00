use serde_json::{Map, Value};

use crate::{CheckInfo, Finding, Node, Object, PluginMeta, Tree};

/// What a plugin implements. One value of the type lives in the component instance and
/// holds the plugin's settings.
pub trait Policy: Default + 'static {
    /// Name, version, description and settings help.
    fn meta() -> PluginMeta;

    /// The checks this plugin implements, in a stable order.
    fn checks() -> Vec<CheckInfo>;

    /// Accept settings (a JSON object; empty when the user gave none) or say what is
    /// wrong with them. The default accepts only an empty object.
    fn configure(&mut self, settings: &Map<String, Value>) -> Result<(), String> {
        match settings.keys().next() {
            None => Ok(()),
            Some(k) => Err(format!(
                "unknown setting '{k}': {}",
                Self::meta().settings_help
            )),
        }
    }

    /// Whether a check runs under the current settings.
    fn enabled(&self, info: &CheckInfo) -> bool {
        info.default_enabled
    }

    /// Run check `id` on one object; an empty result means it passed.
    fn evaluate(&self, id: &str, object: &Object) -> Vec<Finding>;
}

/// The outcome of one check on one object (mirrors `check-result` in the WIT).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub check: u32,
    pub findings: Vec<Finding>,
}

/// A configured policy plus its catalogue: what the component adapter and the native
/// benchmark baseline call.
pub struct Runtime<P: Policy> {
    pub policy: P,
    pub checks: Vec<CheckInfo>,
}

impl<P: Policy> Default for Runtime<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> Runtime<P> {
    pub fn new() -> Self {
        Runtime {
            policy: P::default(),
            checks: P::checks(),
        }
    }

    /// Applies settings given as JSON text; returns the enabled check ids.
    pub fn configure_json(&mut self, settings: &str) -> Result<Vec<String>, String> {
        let parsed: Value = if settings.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(settings)
                .map_err(|e| format!("settings are not valid JSON: {e}"))?
        };
        let map = match parsed {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(format!(
                    "settings must be a JSON object, got {}",
                    json_type_name(&other)
                ))
            }
        };
        let mut fresh = P::default();
        fresh.configure(&map)?;
        self.policy = fresh;
        Ok(self.enabled_ids())
    }

    pub fn enabled_ids(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| self.policy.enabled(c))
            .map(|c| c.id.clone())
            .collect()
    }

    /// Runs the requested checks (indices into `checks`) on one parsed object.
    pub fn evaluate_node(&self, value: Node, checks: &[u32]) -> Vec<CheckResult> {
        let object = Object::new(value);
        checks
            .iter()
            .filter_map(|&i| {
                let info = self.checks.get(i as usize)?;
                Some(CheckResult {
                    check: i,
                    findings: self.policy.evaluate(&info.id, &object),
                })
            })
            .collect()
    }

    /// The findings of check `id` on `value`: what a plugin's unit test asks.
    ///
    /// # Panics
    /// When the plugin has no check `id`.
    pub fn findings(&self, id: &str, value: &Value) -> Vec<crate::Finding> {
        let i = self
            .checks
            .iter()
            .position(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id}")) as u32;
        self.evaluate_value(value, &[i]).remove(0).findings
    }

    /// Runs the requested checks on a `serde_json::Value` (tests, tools).
    pub fn evaluate_value(&self, value: &Value, checks: &[u32]) -> Vec<CheckResult> {
        self.evaluate_node(Tree::from_value(value).root(), checks)
    }

    /// Runs the requested checks on an object in the tree encoding (what the host sends
    /// through `evaluate-tree`).
    pub fn evaluate_bytes(&self, bytes: &[u8], checks: &[u32]) -> Result<Vec<CheckResult>, String> {
        let root = Node::from_bytes(bytes);
        if !root.is_object() {
            return Err(format!(
                "resource must be an object, got {}",
                type_name(root)
            ));
        }
        Ok(self.evaluate_node(root, checks))
    }

    /// Parses JSON text and runs the requested checks.
    pub fn evaluate_json(&self, json: &str, checks: &[u32]) -> Result<Vec<CheckResult>, String> {
        let tree = Tree::from_json(json).map_err(|e| format!("resource is not valid JSON: {e}"))?;
        let root = tree.root();
        if !root.is_object() {
            return Err(format!(
                "resource must be a JSON object, got {}",
                type_name(root)
            ));
        }
        Ok(self.evaluate_node(root, checks))
    }
}

fn type_name(v: Node) -> &'static str {
    if v.is_null() {
        "null"
    } else if v.is_boolean() {
        "a boolean"
    } else if v.is_number() {
        "a number"
    } else if v.is_string() {
        "a string"
    } else if v.is_array() {
        "an array"
    } else {
        "an object"
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
