// recommended-labels, in JavaScript: the same policy as the Rust plugin next door.
// Every resource carries the recommended app.kubernetes.io labels; the list is the
// setting `required`. Built by `cargo xtask polyglot` with componentize-qjs:
//   componentize-qjs --wit ../../../wit --world plugin --sync --stub-wasi --js policy.js -o recommended-labels-js.wasm
const DEFAULT_REQUIRED = ["app.kubernetes.io/name", "app.kubernetes.io/version"];
let required = DEFAULT_REQUIRED.slice();

function describeObject(obj) {
  const meta = obj.metadata || {};
  const kind = typeof obj.kind === "string" ? obj.kind : "";
  return typeof meta.name === "string" ? `${kind} '${meta.name}'` : `${kind} (unnamed)`;
}

export const policy = {
  describe() {
    return {
      name: "recommended-labels",
      version: "0.1.0",
      description: "Every resource carries the recommended app.kubernetes.io/* labels (JavaScript)",
      settingsHelp: '{"required": ["app.kubernetes.io/name", ...]}: the labels every resource must carry',
      checks: [{
        id: "LBL001",
        aliases: [],
        title: "Recommended labels missing",
        description: "Resources should carry the recommended app.kubernetes.io labels so tools can group and trace them.",
        severity: "low",
        category: "Custom",
        kinds: ["*"],
        remediation: "Add the missing labels under metadata.labels.",
        compliance: [],
        defaultEnabled: true,
      }],
    };
  },
  configure(settings) {
    let s;
    try {
      s = settings.trim() ? JSON.parse(settings) : {};
    } catch (e) {
      throw `settings are not valid JSON: ${e}`;
    }
    if (s === null || typeof s !== "object" || Array.isArray(s)) throw "settings must be a JSON object";
    let next = DEFAULT_REQUIRED.slice();
    for (const [key, value] of Object.entries(s)) {
      if (key !== "required") throw `unknown setting '${key}'; expected 'required'`;
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v)) {
        throw `'required' must be a list of label names, got ${JSON.stringify(value)}`;
      }
      next = value.slice();
    }
    required = next;
    return ["LBL001"];
  },
  evaluate(batch) {
    return batch.map((req) => {
      let obj;
      try {
        obj = JSON.parse(req.object);
      } catch (e) {
        return { tag: "err", val: `resource is not valid JSON: ${e}` };
      }
      const labels = (obj.metadata && obj.metadata.labels) || {};
      const missing = required.filter((l) => typeof labels[l] !== "string");
      const findings = missing.length
        ? [{ message: `${describeObject(obj)} is missing the label(s) ${missing.join(", ")}`, path: "metadata.labels" }]
        : [];
      return { tag: "ok", val: req.checks.map((check) => ({ check, findings })) };
    });
  },
};
