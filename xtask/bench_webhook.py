#!/usr/bin/env python3
"""tollgate serve under load: run by `cargo xtask bench` (or alone, after `cargo xtask
build`). Starts the webhook on loopback TLS, drives it with wrk (Debian's `wrk`, keep-alive
connections, 2 threads) with an AdmissionReview of a compliant Pod and of a violating
Deployment at concurrency 1, 16 and 64, and reports requests/s and latency percentiles
(wrk's own histogram); then sends BENCH_WEBHOOK_REQUESTS (default 1,000,000) reviews at
concurrency 16 and reports the server's RSS along the way, to show that memory is flat.
"""
import json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
if not os.path.isabs(TARGET):
    TARGET = os.path.join(ROOT, TARGET)
TOLLGATE = os.path.join(TARGET, "release", "tollgate")
SECONDS = int(os.environ.get("BENCH_WEBHOOK_SECONDS", "3" if os.environ.get("BENCH_QUICK") else "10"))
TOTAL = int(os.environ.get("BENCH_WEBHOOK_REQUESTS", "100000" if os.environ.get("BENCH_QUICK") else "1000000"))

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY"), "r")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


def review(uid, obj):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "operation": "CREATE", "namespace": "shop",
        "kind": {"group": "", "version": "v1", "kind": obj["kind"]}, "object": obj}}


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"},
       "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 20000, "runAsGroup": 20000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "automountServiceAccountToken": False,
                "containers": [{"name": "app", "image": "registry.example/app:1.2.3",
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                              "limits": {"cpu": "1", "memory": "128Mi"}},
                                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                    "runAsNonRoot": True, "runAsUser": 20000, "runAsGroup": 20000,
                                                    "capabilities": {"drop": ["ALL"]},
                                                    "seccompProfile": {"type": "RuntimeDefault"}}}]}}


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def wrk(url, body, conns, seconds, lua):
    env = dict(os.environ, BENCH_BODY=body)
    p = subprocess.run(["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{seconds}s", "--latency",
                        "-s", lua, url], capture_output=True, text=True, env=env)
    out = p.stdout
    if p.returncode != 0:
        sys.exit(f"bench: wrk exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    m = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not m:
        sys.exit(f"bench: wrk said:\n{out}")
    n, us, errors, status, p50, p99, p999 = map(int, m.groups())
    return {"requests": n, "rps": n / (us / 1e6), "errors": errors + status, "p50": p50, "p99": p99, "p999": p999}


def main():
    if not shutil.which("wrk"):
        print("webhook benchmark skipped: wrk is not installed (apt-get install -y wrk)")
        return
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    with open(os.path.join(ROOT, "tests", "fixtures", "webhook", "privileged-deployment.json")) as f:
        deployment = json.load(f)
    bodies = {}
    for name, obj in (("Pod (allowed)", POD), ("Deployment (denied)", deployment)):
        path = os.path.join(tmp, name.split()[0] + ".json")
        with open(path, "w") as f:
            json.dump(review("bench", obj), f)
        bodies[name] = path
    server = subprocess.Popen([TOLLGATE, "serve", "--addr", "127.0.0.1:0", "--no-config", "--tls-cert", cert,
                               "--tls-key", key], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        addr = None
        for line in server.stderr:
            if '"listening"' in line:
                addr = json.loads(line)["addr"]
                break
        if addr is None:
            sys.exit("bench: the webhook did not start")
        # The per-review log lines would cost the run a pipe's worth of work: drop them.
        subprocess.Popen(["cat"], stdin=server.stderr, stdout=subprocess.DEVNULL)
        url = f"https://{addr}/validate"
        print(f"\nwebhook (tollgate serve, loopback TLS, wrk keep-alive, {SECONDS} s per row; "
              f"latency from wrk's histogram, ms):")
        print(f"{'object':<22} {'conns':>5} {'requests/s':>11} {'p50':>7} {'p99':>7} {'p99.9':>7} {'errors':>7}")
        for name, body in bodies.items():
            for conns in (1, 16, 64):
                r = wrk(url, body, conns, SECONDS, lua)
                print(f"{name:<22} {conns:>5} {r['rps']:>11.0f} {r['p50'] / 1000:>7.2f} {r['p99'] / 1000:>7.2f} "
                      f"{r['p999'] / 1000:>7.2f} {r['errors']:>7}")
        print(f"RSS of the server while it answers {TOTAL:,} more Deployment reviews at concurrency 16:")
        sent, marks = 0, [(0, rss_mib(server.pid))]
        start = time.time()
        while sent < TOTAL:
            r = wrk(url, bodies["Deployment (denied)"], 16, 20, lua)
            sent += r["requests"]
            marks.append((sent, rss_mib(server.pid)))
        print("  " + ", ".join(f"{n:,}: {m:.1f} MiB" for n, m in marks))
        print(f"  {sent:,} reviews in {time.time() - start:.0f} s; RSS first {marks[1][1]:.1f} MiB, last {marks[-1][1]:.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
