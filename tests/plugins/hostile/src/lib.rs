//! A hostile plugin for the sandbox tests. Check HST001 applies to ConfigMaps and does
//! what the ConfigMap's `data.mode` says; probes report what the plugin could see as
//! finding messages, so tests can assert on them.

use tollgate_kit::{CheckInfo, Finding, Object, PluginMeta, Policy, Severity};

#[derive(Default)]
pub struct Hostile;

tollgate_kit::export_policy!(Hostile);

/// Unbounded recursion that the optimiser cannot turn into a loop: every frame keeps a
/// buffer whose address escapes into the next call.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64, parent: &mut [u64; 8]) -> u64 {
    let mut mine = [depth; 8];
    mine[(depth % 8) as usize] ^= parent[(depth % 7) as usize];
    let below = recurse(depth + 1, std::hint::black_box(&mut mine));
    below ^ mine[3]
}

impl Policy for Hostile {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "hostile",
            "0.1.0",
            "Misbehaves on purpose, for sandbox tests",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        vec![CheckInfo::new("HST001", "Hostile behaviour", Severity::Low).kinds(&["ConfigMap"])]
    }

    fn evaluate(&self, _id: &str, o: &Object) -> Vec<Finding> {
        let mode = o
            .value
            .pointer("/data/mode")
            .and_then(|m| m.as_str())
            .unwrap_or("");
        match mode {
            "loop" => loop {
                std::hint::spin_loop();
            },
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                for _ in 0..64 {
                    hoard.push(vec![1u8; 64 << 20]);
                }
                vec![Finding::new(format!("allocated {}", hoard.len()))]
            }
            "panic" => panic!("hostile plugin panics on purpose"),
            "recurse" => vec![Finding::new(format!("{}", recurse(0, &mut [0; 8])))],
            "flood" => (0..100_000)
                .map(|i| Finding::new(format!("finding {i} {}", "x".repeat(100))))
                .collect(),
            "probe" => {
                let mut seen = Vec::new();
                seen.push(format!(
                    "read /etc/passwd: {:?}",
                    std::fs::read_to_string("/etc/passwd")
                        .map(|s| s.len())
                        .map_err(|e| e.kind())
                ));
                seen.push(format!(
                    "list /: {:?}",
                    std::fs::read_dir("/")
                        .map(|d| d.count())
                        .map_err(|e| e.kind())
                ));
                seen.push(format!(
                    "write /tmp/hostile: {:?}",
                    std::fs::write("/tmp/tollgate-hostile", b"x").map_err(|e| e.kind())
                ));
                seen.push(format!("env vars: {}", std::env::vars().count()));
                seen.push(format!("HOME: {:?}", std::env::var("HOME").ok()));
                seen.push(format!(
                    "connect 127.0.0.1:22: {:?}",
                    std::net::TcpStream::connect("127.0.0.1:22")
                        .map(|_| ())
                        .map_err(|e| e.kind())
                ));
                seen.push(format!(
                    "bind 127.0.0.1:0: {:?}",
                    std::net::TcpListener::bind("127.0.0.1:0")
                        .map(|_| ())
                        .map_err(|e| e.kind())
                ));
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                seen.push(format!("wall clock: {now}"));
                let mut h = std::collections::hash_map::RandomState::new().build_hasher_probe();
                h = h.wrapping_add(1);
                seen.push(format!("random: {h}"));
                println!("stdout is discarded");
                seen.into_iter().map(Finding::new).collect()
            }
            _ => vec![],
        }
    }
}

trait Probe {
    fn build_hasher_probe(&self) -> u64;
}

impl Probe for std::collections::hash_map::RandomState {
    fn build_hasher_probe(&self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.build_hasher();
        h.write_u64(42);
        h.finish()
    }
}
