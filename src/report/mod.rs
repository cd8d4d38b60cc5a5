//! Reporting: the run's events and their consumers — the journal, live progress and the summary and
//! JSON report. The executor emits; nothing here runs a task.

pub mod collect;
pub mod drill;
pub mod drill_page;
pub mod events;
pub mod journal;
pub mod metrics;
pub mod progress;
pub mod rpo;
pub mod summary;
