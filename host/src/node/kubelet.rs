//! The kubelet's settings as NodeInfo reports them: each `kubelet...ArgumentSet` key
//! from the running kubelet's command line or, where the flag is not given, from its
//! configuration file (KubeletConfiguration YAML/JSON, or the `/configz` JSON trivy
//! fetches): flags win, as they do in the kubelet itself.

use serde_json::Value;

use super::procs::Process;

/// One NodeInfo key: the kubelet flag that sets it and the KubeletConfiguration field
/// (a dotted path) that sets it when the flag is absent.
pub struct Setting {
    pub key: &'static str,
    pub flag: &'static str,
    /// Boolean flags may be given bare (`--anonymous-auth` means true).
    pub boolean: bool,
    pub field: Option<&'static str>,
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
    }
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
    ),
    setting(
        "kubeletAuthorizationModeArgumentSet",
        "authorization-mode",
        false,
        Some("authorization.mode"),
    ),
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
    ),
    setting(
        "kubeletStreamingConnectionIdleTimeoutArgumentSet",
        "streaming-connection-idle-timeout",
        false,
        Some("streamingConnectionIdleTimeout"),
    ),
    setting(
        "kubeletProtectKernelDefaultsArgumentSet",
        "protect-kernel-defaults",
        true,
        Some("protectKernelDefaults"),
    ),
    setting(
        "kubeletMakeIptablesUtilChainsArgumentSet",
        "make-iptables-util-chains",
        true,
        Some("makeIPTablesUtilChains"),
    ),
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
    ),
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
    ),
    setting(
        "kubeletRotateKubeletServerCertificateArgumentSet",
        "feature-gates",
        false,
        Some("featureGates.RotateKubeletServerCertificate"),
    ),
    setting(
        "kubeletOnlyUseStrongCryptographic",
        "tls-cipher-suites",
        false,
        Some("tlsCipherSuites"),
    ),
];

/// The values of one key: from the flag when the kubelet was given it, else from the
/// configuration, else none (`values: []`, as node-collector reports a key it looked
/// for and did not find).
pub fn values(s: &Setting, kubelet: Option<&Process>, config: Option<&Value>) -> Vec<Value> {
    let flag = kubelet.and_then(|p| p.flag(s.flag, s.boolean));
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
    if let Some(text) = flag {
        return typed(&text);
    }
    let Some(field) = s.field.zip(config).and_then(|(f, c)| lookup(c, f)) else {
        return Vec::new();
    };
    config_values(field)
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
        let v = |key| values(setting(key), Some(&p), Some(&config));
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
    fn a_feature_gate_is_read_from_the_gate_list() {
        let p =
            kubelet(&["--feature-gates=Foo=true,RotateKubeletServerCertificate=false,Bar=true"]);
        assert_eq!(
            values(
                setting("kubeletRotateKubeletServerCertificateArgumentSet"),
                Some(&p),
                None
            ),
            [json!("false")]
        );
        let p = kubelet(&["--feature-gates=Foo=true"]);
        let key = setting("kubeletRotateKubeletServerCertificateArgumentSet");
        assert!(values(key, Some(&p), None).is_empty());
        let config = json!({"featureGates": {"RotateKubeletServerCertificate": true}});
        assert_eq!(values(key, Some(&p), Some(&config)), [json!("true")]);
    }
}
