#!/usr/bin/env python3
"""tollgate benchmark: run by `cargo xtask bench` after it has built everything.

For the 10k- and 100k-object corpora made by ../shared/tools/scale.py it measures, for the
sandboxed host (`tollgate scan --format json`, the 53 KSV checks: KSV032/KSV033 switched on;
and once with the whole bundle, the 90 KCV checks included)
and for the native build of the same checks (`tollgate-native`, same input pipeline, checks
linked in as plain Rust): objects per second for the whole process, time to first output
(first resource written), peak RSS; and a single small manifest end to end with a warm
cache. Each figure is the median of several runs, measured side by side in one run so the
ratios are meaningful on a noisy machine.
"""
import json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
if not os.path.isabs(TARGET):
    TARGET = os.path.join(ROOT, TARGET)
TOLLGATE = os.path.join(TARGET, "release", "tollgate")
NATIVE = os.path.join(TARGET, "release", "tollgate-native")
BOUNDARY = os.path.join(TARGET, "release", "extra-plugins", "boundary.wasm")
SHARED = os.environ.get("TOLLGATE_SHARED", os.path.join(ROOT, "..", "shared"))
BENCH = os.path.join(ROOT, "bench")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SETTINGS = 'advanced={"KSV032":{"enabled":true},"KSV033":{"enabled":true}}'
# Another build of tollgate (its bundle beside it) to compare with in the same run, e.g.
# the previous commit's: BENCH_BASELINE=/tmp/old/tollgate cargo xtask bench
BASELINE = os.environ.get("BENCH_BASELINE")


def ksv_bundle():
    """The five KSV plugins alone, so the sandbox runs the same 53 checks as the native
    build it is compared with (the full bundle adds the 90 KCV checks)."""
    d = os.path.join(BENCH, "ksv-plugins")
    os.makedirs(d, exist_ok=True)
    for name in ["general", "advanced", "pss-baseline", "pss-restricted", "rbac"]:
        link = os.path.join(d, f"{name}.wasm")
        if not os.path.lexists(link):
            os.symlink(os.path.join(TARGET, "release", "plugins", f"{name}.wasm"), link)
    return d


def corpus(n, label):
    path = os.path.join(BENCH, f"{label}.yaml")
    if not os.path.exists(path):
        os.makedirs(BENCH, exist_ok=True)
        script = os.path.join(SHARED, "tools", "scale.py")
        if not os.path.exists(script):
            sys.exit(f"bench: {script} not found; the benchmark needs ../shared (set TOLLGATE_SHARED)")
        subprocess.run([sys.executable, script, "-n", str(n), "-o", path, "--seed", "1"], check=True)
    return path


def measure(cmd, first_marker=None):
    """(wall seconds, time to first marker line or None, peak RSS MiB, stdout tail, CPU seconds)"""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    last = b""
    # Line by line only until the first output; then the report (hundreds of megabytes
    # for the 100k corpus) is moved from the pipe to /dev/null by the kernel (splice), so
    # the reader takes as little CPU as possible from the process measured on 2 cores.
    # The pipe itself stays: the process writes every byte, as it would into `| jq`.
    if first_marker is not None:
        for line in p.stdout:
            last = line
            if line.startswith(first_marker):
                first = time.perf_counter() - start
                break
        last = p.stdout.read1(1 << 20) or last
        if hasattr(os, "splice"):
            with open(os.devnull, "wb") as null:
                while os.splice(p.stdout.fileno(), null.fileno(), 1 << 20):
                    pass
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        last = (last + chunk)[-65536:]
    tail = last.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"bench: {' '.join(cmd)} exited {code}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, first, usage.ru_maxrss / 1024.0, tail.decode(errors="replace").strip(), cpu


def median_runs(cmd, marker=None, runs=RUNS):
    rs = [measure(cmd, marker) for _ in range(runs)]
    walls = [r[0] for r in rs]
    firsts = [r[1] for r in rs if r[1] is not None]
    return {
        "wall": statistics.median(walls),
        "spread": (max(walls) - min(walls)) / statistics.median(walls),
        "first": statistics.median(firsts) if firsts else None,
        "rss": statistics.median(r[2] for r in rs),
        "tail": rs[-1][3],
        "cpu": statistics.median(r[4] for r in rs),
        "cpu_min": min(r[4] for r in rs),
    }


