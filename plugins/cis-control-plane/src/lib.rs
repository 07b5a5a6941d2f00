//! The CIS Kubernetes control-plane checks of trivy (KCV0001-KCV0047): the flags of
//! kube-apiserver, kube-controller-manager, kube-scheduler and etcd, read from their
//! (static) Pods; and KCV0093, ingress-nginx annotations that inject configuration.
//!
//! A container is a component when the first element of its `command` is the
//! component's binary (`tollgate_kit::flags::is_component`). Its `command` and `args`
//! are read element by element and separately, as trivy reads them
//! (`tollgate_kit::flags`): a flag split from its value, or one half of a pair in the
//! other list, does not count. Rules and deviations are in each check's
//! `policies/cis-control-plane/<ID>/check.json`.

mod ingress;

use tollgate_kit::flags::{flag_value, has, matches, ArgList};
use tollgate_kit::{catalogue, CheckInfo, Container, Finding, Object, PluginMeta, Policy};

#[derive(Default)]
pub struct CisControlPlane;

tollgate_kit::export_policy!(CisControlPlane);

const APISERVER: Option<&str> = Some("kube-apiserver");
const CONTROLLER_MANAGER: Option<&str> = Some("kube-controller-manager");
const SCHEDULER: Option<&str> = Some("kube-scheduler");
const ETCD: Option<&str> = Some("etcd");

const BOTH: &[ArgList] = &ArgList::BOTH;
const COMMAND: &[ArgList] = &ArgList::COMMAND;

const ENABLE: &str = "--enable-admission-plugins";
const DISABLE: &str = "--disable-admission-plugins";
const AUTHZ: &str = "--authorization-mode";

