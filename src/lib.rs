//! shuangsui (双随): verifiable 双随机、一公开 random inspection draws.
//!
//! The library holds all the logic; `src/main.rs` only parses the command line.

pub mod beacon;
pub mod bundle;
pub mod calendar;
pub mod clock;
pub mod commands;
pub mod desk;
pub mod draw;
pub mod generate;
pub mod history;
pub mod ids;
pub mod ledger;
pub mod merge;
pub mod pipeline;
pub mod plan;
pub mod pools;
pub mod public;
pub mod random;
pub mod results;
pub mod schedule;
pub mod scheduled;
pub mod seed;
pub mod service;
pub mod snapshot;
pub mod substitution;
pub mod verify;