def summarize(rs):
    walls = [r[0] for r in rs]
    return {
        "wall": statistics.median(walls),
        "spread": (max(walls) - min(walls)) / statistics.median(walls),
        "rss": statistics.median(r[2] for r in rs),
        "cpu": statistics.median(r[4] for r in rs),
    }


def against_baseline(corpora):
    """This build against BENCH_BASELINE on the same corpora, runs interleaved (this,
    baseline, baseline, this, ...) so that the machine's drift hits both alike."""
    measure([BASELINE, "scan", os.path.join(ROOT, "examples")])
    print(f"\nagainst the baseline {BASELINE} (same run, interleaved, medians of {RUNS}):")
    print(f"{'corpus':<7} {'build':<10} {'objects/s':>10} {'wall s':>8} {'spread':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
    for n, label in corpora:
        path = corpus(n, label)
        runs = {TOLLGATE: [], BASELINE: []}
        for i in range(RUNS):
            order = (TOLLGATE, BASELINE) if i % 2 == 0 else (BASELINE, TOLLGATE)
            for exe in order:
                runs[exe].append(measure([exe, "scan", "--format", "json", "--plugin-settings", SETTINGS, path], b"    {"))
        this, base = summarize(runs[TOLLGATE]), summarize(runs[BASELINE])
        for name, r in (("this", this), ("baseline", base)):
            print(f"{label:<7} {name:<10} {n / r['wall']:>10.0f} {r['wall']:>8.2f} {r['spread']:>6.0%} {r['cpu']:>7.2f} {r['rss']:>13.1f}")
        print(f"{label:<7} this/baseline: wall {this['wall'] / base['wall']:.3f}x, CPU {this['cpu'] / base['cpu']:.3f}x, "
              f"peak RSS {this['rss'] / base['rss']:.3f}x")


def main():
    for exe in (TOLLGATE, NATIVE):
        if not os.path.exists(exe):
            sys.exit(f"bench: {exe} missing; run `cargo xtask bench` (it builds first)")
    corpora = [(10_000, "10k"), (100_000, "100k")]
    if os.environ.get("BENCH_QUICK"):
        corpora = [(10_000, "10k")]
    jobs = os.cpu_count() or 1
    print(f"tollgate benchmark: {jobs} CPUs, medians of {RUNS} runs (spread = (max-min)/median)\n")
    # Warm the compiled-plugin cache so every measured run is a warm start.
    measure([TOLLGATE, "scan", os.path.join(ROOT, "examples")])
    rows = []
    for n, label in corpora:
        path = corpus(n, label)
        ksv = ["--plugin-dir", ksv_bundle()]
        sandbox = median_runs([TOLLGATE, "scan", "--format", "json", *ksv, "--plugin-settings", SETTINGS, path], b"    {")
        # Every built-in check, the 90 KCV ones included (44 of them apply to workloads).
        full = median_runs([TOLLGATE, "scan", "--format", "json", "--plugin-settings", SETTINGS, path], b"    {",
                           runs=max(1, RUNS // 2))
        native = median_runs([NATIVE, path])
        single = median_runs([TOLLGATE, "scan", "--format", "json", "--jobs", "1", *ksv, "--plugin-settings", SETTINGS, path], b"    {", runs=max(1, RUNS // 2))
        batch1 = median_runs([TOLLGATE, "scan", "--format", "json", "--batch", "1", *ksv, "--plugin-settings", SETTINGS, path], b"    {", runs=max(1, RUNS // 2))
        # The boundary, one job: the host alone (native build, parse only), then one
        # plugin that crosses the boundary and finds nothing, without and with parsing
        # the object's JSON in the guest (tests/plugins/boundary).
        # Differences of a few microseconds per object: more runs, and the least CPU time
        # of each (noise on a shared VM only ever adds time).
        brun = max(RUNS, 5)
        host = median_runs([NATIVE, "--jobs", "1", "--parse-only", path], runs=brun)
        probe = lambda parse: median_runs([TOLLGATE, "scan", "--jobs", "1", "--no-builtin", "--plugin", BOUNDARY,
                                           "--plugin-settings", f'boundary={{"parse":{parse}}}', path], runs=brun)
        cross, parsed = probe("false"), probe("true")
        rows.append((label, n, sandbox, native, single, batch1, (host, cross, parsed), full))
    small = median_runs([TOLLGATE, "scan", os.path.join(ROOT, "examples", "web.yaml")], runs=max(RUNS, 10))

    # CPU s: user + system time of the process, all threads (median). A shared VM's noise
    # (time stolen by its neighbours) shows in the wall time far more than in this.
    print(f"{'corpus':<7} {'build':<22} {'objects/s':>10} {'wall s':>8} {'spread':>7} {'CPU s':>7} {'first out ms':>13} {'peak RSS MiB':>13}")
    for label, n, s, nat, one, b1, boundary, full in rows:
        for name, r in [(f"sandbox, {jobs} jobs", s), ("sandbox, 1 job", one), (f"sandbox, batch 1", b1), (f"native, {jobs} jobs", nat),
                        (f"all 143 checks, {jobs} jobs", full)]:
            first = f"{r['first'] * 1000:.0f}" if r["first"] is not None else "-"
            print(f"{label:<7} {name:<22} {n / r['wall']:>10.0f} {r['wall']:>8.2f} {r['spread']:>6.0%} {r['cpu']:>7.2f} {first:>13} {r['rss']:>13.1f}")
        print(f"{label:<7} sandbox/native time ratio: {s['wall'] / nat['wall']:.2f}x; batch 32 vs 1 speed-up: {b1['wall'] / s['wall']:.2f}x; "
              f"{jobs} jobs vs 1: {one['wall'] / s['wall']:.2f}x")
        print(f"{label:<7} native says: {nat['tail']}")
        print(f"{label:<7} the full bundle (53 KSV + 90 KCV checks) vs the 53 KSV checks: {full['wall'] / s['wall']:.2f}x the time")
        host, cross, parsed = boundary
        # CPU time (all threads), less noisy than wall time for differences this small.
        us = lambda a, b: (a["cpu_min"] - b["cpu_min"]) / n * 1e6
        # A difference under the run-to-run noise can come out negative: say so.
        show = lambda x: f"{x:.1f} us" if x > 0 else f"{x:.1f} us (below the noise)"
        print(f"{label:<7} boundary of a plugin that reads JSON text, 1 job, CPU per object and call: crossing "
              f"(text written from the tree, copied in, results out) "
              f"{show(us(cross, host))}; guest JSON parse {show(us(parsed, cross))}; "
              f"for scale, all 53 checks in the sandbox {us(one, host):.1f} us per object")
    print(f"\nsingle small manifest (examples/web.yaml), process start to exit, warm cache: "
          f"{small['wall'] * 1000:.1f} ms median (spread {small['spread']:.0%}), peak RSS {small['rss']:.1f} MiB")
    html_report(corpora[-1])
    node_assessment(rows[0])
    registry_plugin()
    if BASELINE:
        against_baseline(corpora)


def html_report(corpus_spec):
    """The HTML report of the largest corpus: its size, the scan that writes it, and the
    time headless Chromium takes to load it and render a filtered table."""
    n, label = corpus_spec
    chromium = "/usr/bin/chromium"
    out = os.path.join(BENCH, f"{label}.html")
    r = median_runs([TOLLGATE, "scan", "--format", f"html={out}", "--plugin-settings", SETTINGS, corpus(n, label)],
                    runs=max(1, RUNS // 2))
    size = os.path.getsize(out) / 1e6
    print(f"\nHTML report of {label}: {size:.1f} MB, written in {r['wall']:.2f} s (peak RSS {r['rss']:.0f} MiB)", end="")
    if not os.path.exists(chromium):
        print("; render time not measured: chromium is not installed")
        return
    profile = os.path.join(BENCH, "chromium-profile")
    start = time.perf_counter()
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", "--virtual-time-budget=60000", "--dump-dom",
                          f"file://{out}#check=KSV013"], capture_output=True, text=True).stdout
    took = time.perf_counter() - start
    ok = 'data-ready="true"' in dom
    print(f"; Chromium loads it and renders the KSV013 filter in {took:.1f} s (browser start included){'' if ok else ' (the script did not finish!)'}")


def fake_node(root):
    """A kubeadm control-plane node's files under `root` (modes as kubeadm leaves them)."""
    files = {
        "etc/kubernetes/manifests/kube-apiserver.yaml": 0o600, "etc/kubernetes/manifests/kube-controller-manager.yaml": 0o600,
        "etc/kubernetes/manifests/kube-scheduler.yaml": 0o600, "etc/kubernetes/manifests/etcd.yaml": 0o600,
        "etc/kubernetes/admin.conf": 0o600, "etc/kubernetes/scheduler.conf": 0o600,
        "etc/kubernetes/controller-manager.conf": 0o600, "etc/kubernetes/kubelet.conf": 0o600,
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf": 0o644, "var/lib/kubelet/config.yaml": 0o644,
        "etc/passwd": 0o644, "etc/group": 0o644, "etc/hostname": 0o644,
    }
    for name in ["ca", "apiserver", "apiserver-kubelet-client", "front-proxy-ca", "sa", "etcd/ca", "etcd/server", "etcd/peer"]:
        files[f"etc/kubernetes/pki/{name}.crt"] = 0o644
        files[f"etc/kubernetes/pki/{name}.key"] = 0o600
    for path, mode in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\n" if path == "etc/passwd" else "kind: Config\n")
        os.chmod(full, mode)
    for d in ["var/lib/etcd/member", "etc/cni/net.d", "opt/cni/bin"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)


def node_infos(n, path):
    """n NodeInfo objects, half control-plane and half worker, with values that vary."""
    with open(path, "w") as f:
        for i in range(n):
            master = i % 2 == 0
            info = {"kubeletConfFilePermissions": [600 if i % 3 else 644], "kubeletConfFileOwnership": ["root:root"],
                    "kubeletAnonymousAuthArgumentSet": ["false"], "kubeletAuthorizationModeArgumentSet": ["Webhook"],
                    "kubeletReadOnlyPortArgumentSet": [0 if i % 5 else 10255], "kubeletOnlyUseStrongCryptographic": [],
                    "kubeletRotateCertificatesArgumentSet": ["true"], "kubeletEventQpsArgumentSet": [5]}
            if master:
                info.update({"kubeAPIServerSpecFilePermission": [600], "adminConfFilePermissions": [600 if i % 7 else 644],
                             "kubePKIKeyFilePermissions": [600] * 8, "etcdDataDirectoryOwnership": ["root:root"]})
            body = ",".join(f'"{k}":{{"values":{json.dumps(v)}}}' for k, v in info.items())
            f.write(f'---\n{{"apiVersion":"v1","kind":"NodeInfo","metadata":{{"name":"node-{i}"}},'
                    f'"type":"{"master" if master else "worker"}","info":{{{body}}}}}\n')


def node_assessment(row):
    """`tollgate node collect` on a fake control-plane node (this machine's real /proc,
    one process started as `kubelet`), and a scan of 10,000 NodeInfo objects against the
    10k manifest corpus measured above in the same run."""
    import shutil, tempfile
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-node-")
    try:
        root = os.path.join(tmp, "root")
        fake_node(root)
        kubelet = os.path.join(tmp, "kubelet")
        os.symlink(shutil.which("sleep"), kubelet)
        proc = subprocess.Popen([kubelet, "600"])
        try:
            collect = median_runs([TOLLGATE, "node", "collect", "--root", root], runs=max(RUNS, 10))
        finally:
            proc.kill()
            proc.wait()
        version = median_runs([TOLLGATE, "--version"], runs=max(RUNS, 10))
        nodes = os.path.join(tmp, "nodeinfo.yaml")
        node_infos(10_000, nodes)
        scan = median_runs([TOLLGATE, "scan", "--format", "json", nodes], b"    {")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    label, n, manifests = row[0], row[1], row[2]
    print(f"\nnode collect on a fake control-plane node: {collect['wall'] * 1000:.1f} ms median, process start to exit "
          f"(tollgate --version alone: {version['wall'] * 1000:.1f} ms), peak RSS {collect['rss']:.1f} MiB")
    print(f"10,000 NodeInfo objects: {10_000 / scan['wall']:.0f} objects/s ({scan['wall']:.2f} s, CPU {scan['cpu']:.2f} s, "
          f"peak RSS {scan['rss']:.0f} MiB); the {label} manifest corpus (53 KSV checks) in the same run: {n / manifests['wall']:.0f} objects/s")


def registry_plugin():
    """A scan with a signed registry plugin pinned by digest, served from the cache, against
    the same component as a local file, runs interleaved. The registry (Debian's
    docker-registry) is stopped before measuring: the cached path must need no network."""
    import shutil, socket, tempfile
    registry_bin = "/usr/bin/docker-registry"
    if not os.path.exists(registry_bin):
        print("\nregistry plugin: skipped (install docker-registry)")
        return
    plugin = os.path.join(TARGET, "release", "extra-plugins", "recommended-labels.wasm")
    web = os.path.join(ROOT, "examples", "web.yaml")
    tmp = tempfile.mkdtemp(prefix="tollgate-bench-registry-")
    saved = {k: os.environ.get(k) for k in ("TOLLGATE_CACHE_DIR", "COSIGN_PASSWORD")}
    os.environ.update(TOLLGATE_CACHE_DIR=os.path.join(tmp, "cache"), COSIGN_PASSWORD="bench")
    reg = None
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            addr = f"127.0.0.1:{s.getsockname()[1]}"
        cfg = os.path.join(tmp, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {tmp}/storage\nhttp:\n  addr: {addr}\n")
        reg = subprocess.Popen([registry_bin, "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(tuple(addr.rsplit(":", 1)), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        run = lambda *a: subprocess.run([TOLLGATE, *a], cwd=tmp, check=True, capture_output=True, text=True).stdout
        ref = f"oci://{addr}/policies/labels:1.0"
        pinned = run("plugin", "push", plugin, ref).strip().splitlines()[-1]
        run("plugin", "keygen")
        run("plugin", "sign", ref, "--key", "cosign.key")
        config = os.path.join(tmp, "tollgate.yaml")
        with open(config, "w") as f:
            f.write(f"trust:\n  keys: [{tmp}/cosign.pub]\n")
        remote = [TOLLGATE, "scan", "--config", config, "--plugin", pinned, web]
        local = [TOLLGATE, "scan", "--config", config, "--plugin", plugin, web]
        # Fill the caches (the pulled plugin, its signature, both compiled components).
        measure(remote)
        measure(local)
        reg.kill()
        reg.wait()
        reg = None
        runs = {"local": [], "remote": []}
        for i in range(max(RUNS, 10) * 2):
            name = ("local", "remote")[i % 2]
            runs[name].append(measure(remote if name == "remote" else local))
        lo, re_ = summarize(runs["local"]), summarize(runs["remote"])
        print(f"\nregistry plugin (examples/web.yaml + recommended-labels, process start to exit, warm caches, "
              f"registry stopped, interleaved, medians of {len(runs['local'])}):")
        print(f"  local file {lo['wall'] * 1000:.1f} ms (CPU {lo['cpu'] * 1000:.1f} ms); signed oci://…@sha256 from the cache "
              f"{re_['wall'] * 1000:.1f} ms (CPU {re_['cpu'] * 1000:.1f} ms): {(re_['wall'] - lo['wall']) * 1000:+.1f} ms")
    finally:
        if reg is not None:
            reg.kill()
            reg.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["registry"]:
        registry_plugin()
    else:
        main()
