//! Plans read from their files. What a plan is, how its TOML is checked and
//! how it is carried into a bundle is [`shuangsui_core::plan`], re-exported
//! here so that `shuangsui::plan::Plan` keeps its path; this module only adds
//! the file read, which the core may not do.

use std::path::Path;

pub use shuangsui_core::plan::*;

/// Reading a plan from its TOML file: `Plan::load(path)` with this trait in scope.
pub trait PlanFile: Sized {
    /// Reads and checks the plan at `path`, naming the file in every error.
    fn load(path: &Path) -> Result<Self, PlanError>;
}

impl PlanFile for Plan {
    fn load(path: &Path) -> Result<Plan, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Plan::parse_toml(&text, &path.display().to_string())
    }
}
