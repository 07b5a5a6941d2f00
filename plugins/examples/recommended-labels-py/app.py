"""recommended-labels, in Python: the same policy as the Rust plugin next door.

Every resource carries the recommended app.kubernetes.io labels; the list is the setting
`required`. Built by `cargo xtask polyglot` with componentize-py:

    componentize-py -d ../../../wit -w plugin componentize app -o recommended-labels-py.wasm
"""
import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import policy as p

DEFAULT_REQUIRED = ["app.kubernetes.io/name", "app.kubernetes.io/version"]
STATE = {"required": list(DEFAULT_REQUIRED)}


def describe_object(obj):
    name = (obj.get("metadata") or {}).get("name")
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    return f"{kind} '{name}'" if isinstance(name, str) else f"{kind} (unnamed)"


class Policy(exports.Policy):
    def describe(self) -> p.PluginInfo:
        check = p.CheckInfo(
            id="LBL001",
            aliases=[],
            title="Recommended labels missing",
            description="Resources should carry the recommended app.kubernetes.io labels so tools can group and trace them.",
            severity=p.Severity.LOW,
            category="Custom",
            kinds=["*"],
            remediation="Add the missing labels under metadata.labels.",
            compliance=[],
            default_enabled=True,
        )
        return p.PluginInfo(
            name="recommended-labels",
            version="0.1.0",
            description="Every resource carries the recommended app.kubernetes.io/* labels (Python)",
            settings_help='{"required": ["app.kubernetes.io/name", ...]}: the labels every resource must carry',
            checks=[check],
        )

    def configure(self, settings: str) -> list:
        try:
            s = json.loads(settings) if settings.strip() else {}
        except ValueError as e:
            raise Err(f"settings are not valid JSON: {e}")
        if not isinstance(s, dict):
            raise Err("settings must be a JSON object")
        required = list(DEFAULT_REQUIRED)
        for key, value in s.items():
            if key != "required":
                raise Err(f"unknown setting '{key}'; expected 'required'")
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise Err(f"'required' must be a list of label names, got {json.dumps(value)}")
            required = list(value)
        STATE["required"] = required
        return ["LBL001"]

    def evaluate(self, batch: list) -> list:
        out = []
        for req in batch:
            try:
                obj = json.loads(req.object)
            except ValueError as e:
                out.append(Err(f"resource is not valid JSON: {e}"))
                continue
            labels = (obj.get("metadata") or {}).get("labels") or {}
            missing = [l for l in STATE["required"] if not isinstance(labels.get(l), str)]
            findings = []
            if missing:
                findings.append(p.Finding(
                    message=f"{describe_object(obj)} is missing the label(s) {', '.join(missing)}",
                    path="metadata.labels",
                ))
            out.append(Ok([p.CheckResult(check=i, findings=findings) for i in req.checks]))
        return out
