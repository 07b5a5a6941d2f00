"""{{NAME}}: a tollgate policy plugin in Python.

Build: componentize-py -d wit -w plugin componentize app -o {{CRATE}}.wasm
Test:  tollgate plugin test {{CRATE}}.wasm examples
"""
import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import policy as p

LABEL = ["team"]


class Policy(exports.Policy):
    def describe(self) -> p.PluginInfo:
        check = p.CheckInfo(
            id="{{ID}}", aliases=[], title="Workload has no owner label",
            description="Every workload names the team that owns it.",
            severity=p.Severity.MEDIUM, category="Custom",
            kinds=["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"],
            remediation="Add the owner label under metadata.labels.",
            compliance=[], default_enabled=True)
        return p.PluginInfo(name="{{NAME}}", version="0.1.0", description="Example policy",
                            settings_help='{"label": "team"}', checks=[check])

    def configure(self, settings: str) -> list[str]:
        s = json.loads(settings or "{}")
        for k, v in s.items():
            if k != "label" or not isinstance(v, str) or not v:
                raise Err(f"unknown or invalid setting '{k}'; expected 'label': a string")
            LABEL[0] = v
        return ["{{ID}}"]

    def evaluate(self, batch: list[p.Request]) -> list:
        out = []
        for req in batch:
            obj = json.loads(req.object)
            labels = (obj.get("metadata") or {}).get("labels") or {}
            findings = []
            if LABEL[0] not in labels:
                name = (obj.get("metadata") or {}).get("name", "(unnamed)")
                findings.append(p.Finding(message=f"{obj.get('kind')} '{name}' has no '{LABEL[0]}' label", path="metadata.labels"))
            out.append(Ok([p.CheckResult(check=i, findings=findings) for i in req.checks]))
        return out
