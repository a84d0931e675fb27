//! shuangsui (双随): verifiable 双随机、一公开 random inspection draws.
//!
//! The library holds all the logic; `src/main.rs` only parses the command line.
//! The pure part, which reads no file and reaches no network, is the
//! workspace member `shuangsui-core` (`crates/core`); its modules are
//! re-exported here under their old paths, so `shuangsui::draw` is
//! `shuangsui_core::draw`. This crate adds everything that touches the
//! outside: files, the ledger database, the service, the scheduler.

pub use shuangsui_core::{beacon, draw, history, ids, merge, random, seed, snapshot, tlog};

pub mod bundle;
pub mod calendar;
pub mod clock;
pub mod commands;
pub mod desk;
pub mod entropy;
pub mod generate;
pub mod heavy;
pub mod lease;
pub mod ledger;
pub mod pipeline;
pub mod plan;
pub mod pools;
pub mod public;
pub mod records;
pub mod results;
pub mod schedule;
pub mod scheduled;
pub mod service;
pub mod stamp;
pub mod standing;
pub mod store;
pub mod substitution;
pub mod verify;
