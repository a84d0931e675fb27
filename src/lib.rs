//! shuangsui (双随): verifiable 双随机、一公开 random inspection draws.
//!
//! The library holds all the logic; `src/main.rs` only parses the command line.

pub mod bundle;
pub mod commands;
pub mod draw;
pub mod generate;
pub mod history;
pub mod ids;
pub mod plan;
pub mod pools;
pub mod random;
pub mod seed;
pub mod snapshot;
pub mod verify;
