//! End-to-end tests: the real `tollgate` binary, the real plugin components, real
//! servers and processes (see `CONTRIBUTING.md`). One test binary; each area is a module.
//! Filter by area with `cargo test --release -p tollgate-e2e --test e2e AREA::`.

#![recursion_limit = "256"]

mod architecture;
mod authoring;
mod config;
mod hostile_input;
mod hostile_registry;
mod html;
mod install;
mod node;
mod polyglot;
mod registry;
mod render;
mod reports;
mod same_output;
mod sandbox;
mod scan;
mod serve;
mod serve_attacks;
mod spec_cases;
