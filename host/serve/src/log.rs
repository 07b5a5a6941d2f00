//! Structured logs: one JSON object per line on stderr, as log collectors read them.

use serde_json::{Map, Value};

/// Writes `{"time", "level", "msg", ...fields}` as one line.
pub fn event(level: &str, msg: &str, fields: Value) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut line = Map::new();
    line.insert(
        "time".into(),
        Value::String(tollgate::report::k8s::rfc3339(secs)),
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
