#!/usr/bin/env python3
"""Writes policies/compliance/{k8s-cis-1.23,eks-cis-1.4,rke2-cis-1.24}.yaml from the
shared spec's compliance table (../shared/spec/kcv/compliance.json: trivy-checks'
pkg/compliance/*.yaml, ids as written there). Run from the repository root; the
output is committed, so builds do not need ../shared."""

import json
import sys
from pathlib import Path

LINKS = {
    "cis": "https://www.cisecurity.org/benchmark/kubernetes",
}


def quote(s: str) -> str:
    return json.dumps(s)  # JSON strings are valid YAML scalars


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/spec/kcv/compliance.json")
    data = json.loads(src.read_text())
    for spec in data["specs"]:
        if spec["id"] == "k8s-nsa-1.0":
            continue  # kept as written from lib-notes, with its defaultStatus entries
        lines = [
            f"# {spec['title']}",
            f"# Control table: trivy-checks' {spec['file']} at {data['source'].split()[1][:12]}",
            "# (../shared/spec/kcv/compliance.json), written by xtask/compliance_specs.py.",
            "# A control whose name says (Manual) is shown MANUAL whatever its checks say, as trivy does.",
            "spec:",
            f"  id: {spec['id']}",
            f"  title: {quote(spec['title'])}",
            f"  description: {quote(spec['title'])}",
            f"  version: {quote(spec['version'])}",
            f"  platform: {spec['platform']}",
            f"  type: {spec['type']}",
            "  relatedResources:",
            f"  - {LINKS.get(spec['type'], 'https://github.com/aquasecurity/trivy-checks')}",
            "  controls:",
        ]
        for c in spec["controls"]:
            lines += [
                f"  - id: {quote(c['id'])}",
                f"    name: {quote(c['name'])}",
                f"    severity: {c['severity']}",
            ]
            if c["checks_raw"]:
                lines.append("    checks:")
                lines += [f"    - id: {k}" for k in c["checks_raw"]]
            if c.get("default_status"):
                lines.append(f"    defaultStatus: {c['default_status']}")
        Path(f"policies/compliance/{spec['id']}.yaml").write_text("\n".join(lines) + "\n")
        print(f"policies/compliance/{spec['id']}.yaml: {len(spec['controls'])} controls")


if __name__ == "__main__":
    main()
