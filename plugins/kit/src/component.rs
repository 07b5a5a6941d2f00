//! The WebAssembly component glue: bindings for `wit/policy.wit` and a generic adapter
//! from [`Policy`] to the exported interface. Plugin crates reach it through
//! [`crate::export_policy!`].

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::{Policy, Runtime, Severity};

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "tree-plugin",
        default_bindings_module: "tollgate_kit::component::bindings",
        pub_export_macro: true,
        export_macro_name: "export_component",
    });
}

use bindings::exports::tollgate::policy::policy as wit;
use bindings::exports::tollgate::policy::tree as tree_wit;

thread_local! {
    // A component instance is single-threaded and holds exactly one policy.
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn with_runtime<P: Policy, R>(f: impl FnOnce(&mut Runtime<P>) -> R) -> R {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .and_then(|b| b.downcast_ref::<Runtime<P>>())
            .is_none()
        {
            *slot = Some(Box::new(Runtime::<P>::new()));
        }
        let rt = slot.as_mut().and_then(|b| b.downcast_mut::<Runtime<P>>());
        f(rt.expect("runtime was just created"))
    })
}

/// The exported type; `P` is the plugin's [`Policy`].
pub struct Component<P>(PhantomData<P>);

impl<P: Policy> wit::Guest for Component<P> {
    fn describe() -> wit::PluginInfo {
        let meta = P::meta();
        with_runtime::<P, _>(|rt| wit::PluginInfo {
            name: meta.name,
            version: meta.version,
            description: meta.description,
            settings_help: meta.settings_help,
            checks: rt
                .checks
                .iter()
                .map(|c| wit::CheckInfo {
                    id: c.id.clone(),
                    aliases: c.aliases.clone(),
                    title: c.title.clone(),
                    description: c.description.clone(),
                    severity: match c.severity {
                        Severity::Low => wit::Severity::Low,
                        Severity::Medium => wit::Severity::Medium,
                        Severity::High => wit::Severity::High,
                        Severity::Critical => wit::Severity::Critical,
                    },
                    category: c.category.clone(),
                    kinds: c.kinds.clone(),
                    remediation: c.remediation.clone(),
                    compliance: c.compliance.clone(),
                    default_enabled: c.default_enabled,
                })
                .collect(),
        })
    }

    fn configure(settings: String) -> Result<Vec<String>, String> {
        with_runtime::<P, _>(|rt| rt.configure_json(&settings))
    }

    fn evaluate(batch: Vec<wit::Request>) -> Vec<Result<Vec<wit::CheckResult>, String>> {
        with_runtime::<P, _>(|rt| {
            batch
                .into_iter()
                .map(|req| rt.evaluate_json(&req.object, &req.checks).map(to_wit))
                .collect()
        })
    }
}

impl<P: Policy> tree_wit::Guest for Component<P> {
    fn evaluate_tree(
        batch: Vec<tree_wit::TreeRequest>,
    ) -> Vec<Result<Vec<wit::CheckResult>, String>> {
        with_runtime::<P, _>(|rt| {
            batch
                .into_iter()
                .map(|req| rt.evaluate_bytes(&req.object, &req.checks).map(to_wit))
                .collect()
        })
    }
}

fn to_wit(results: Vec<crate::CheckResult>) -> Vec<wit::CheckResult> {
    results
        .into_iter()
        .map(|r| wit::CheckResult {
            check: r.check,
            findings: r
                .findings
                .into_iter()
                .map(|f| wit::Finding {
                    message: f.message,
                    path: f.path,
                })
                .collect(),
        })
        .collect()
}
