//! The kubelet's settings as NodeInfo reports them: each `kubelet...ArgumentSet` key is
//! the kubelet's **effective** value, what its `/configz` endpoint answers and what
//! trivy-operator reads, resolved as the kubelet resolves it: its defaults, then its
//! configuration file, then its flags (flags win). The defaults depend on how it was
//! started ([`Source`]): without `--config` the kubelet keeps its command-line API's
//! legacy defaults (anonymous authentication on, authorization `AlwaysAllow`, read-only
//! port 10255: `applyLegacyDefaults` in `cmd/kubelet/app/options`); with a
//! configuration file, the KubeletConfiguration v1beta1 defaults (anonymous off,
//! `Webhook`, read-only port 0). The defaults modelled are those of Kubernetes 1.28 to
//! 1.33, which agree on these keys. Values have configz's form: durations as Go prints
//! them (`30m` is `30m0s`), booleans as "true"/"false".

use serde_json::Value;

use super::procs::Process;

/// One NodeInfo key: the kubelet flag that sets it, the KubeletConfiguration field (a
/// dotted path) that sets it when the flag is absent, and its defaults.
pub struct Setting {
    pub key: &'static str,
    pub flag: &'static str,
    /// Boolean flags may be given bare (`--anonymous-auth` means true).
    pub boolean: bool,
    pub field: Option<&'static str>,
    /// The value of a kubelet started without `--config` that does not set it.
    pub legacy_default: Option<&'static str>,
    /// The value of a kubelet started with a configuration that does not set it.
    pub config_default: Option<&'static str>,
    /// A Go duration: given in any form, reported as Go prints it.
    pub duration: bool,
}

const fn setting(
    key: &'static str,
    flag: &'static str,
    boolean: bool,
    field: Option<&'static str>,
) -> Setting {
    Setting {
        key,
        flag,
        boolean,
        field,
        legacy_default: None,
        config_default: None,
        duration: false,
    }
}

impl Setting {
    /// The same setting with its defaults (without `--config`, with a configuration).
    const fn defaults(mut self, legacy: &'static str, config: &'static str) -> Setting {
        self.legacy_default = Some(legacy);
        self.config_default = Some(config);
        self
    }

    const fn duration(mut self) -> Setting {
        self.duration = true;
        self
    }
}

/// How the kubelet got its configuration, which decides its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Flags only (no `--config`): the legacy defaults.
    Flags,
    /// A KubeletConfiguration file (`--config`): v1beta1 defaults, then the file, then
    /// the flags.
    File,
    /// The effective configuration given to tollgate (`--kubelet-config`, a `/configz`
    /// answer or the file the kubelet runs with): taken as it is, v1beta1 defaults for
    /// what it omits; the process's flags are not read.
    Given,
    /// The configuration the kubelet runs with could not be read: its flags are known,
    /// nothing else (no default can be trusted: the file may set anything).
    Unreadable,
}

