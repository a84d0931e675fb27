//! The 一单两库 read from disk: a folder of CSV files or one `.xlsx`
//! workbook, loaded all-or-nothing into the records of
//! [`shuangsui_core::pools`], which this module re-exports so that
//! `shuangsui::pools::Pools` and the rest keep their paths.

mod declare;
mod load;
mod targets;
mod workbook;
mod xlsx;

pub use shuangsui_core::pools::*;

pub use declare::{declare_conflict, DeclareError, Declared};
pub use load::{is_workbook, load, load_path, load_without_conflicts, LoadOptions};
pub use workbook::{write_templates, write_workbook, TEMPLATE_XLSX};
