//! shuangsui-core: the part of shuangsui that decides, with no way to reach
//! the outside.
//!
//! Everything an independent party needs to redo a draw lives here: ids,
//! seeds (and the offline check of a drand round), the specified random
//! streams, canonical snapshot encodings, the 一单两库 records and the
//! parsing of their text, plans, the target and team draw with its
//! eligibility rules, the earlier inspections and visits a draw takes into
//! account, and the bundle's files as text. Each is a function of values
//! already in memory.
//!
//! What the core may not do, and why it is a crate of its own: it opens no
//! file or folder, touches no network or database, runs on no async
//! runtime, and logs nothing. Cargo enforces it: no async runtime, database,
//! HTTP or logging crate is a dependency here, not even a transitive one, and
//! `tests/boundary.rs` fails if one is, or if the source names the standard
//! library's file system, network or process modules. The root crate
//! `shuangsui` reads the files, runs the service and re-exports these modules
//! under their old paths.
//!
//! One allowance, without I/O in the sense above: rayon parallelises the
//! draw (and parsing) over threads. The operating system's entropy, which
//! the ad-hoc draws marked as not announced in advance need, is asked for by
//! the root crate (`shuangsui::entropy`) and handed in as bytes.

pub mod beacon;
pub mod bundle;
pub mod draw;
pub mod history;
pub mod ids;
pub mod merge;
pub mod plan;
pub mod pools;
pub mod random;
pub mod seed;
pub mod snapshot;
pub mod tlog;