/// node-collector's kubelet keys (CMD-0032..0045) with trivy's `kubelet_mapping.yaml`.
/// Where node-collector searches a text no kubelet writes (`--streamingConnectionIdleTimeout=`,
/// `TLSCipherSuites=`) or its mapping has a typo (`eventRecordQPS",`), the real flag and
/// field are read instead: the key then says what the kubelet does.
pub const SETTINGS: &[Setting] = &[
    setting(
        "kubeletAnonymousAuthArgumentSet",
        "anonymous-auth",
        true,
        Some("authentication.anonymous.enabled"),
    )
    .defaults("true", "false"),
    setting(
        "kubeletAuthorizationModeArgumentSet",
        "authorization-mode",
        false,
        Some("authorization.mode"),
    )
    .defaults("AlwaysAllow", "Webhook"),
    setting(
        "kubeletClientCaFileArgumentSet",
        "client-ca-file",
        false,
        Some("authentication.x509.clientCAFile"),
    ),
    setting(
        "kubeletReadOnlyPortArgumentSet",
        "read-only-port",
        false,
        Some("readOnlyPort"),
    )
    .defaults("10255", "0"),
    setting(
        "kubeletStreamingConnectionIdleTimeoutArgumentSet",
        "streaming-connection-idle-timeout",
        false,
        Some("streamingConnectionIdleTimeout"),
    )
    .defaults("4h0m0s", "4h0m0s")
    .duration(),
    setting(
        "kubeletProtectKernelDefaultsArgumentSet",
        "protect-kernel-defaults",
        true,
        Some("protectKernelDefaults"),
    )
    .defaults("false", "false"),
    setting(
        "kubeletMakeIptablesUtilChainsArgumentSet",
        "make-iptables-util-chains",
        true,
        Some("makeIPTablesUtilChains"),
    )
    .defaults("true", "true"),
    setting(
        "kubeletHostnameOverrideArgumentSet",
        "hostname-override",
        false,
        None,
    ),
    setting(
        "kubeletEventQpsArgumentSet",
        "event-qps",
        false,
        Some("eventRecordQPS"),
    )
    .defaults("50", "50"),
    setting(
        "kubeletTlsCertFileTlsArgumentSet",
        "tls-cert-file",
        false,
        Some("tlsCertFile"),
    ),
    setting(
        "kubeletTlsPrivateKeyFileArgumentSet",
        "tls-private-key-file",
        false,
        Some("tlsPrivateKeyFile"),
    ),
    setting(
        "kubeletRotateCertificatesArgumentSet",
        "rotate-certificates",
        true,
        Some("rotateCertificates"),
    )
    .defaults("false", "false"),
    // A feature gate on by default since 1.12.
    setting(
        "kubeletRotateKubeletServerCertificateArgumentSet",
        "feature-gates",
        false,
        Some("featureGates.RotateKubeletServerCertificate"),
    )
    .defaults("true", "true"),
    setting(
        "kubeletOnlyUseStrongCryptographic",
        "tls-cipher-suites",
        false,
        Some("tlsCipherSuites"),
    ),
];

/// The effective values of one key: the flag when the kubelet was given it (unless the
/// configuration was given as effective), else the configuration's field, else the
/// default for how the kubelet was started; `values: []` when the effective value is
/// empty (a file nobody named), as configz omits it.
pub fn values(
    s: &Setting,
    kubelet: Option<&Process>,
    config: Option<&Value>,
    source: Source,
) -> Vec<Value> {
    let flag = kubelet
        .filter(|_| source != Source::Given)
        .and_then(|p| p.flag(s.flag, s.boolean));
    let flag = if s.flag == "feature-gates" {
        // `--feature-gates=A=true,RotateKubeletServerCertificate=false`: the gate's own
        // value; a gate the flag does not set comes from the configuration, as the
        // kubelet merges the two gate by gate.
        flag.and_then(|text| {
            text.split(',')
                .filter_map(|g| g.split_once('='))
                .rfind(|(name, _)| name.trim() == "RotateKubeletServerCertificate")
                .map(|(_, v)| v.trim().to_string())
        })
    } else {
        flag
    };
    let values = if let Some(text) = flag {
        typed(&text)
    } else if let Some(field) = s.field.zip(config).and_then(|(f, c)| lookup(c, f)) {
        config_values(field)
    } else if (kubelet.is_none() && config.is_none()) || source == Source::Unreadable {
        // No kubelet and no configuration, or a configuration nobody could read: unknown,
        // which the checks treat as unknown, not a default that may be false.
        Vec::new()
    } else {
        let default = match source {
            Source::Flags => s.legacy_default,
            Source::File | Source::Given => s.config_default,
            Source::Unreadable => None,
        };
        default.map(typed).unwrap_or_default()
    };
    if s.duration {
        values
            .into_iter()
            .map(|v| match v.as_str().and_then(go_duration) {
                Some(d) => Value::from(d),
                None => v,
            })
            .collect()
    } else {
        values
    }
}

