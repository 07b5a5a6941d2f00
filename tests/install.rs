//! What installing tollgate gives besides the binary: shell completions and a manual
//! page generated from the CLI's own definitions, loaded by the real bash and rendered
//! by the real `man`.

use std::process::Command;

use tollgate_e2e::{binary, run};

#[test]
fn bash_loads_the_completions_and_every_shell_gets_a_script() {
    let bin = binary();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p tollgate",
            bin.display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("-F _tollgate tollgate"), "{said}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(["completions", shell]);
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        for word in ["tollgate", "scan", "serve", "fail-on"] {
            assert!(
                script.stdout.contains(word),
                "{shell} completion lacks {word}"
            );
        }
    }
    assert_eq!(
        run(["completions", "tcsh"]).code,
        2,
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_man_page_renders_with_man() {
    let page = run(["man"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(page.stdout.starts_with(".ie") || page.stdout.contains(".TH tollgate 1"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (Debian's man-db) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "tollgate-scan",
        "tollgate-serve",
        "sandboxed WebAssembly",
    ] {
        assert!(
            text.contains(part),
            "the rendered page lacks {part}:\n{text}"
        );
    }
}
