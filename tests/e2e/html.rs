//! The HTML report in a real browser: headless Chromium (Debian's `chromium`) opens the
//! page of the examples and the public corpus with JavaScript on; the rendered DOM's
//! summary cards must equal the JSON report's counts, and filtering by a check id (the
//! page reads `#check=ID`) must show exactly the resources that fail it. A screenshot is
//! taken and must be a real picture.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tollgate_e2e::{root, run, shared, target_profile_dir};

fn chromium() -> Option<PathBuf> {
    tollgate_e2e::tool("/usr/bin/chromium", "chromium")
}

/// Chromium as the probe of this machine runs it: headless, no sandbox (root), no
/// background connections (the network is closed), a fresh profile.
fn browser(profile: &Path) -> Command {
    // Each test checked for Chromium before it got here.
    let mut c = Command::new(chromium().expect("chromium"));
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn dom(profile: &Path, url: &str) -> String {
    let out = browser(profile)
        .args(["--virtual-time-budget=10000", "--dump-dom", url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("data-ready=\"true\""),
        "the page's script did not run:\n{}",
        &dom[..dom.len().min(2000)]
    );
    dom
}

/// The number in the element with `id`, as the page rendered it.
fn number(dom: &str, id: &str) -> u64 {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &dom[at..];
    let rest = match id.starts_with("card-") {
        true => &rest[rest.find("class=\"n\">").unwrap() + "class=\"n\">".len()..],
        false => &rest[rest.find('>').unwrap() + 1..],
    };
    rest[..rest.find('<').unwrap()].trim().parse().unwrap()
}

#[test]
fn the_html_report_renders_its_counts_and_filters_by_check_in_chromium() {
    if chromium().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (
        dir.path().join("report.html"),
        dir.path().join("report.json"),
    );
    let mut args: Vec<std::ffi::OsString> = vec!["scan".into(), "--no-config".into()];
    args.push("-f".into());
    args.push(format!("html={}", html.display()).into());
    args.push("-f".into());
    args.push(format!("json={}", json.display()).into());
    args.push(root().join("examples").into_os_string());
    match shared() {
        Some(s) => args.push(s.join("corpus/public").into_os_string()),
        None => eprintln!("../shared not present: the examples only"),
    }
    let out = run(args);
    assert!(out.code == 1 || out.code == 2, "{}", out.stderr);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    for external in ["src=\"http", "href=\"http", "url(http", "@import", "<link "] {
        assert!(
            !page.contains(external),
            "self-contained: the page loads nothing ({external})"
        );
    }
    let profile = dir.path().join("chromium");
    let url = format!("file://{}", html.display());

    let all = dom(&profile, &format!("{url}#all"));
    let s = &report["summary"];
    for (card, key) in [
        ("card-resources", "resources"),
        ("card-failed", "checks_failed"),
        ("card-passed", "checks_passed"),
        ("card-exempted", "checks_exempted"),
        ("card-errors", "errors"),
        ("card-skipped", "skipped"),
    ] {
        assert_eq!(number(&all, card), s[key].as_u64().unwrap(), "{card}");
    }
    for sev in ["critical", "high", "medium", "low"] {
        assert_eq!(
            number(&all, &format!("card-{sev}")),
            s["failed"][sev].as_u64().unwrap(),
            "{sev}"
        );
    }
    assert_eq!(
        number(&all, "match-count"),
        s["resources"].as_u64().unwrap(),
        "#all lists every resource"
    );

    let resources = report["resources"].as_array().unwrap();
    for id in ["KSV013", "KSV041", "KSV011"] {
        let failing =
            resources
                .iter()
                .filter(|r| {
                    r["checks"].as_array().unwrap().iter().any(|c| {
                        c["id"] == id && c["success"] == false && c.get("exempted").is_none()
                    })
                })
                .count();
        let filtered = dom(&profile, &format!("{url}#check={id}"));
        assert_eq!(number(&filtered, "match-count"), failing as u64, "{id}");
        let body = &filtered[filtered.find("id=\"resources-body\"").unwrap()..];
        let body = &body[..body.find("</tbody>").unwrap()];
        let rows: Vec<&str> = body.split("<tr class=\"resource\"").skip(1).collect();
        assert_eq!(rows.len(), failing.min(50), "{id}: the first page");
        assert!(
            rows.iter()
                .all(|r| r.contains(&format!("data-check=\"{id}\""))),
            "{id}: every row fails it"
        );
    }

    let shot = target_profile_dir().join("html-report.png");
    let status = browser(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,1400", "--virtual-time-budget=10000"])
        .arg(&url)
        .output()
        .unwrap();
    assert!(status.status.success());
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 30_000,
        "{} bytes",
        png.len()
    );
}
