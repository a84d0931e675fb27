//! The audit bundle's format (`docs/ALGORITHM.md` §8): its files as text,
//! written and read from strings (`format`), a draw's bundle contents made
//! from its inputs and outcome (`assemble`), and the outcome a bundle lists
//! put back on its pools (`listed`). Putting a bundle on disk, atomically,
//! and reading one back is the root crate's `shuangsui::bundle`.

pub mod assemble;
pub mod format;
pub mod listed;