/// A Go duration (`30m`, `1h30m`, `90s`, `0`) as Go's `Duration.String` prints it
/// (`30m0s`, `1h30m0s`, `1m30s`, `0s`); None for what Go would not parse.
pub fn go_duration(text: &str) -> Option<String> {
    let t = text.trim();
    if matches!(t, "0" | "-0" | "+0") {
        return Some("0s".into());
    }
    let (negative, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += number * scale;
    }
    let n = nanos.round() as u128;
    let body = if n == 0 {
        "0s".to_string()
    } else if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        format!("{}µs", trim_fraction(n as f64 / 1e3))
    } else if n < 1_000_000_000 {
        format!("{}ms", trim_fraction(n as f64 / 1e6))
    } else {
        let secs = n / 1_000_000_000;
        let frac = n % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let s = if frac == 0 {
            s.to_string()
        } else {
            trim_fraction(s as f64 + frac as f64 / 1e9)
        };
        match (h, m) {
            (0, 0) => format!("{s}s"),
            (0, m) => format!("{m}m{s}s"),
            (h, m) => format!("{h}h{m}m{s}s"),
        }
    };
    Some(if negative { format!("-{body}") } else { body })
}

fn trim_fraction(x: f64) -> String {
    let t = format!("{x:.9}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The configuration object inside a file: a KubeletConfiguration itself, or the
/// `{"kubeletconfig": {...}}` envelope the kubelet's `/configz` endpoint answers with.
pub fn configuration(doc: Value) -> Value {
    match doc {
        Value::Object(mut m) if m.contains_key("kubeletconfig") => {
            m.remove("kubeletconfig").unwrap_or_default()
        }
        other => other,
    }
}

fn lookup<'v>(config: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(config, |v, seg| v.get(seg))
}

/// Configuration values typed as node-collector types them: booleans become the strings
/// "true"/"false", numbers and strings stay, a list is the values, anything else one value.
fn config_values(v: &Value) -> Vec<Value> {
    match v {
        Value::Bool(b) => vec![Value::from(b.to_string())],
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Command output as node-collector types it: split on commas (empty pieces kept), each
/// piece that Go's `strconv.Atoi` accepts a number, every other piece a string; an empty
/// text is no values.
pub fn typed(text: &str) -> Vec<Value> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(',')
        .map(|piece| match piece.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(piece),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(key: &str) -> &'static Setting {
        SETTINGS.iter().find(|s| s.key == key).unwrap()
    }

    fn kubelet(args: &[&str]) -> Process {
        Process {
            pid: 1,
            argv: std::iter::once("kubelet")
                .chain(args.iter().copied())
                .map(String::from)
                .collect(),
        }
    }

    #[test]
    fn values_are_typed_like_node_collector() {
        assert_eq!(typed("0644"), [json!(644)]);
        assert_eq!(typed("-1"), [json!(-1)]);
        assert_eq!(typed("+5"), [json!(5)]);
        assert_eq!(typed("a,,b"), [json!("a"), json!(""), json!("b")]);
        assert_eq!(typed(" 644"), [json!(" 644")]);
        assert_eq!(typed("1e3"), [json!("1e3")]);
        assert_eq!(typed("true"), [json!("true")]);
        assert!(typed("").is_empty());
    }

    #[test]
    fn flags_win_over_the_configuration() {
        let config = configuration(json!({"kubeletconfig": {
            "readOnlyPort": 10255,
            "authentication": {"anonymous": {"enabled": false}},
            "tlsCipherSuites": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"],
            "featureGates": {"RotateKubeletServerCertificate": true}
        }}));
        let p = kubelet(&["--read-only-port=0", "--authorization-mode=Node,Webhook"]);
        let v = |key| values(setting(key), Some(&p), Some(&config), Source::File);
        assert_eq!(v("kubeletReadOnlyPortArgumentSet"), [json!(0)]);
        assert_eq!(
            v("kubeletAuthorizationModeArgumentSet"),
            [json!("Node"), json!("Webhook")]
        );
        assert_eq!(v("kubeletAnonymousAuthArgumentSet"), [json!("false")]);
        assert_eq!(
            v("kubeletOnlyUseStrongCryptographic"),
            [
                json!("TLS_AES_128_GCM_SHA256"),
                json!("TLS_AES_256_GCM_SHA384")
            ]
        );
        assert_eq!(
            v("kubeletRotateKubeletServerCertificateArgumentSet"),
            [json!("true")]
        );
        assert!(v("kubeletTlsCertFileTlsArgumentSet").is_empty());
    }

    #[test]
    fn defaults_depend_on_how_the_kubelet_was_started() {
        let bare = kubelet(&["--kubeconfig=/etc/kubernetes/kubelet.conf"]);
        let v =
            |key, source, config: Option<&Value>| values(setting(key), Some(&bare), config, source);
        // Flags only: the command line's legacy defaults, an open kubelet.
        assert_eq!(
            v("kubeletAnonymousAuthArgumentSet", Source::Flags, None),
            [json!("true")]
        );
        assert_eq!(
            v("kubeletAuthorizationModeArgumentSet", Source::Flags, None),
            [json!("AlwaysAllow")]
        );
        assert_eq!(
            v("kubeletReadOnlyPortArgumentSet", Source::Flags, None),
            [json!(10255)]
        );
        // A configuration that sets nothing: v1beta1's defaults.
        let empty = json!({"kind": "KubeletConfiguration"});
        assert_eq!(
            v(
                "kubeletAnonymousAuthArgumentSet",
                Source::File,
                Some(&empty)
            ),
            [json!("false")]
        );
        assert_eq!(
            v(
                "kubeletAuthorizationModeArgumentSet",
                Source::File,
                Some(&empty)
            ),
            [json!("Webhook")]
        );
        assert_eq!(
            v("kubeletReadOnlyPortArgumentSet", Source::File, Some(&empty)),
            [json!(0)]
        );
        assert_eq!(
            v(
                "kubeletStreamingConnectionIdleTimeoutArgumentSet",
                Source::File,
                Some(&empty)
            ),
            [json!("4h0m0s")]
        );
        // Durations in configz's form, from a flag or the file.
        let p = kubelet(&["--streaming-connection-idle-timeout=30m"]);
        let key = setting("kubeletStreamingConnectionIdleTimeoutArgumentSet");
        assert_eq!(values(key, Some(&p), None, Source::Flags), [json!("30m0s")]);
        let c = json!({"streamingConnectionIdleTimeout": "1h30m"});
        assert_eq!(
            values(key, None, Some(&c), Source::File),
            [json!("1h30m0s")]
        );
        // A configuration that could not be read: flags only, no defaults.
        let p = kubelet(&["--read-only-port=0"]);
        assert_eq!(
            values(
                setting("kubeletReadOnlyPortArgumentSet"),
                Some(&p),
                None,
                Source::Unreadable
            ),
            [json!(0)]
        );
        assert!(values(
            setting("kubeletAnonymousAuthArgumentSet"),
            Some(&p),
            None,
            Source::Unreadable
        )
        .is_empty());
        // Given as effective: the process's flags are not read.
        let c = json!({"readOnlyPort": 0});
        let p = kubelet(&["--read-only-port=10255"]);
        assert_eq!(
            values(
                setting("kubeletReadOnlyPortArgumentSet"),
                Some(&p),
                Some(&c),
                Source::Given
            ),
            [json!(0)]
        );
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        for (given, go) in [
            ("30m", "30m0s"),
            ("4h", "4h0m0s"),
            ("1h30m", "1h30m0s"),
            ("90s", "1m30s"),
            ("0", "0s"),
            ("0s", "0s"),
            ("5m0s", "5m0s"),
            ("1.5s", "1.5s"),
            ("500ms", "500ms"),
            ("2h45m30s", "2h45m30s"),
            ("-1m", "-1m0s"),
            ("-0", "0s"),
        ] {
            assert_eq!(go_duration(given).as_deref(), Some(go), "{given}");
        }
        for bad in ["", "30", "5x", "m", "1h-2m"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_feature_gate_is_read_from_the_gate_list() {
        let p =
            kubelet(&["--feature-gates=Foo=true,RotateKubeletServerCertificate=false,Bar=true"]);
        assert_eq!(
            values(
                setting("kubeletRotateKubeletServerCertificateArgumentSet"),
                Some(&p),
                None,
                Source::File
            ),
            [json!("false")]
        );
        let p = kubelet(&["--feature-gates=Foo=true"]);
        let key = setting("kubeletRotateKubeletServerCertificateArgumentSet");
        // Not set by the flag nor the configuration: the gate's default, on.
        assert_eq!(values(key, Some(&p), None, Source::File), [json!("true")]);
        let config = json!({"featureGates": {"RotateKubeletServerCertificate": false}});
        assert_eq!(
            values(key, Some(&p), Some(&config), Source::File),
            [json!("false")]
        );
    }
}
