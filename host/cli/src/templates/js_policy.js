// {{NAME}}: a tollgate policy plugin in JavaScript.
// Build: npx componentize-qjs --wit wit --world plugin --sync --stub-wasi --js policy.js -o {{CRATE}}.wasm
// Test:  tollgate plugin test {{CRATE}}.wasm examples
let label = "team";

export const policy = {
  describe() {
    return {
      name: "{{NAME}}", version: "0.1.0", description: "Example policy", settingsHelp: '{"label": "team"}',
      checks: [{
        id: "{{ID}}", aliases: [], title: "Workload has no owner label",
        description: "Every workload names the team that owns it.", severity: "medium", category: "Custom",
        kinds: ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"],
        remediation: "Add the owner label under metadata.labels.", compliance: [], defaultEnabled: true,
      }],
    };
  },
  configure(settings) {
    const s = JSON.parse(settings || "{}");
    for (const [k, v] of Object.entries(s)) {
      if (k !== "label" || typeof v !== "string" || !v) throw `unknown or invalid setting '${k}'; expected 'label': a string`;
      label = v;
    }
    return ["{{ID}}"];
  },
  evaluate(batch) {
    return batch.map((req) => {
      const obj = JSON.parse(req.object);
      const labels = (obj.metadata && obj.metadata.labels) || {};
      const findings = [];
      if (!(label in labels)) {
        const name = (obj.metadata && obj.metadata.name) || "(unnamed)";
        findings.push({ message: `${obj.kind} '${name}' has no '${label}' label`, path: "metadata.labels" });
      }
      return { tag: "ok", val: req.checks.map((check) => ({ check, findings })) };
    });
  },
};