/// How one check judges a container's flags.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// PASS iff some element HAS the pattern (a flag, or a flag with its value).
    Require(&'static str),
    /// FAIL iff some element HAS the pattern.
    Forbid(&'static str),
    /// PASS iff one list has elements that HAVE both flags. `args_second` is what the
    /// `args` branch looks for instead of `second` (KCV0026 tests its first flag twice).
    Pair {
        first: &'static str,
        second: &'static str,
        args_second: &'static str,
    },
    /// PASS iff some element's value of the flag CONTAINS the item.
    Include(&'static str, &'static str),
    /// FAIL iff some element's value of the flag CONTAINS the item.
    Exclude(&'static str, &'static str),
    /// KCV0012: an apiserver without the flag in `command`, or any container whose
    /// `command` gives the flag a value without AlwaysPullImages.
    AlwaysPullImages,
    /// KCV0013: FAIL iff some value of the flag contains neither SecurityContextDeny nor
    /// PodSecurityPolicy.
    SecurityContextDeny,
}

#[derive(Debug)]
struct Check {
    id: &'static str,
    /// The component the container must run; `None`: every container.
    component: Option<&'static str>,
    lists: &'static [ArgList],
    rule: Rule,
}

const fn pair(first: &'static str, second: &'static str) -> Rule {
    Rule::Pair {
        first,
        second,
        args_second: second,
    }
}

#[rustfmt::skip]
const CHECKS: [Check; 44] = [
    Check { id: "KCV0001", component: APISERVER, lists: BOTH, rule: Rule::Require("--anonymous-auth=false") },
    Check { id: "KCV0002", component: APISERVER, lists: BOTH, rule: Rule::Forbid("--token-auth-file") },
    Check { id: "KCV0003", component: None, lists: BOTH, rule: Rule::Exclude(ENABLE, "DenyServiceExternalIPs") },
    Check { id: "KCV0004", component: APISERVER, lists: COMMAND, rule: Rule::Forbid("--kubelet-https=false") },
    Check { id: "KCV0005", component: APISERVER, lists: BOTH, rule: pair("--kubelet-client-certificate", "--kubelet-client-key") },
    Check { id: "KCV0006", component: APISERVER, lists: BOTH, rule: Rule::Require("--kubelet-certificate-authority") },
    Check { id: "KCV0007", component: APISERVER, lists: COMMAND, rule: Rule::Exclude(AUTHZ, "AlwaysAllow") },
    Check { id: "KCV0008", component: APISERVER, lists: BOTH, rule: Rule::Include(AUTHZ, "Node") },
    Check { id: "KCV0009", component: APISERVER, lists: BOTH, rule: Rule::Include(AUTHZ, "RBAC") },
    Check { id: "KCV0010", component: APISERVER, lists: BOTH, rule: Rule::Include(ENABLE, "EventRateLimit") },
    Check { id: "KCV0011", component: APISERVER, lists: BOTH, rule: Rule::Exclude(ENABLE, "AlwaysAdmit") },
    Check { id: "KCV0012", component: APISERVER, lists: COMMAND, rule: Rule::AlwaysPullImages },
    Check { id: "KCV0013", component: APISERVER, lists: BOTH, rule: Rule::SecurityContextDeny },
    Check { id: "KCV0014", component: APISERVER, lists: BOTH, rule: Rule::Exclude(DISABLE, "ServiceAccount") },
    Check { id: "KCV0015", component: APISERVER, lists: BOTH, rule: Rule::Exclude(DISABLE, "NamespaceLifecycle") },
    Check { id: "KCV0016", component: APISERVER, lists: BOTH, rule: Rule::Include(ENABLE, "NodeRestriction") },
    Check { id: "KCV0017", component: APISERVER, lists: BOTH, rule: Rule::Forbid("--secure-port=0") },
    Check { id: "KCV0018", component: APISERVER, lists: BOTH, rule: Rule::Require("--profiling=false") },
    Check { id: "KCV0019", component: APISERVER, lists: BOTH, rule: Rule::Require("--audit-log-path") },
    Check { id: "KCV0020", component: APISERVER, lists: BOTH, rule: Rule::Require("--audit-log-maxage") },
    Check { id: "KCV0021", component: APISERVER, lists: BOTH, rule: Rule::Require("--audit-log-maxbackup") },
    Check { id: "KCV0022", component: APISERVER, lists: BOTH, rule: Rule::Require("--audit-log-maxsize") },
    Check { id: "KCV0024", component: APISERVER, lists: BOTH, rule: Rule::Forbid("--service-account-lookup=false") },
    Check { id: "KCV0025", component: APISERVER, lists: BOTH, rule: Rule::Require("--service-account-key-file") },
    Check { id: "KCV0026", component: APISERVER, lists: BOTH, rule: Rule::Pair { first: "--etcd-certfile", second: "--etcd-keyfile", args_second: "--etcd-certfile" } },
    Check { id: "KCV0027", component: APISERVER, lists: BOTH, rule: pair("--tls-cert-file", "--tls-private-key-file") },
    Check { id: "KCV0028", component: APISERVER, lists: BOTH, rule: Rule::Require("--client-ca-file") },
    Check { id: "KCV0029", component: APISERVER, lists: BOTH, rule: Rule::Require("--etcd-cafile") },
    Check { id: "KCV0030", component: APISERVER, lists: BOTH, rule: Rule::Require("--encryption-provider-config") },
    Check { id: "KCV0033", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--terminated-pod-gc-threshold") },
    Check { id: "KCV0034", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--profiling=false") },
    Check { id: "KCV0035", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--use-service-account-credentials=true") },
    Check { id: "KCV0036", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--service-account-private-key-file") },
    Check { id: "KCV0037", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--root-ca-file") },
    Check { id: "KCV0038", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("RotateKubeletServerCertificate=true") },
    Check { id: "KCV0039", component: CONTROLLER_MANAGER, lists: BOTH, rule: Rule::Require("--bind-address=127.0.0.1") },
    Check { id: "KCV0040", component: SCHEDULER, lists: BOTH, rule: Rule::Require("--profiling=false") },
    Check { id: "KCV0041", component: SCHEDULER, lists: BOTH, rule: Rule::Require("--bind-address=127.0.0.1") },
    Check { id: "KCV0042", component: ETCD, lists: BOTH, rule: pair("--cert-file", "--key-file") },
    Check { id: "KCV0043", component: ETCD, lists: BOTH, rule: Rule::Require("--client-cert-auth=true") },
    Check { id: "KCV0044", component: ETCD, lists: BOTH, rule: Rule::Forbid("--auto-tls=true") },
    Check { id: "KCV0045", component: ETCD, lists: BOTH, rule: pair("--peer-cert-file", "--peer-key-file") },
    Check { id: "KCV0046", component: ETCD, lists: COMMAND, rule: Rule::Require("--peer-client-cert-auth=true") },
    Check { id: "KCV0047", component: ETCD, lists: BOTH, rule: Rule::Forbid("--peer-auto-tls=true") },
];

impl Policy for CisControlPlane {
    fn meta() -> PluginMeta {
        PluginMeta::new(
            "cis-control-plane",
            env!("CARGO_PKG_VERSION"),
            "trivy's CIS Kubernetes control-plane checks (KCV0001-KCV0047) on the Pods of kube-apiserver, kube-controller-manager, kube-scheduler and etcd, and KCV0093 (ingress-nginx annotations)",
        )
    }

    fn checks() -> Vec<CheckInfo> {
        catalogue!("../../../policies/cis-control-plane";
            KCV0001, KCV0002, KCV0003, KCV0004, KCV0005, KCV0006, KCV0007, KCV0008, KCV0009,
            KCV0010, KCV0011, KCV0012, KCV0013, KCV0014, KCV0015, KCV0016, KCV0017, KCV0018,
            KCV0019, KCV0020, KCV0021, KCV0022, KCV0024, KCV0025, KCV0026, KCV0027, KCV0028,
            KCV0029, KCV0030, KCV0033, KCV0034, KCV0035, KCV0036, KCV0037, KCV0038, KCV0039,
            KCV0040, KCV0041, KCV0042, KCV0043, KCV0044, KCV0045, KCV0046, KCV0047, KCV0093)
    }

    fn evaluate(&self, id: &str, o: &Object) -> Vec<Finding> {
        if id == "KCV0093" {
            return ingress::insecure_annotations(o);
        }
        match CHECKS.iter().find(|c| c.id == id) {
            Some(check) => o
                .containers()
                .iter()
                .filter_map(|c| {
                    let why = judge(check, c)?;
                    Some(Finding::at(format!("{} {why}", c.describe(o)), &c.path))
                })
                .collect(),
            None => vec![],
        }
    }
}

/// "its command" or "its command or args".
fn lists_text(lists: &[ArgList]) -> &'static str {
    if lists.len() == 1 {
        "its command"
    } else {
        "its command or args"
    }
}

/// Each string element of the lists with the list it is in.
fn elements<'c, 'a>(
    c: &'c Container<'a>,
    lists: &'static [ArgList],
) -> impl Iterator<Item = (ArgList, &'a str)> + 'c {
    lists
        .iter()
        .flat_map(move |&l| c.arg_strings(l).map(move |e| (l, e)))
}

/// The first element whose value of `flag` `pick` accepts, with that value.
fn find_value<'a>(
    c: &Container<'a>,
    lists: &'static [ArgList],
    flag: &str,
    pick: impl Fn(&str) -> bool,
) -> Option<(ArgList, &'a str, &'a str)> {
    elements(c, lists).find_map(|(l, e)| {
        let v = flag_value(e, flag)?;
        pick(v).then_some((l, e, v))
    })
}

/// Why the container fails the check, or `None` when it passes (or is not the component).
fn judge(check: &Check, c: &Container) -> Option<String> {
    let lists = check.lists;
    if let Some(name) = check.component {
        // KCV0012's second branch reads every container.
        if !c.is_component(name) && !matches!(check.rule, Rule::AlwaysPullImages) {
            return None;
        }
    }
    let runs = check
        .component
        .map(|name| format!("runs {name}"))
        .unwrap_or_default();
    let in_lists = lists_text(lists);
    match check.rule {
        Rule::Require(p) => {
            let ok = lists.iter().any(|&l| has(c.arg_list(l), p));
            (!ok).then(|| format!("{runs} without {p} in {in_lists}"))
        }
        Rule::Forbid(p) => elements(c, lists)
            .find(|(_, e)| matches(e, p))
            .map(|(l, e)| format!("{runs} with '{e}' in its {}", l.field())),
        Rule::Pair {
            first,
            second,
            args_second,
        } => {
            let both = |l: ArgList, second: &str| {
                has(c.arg_list(l), first) && has(c.arg_list(l), second)
            };
            let ok = both(ArgList::Command, second) || both(ArgList::Args, args_second);
            (!ok).then(|| {
                format!("{runs} without both {first} and {second} in its command, or both in its args")
            })
        }
        Rule::Include(flag, item) => {
            let ok = find_value(c, lists, flag, |v| v.contains(item)).is_some();
            (!ok).then(|| match find_value(c, lists, flag, |_| true) {
                Some((l, e, _)) => format!("{runs} with '{e}' in its {}, which does not include {item}", l.field()),
                None => format!("{runs} without {flag} (including {item}) in {in_lists}"),
            })
        }
        Rule::Exclude(flag, item) => find_value(c, lists, flag, |v| v.contains(item)).map(
            |(l, e, _)| match check.component {
                Some(_) => format!("{runs} with '{e}' in its {}, which includes {item}", l.field()),
                None => format!("enables {item} with '{e}' in its {}", l.field()),
            },
        ),
        Rule::AlwaysPullImages => {
            // (a) the apiserver, without the flag in its command; (b) any container whose
            // command gives the flag a value without AlwaysPullImages.
            let apiserver = c.is_component("kube-apiserver");
            if apiserver && !has(c.arg_list(ArgList::Command), ENABLE) {
                return Some(format!(
                    "runs kube-apiserver without {ENABLE} in its command (so AlwaysPullImages is not enabled)"
                ));
            }
            find_value(c, COMMAND, ENABLE, |v| !v.contains("AlwaysPullImages"))
                .map(|(_, e, _)| format!("has '{e}' in its command, which does not include AlwaysPullImages"))
        }
        Rule::SecurityContextDeny => find_value(c, lists, ENABLE, |v| {
            !v.contains("PodSecurityPolicy") && !v.contains("SecurityContextDeny")
        })
        .map(|(l, e, _)| {
            format!(
                "{runs} with '{e}' in its {}, which includes neither SecurityContextDeny nor PodSecurityPolicy",
                l.field()
            )
        }),
    }
}

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
