//! shuangsui (双随): verifiable 双随机、一公开 random inspection draws.
//!
//! The library holds all the logic; `src/main.rs` only parses the command line.

pub mod ids;
