//! The integration tests, one binary: each file of `tests/` is a module of it, and `common` the
//! test beds they share, so the suite compiles and links the crate and its test beds once.

mod common;

mod ansible;
mod authentic;
mod backup;
mod beds;
mod cli;
mod composed;
mod database;
mod demo;
mod diagnostics;
mod drill;
mod faults;
mod first_hour;
mod fuzz;
mod hardening;
mod layers;
mod metrics;
mod notify;
mod prompt;
mod resume;
mod run;
mod sentinel;
mod serve;
mod serve_settings;
mod ssh;
mod storage;
mod targets;
mod trust;
