//! Structured logs: one JSON object per line on stderr, as log collectors read them.

use serde_json::{Map, Value};

/// Writes `{"time", "level", "msg", ...fields}` as one line.
pub fn event(level: &str, msg: &str, fields: Value) {
    let mut line = Map::new();
    line.insert(
        "time".into(),
        Value::String(tollgate::clock::rfc3339(tollgate::clock::now())),
    );
    line.insert("level".into(), Value::String(level.into()));
    line.insert("msg".into(), Value::String(msg.into()));
    if let Value::Object(f) = fields {
        line.extend(f);
    }
    eprintln!("{}", Value::Object(line));
}

pub fn info(msg: &str, fields: Value) {
    event("info", msg, fields)
}

pub fn error(msg: &str, fields: Value) {
    event("error", msg, fields)
}
