//! The 一单两库 read from disk: a folder of CSV files or one `.xlsx`
//! workbook, handed as bytes or cells to the parsing of
//! [`shuangsui_core::pools`], which this module re-exports so that
//! `shuangsui::pools::Pools` and the rest keep their paths. Only finding and
//! opening the files, and reading a workbook's cells, are done here.

mod declare;
mod folder;
mod workbook;
mod xlsx;

pub use shuangsui_core::pools::*;

pub use declare::{declare_conflict, DeclareError, Declared};
pub use folder::{check, check_path, is_workbook, load, load_path, load_without_conflicts};
pub use workbook::{write_templates, write_workbook, TEMPLATE_XLSX};
pub use xlsx::load_workbook_bytes;
