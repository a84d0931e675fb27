//! The public face of the draws (一公开): reading the published bundles,
//! searching them, rendering the public web pages and the downloads.
//!
//! Pure library code, no HTTP: the service maps its routes onto these
//! functions. Everything here reads only the `public/` copy of a bundle, so
//! risk classes and the recusal list cannot reach a public page.
//!
//! - [`publications`]: the folder of bundles, each draw's public manifest and rows;
//! - [`current`]: a draw's rows with the teams as they stand after any
//!   substitutions: the one list every view below reads its teams from;
//! - [`search`]: "was this business drawn?" over every published draw (and,
//!   for a whole credit code, its standing in each: [`crate::standing`]);
//! - [`catalogue`]: the draws as read, kept in memory while their files are
//!   unchanged, so a request does not read a whole list again;
//! - [`pages`]: the HTML pages;
//! - [`exports`]: the Excel list and the zip of the public bundle;
//! - [`assets`]: the verifiers, specification and golden vectors served as static files.

pub mod assets;
pub mod catalogue;
pub mod current;
pub mod exports;
pub mod pages;
pub mod publications;
pub mod search;

pub use catalogue::{Catalogue, Shown, Stamp};
pub use current::{Change, CurrentList, CurrentRow};
pub use exports::{assignments_xlsx, bundle_zip, current_csv, ExportError};
pub use pages::{
    draw_page, escape, index_page, not_found_page, search_page, verify_page, AnnouncementView, ItemCounts, LedgerHead,
};
pub use publications::{Broken, Fingerprint, PublicRow, Publications, PublishedDraw};
pub use search::{DrawIndex, DrawStanding, Found, Hit, SearchIndex, SEARCH_LIMIT};

/// Hand-made published draws for the unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::PublishedDraw;
    use crate::bundle::Manifest;

    /// A public draw named `name` of plan `PLAN-{name}`, created at `created_at`.
    pub fn draw_named(name: &str, created_at: &str) -> PublishedDraw {
        let hash = "0".repeat(64);
        let manifest = serde_json::json!({
            "format": "shuangsui-bundle/1",
            "algorithm_version": 1,
            "visibility": "public",
            "plan": {
                "id": format!("PLAN-{name}"),
                "name": "测试计划",
                "sha256": hash,
                "content": {
                    "id": format!("PLAN-{name}"),
                    "name": "测试计划",
                    "department": "测试局",
                    "inspection_date": "2026-03-02",
                    "items": ["PLAN-ITEM"],
                    "targets": {"townships": [], "entity_types": [], "industries": []},
                    "quota": {"count": 5},
                    "exclude_inspected_within_days": 0,
                    "team_size": 2,
                    "workload_cap": 10,
                    "recusal": {"declared": true, "same_township": true, "previous_inspector": false}
                }
            },
            "seed": {"hex": "1".repeat(64), "source": {"kind": "ceremony", "text": "1234 5678 9012 3456 7890", "digits": "12345678901234567890"}},
            "snapshot": {"departments": hash, "items": hash, "inspectors": hash, "targets": hash, "conflicts": hash},
            "snapshot_combined": hash,
            "history_sha256": hash,
            "history_sources": [],
            "selection_sha256": hash,
            "result_sha256": hash,
            "counts": {"visits": 3, "item_checks": 3, "officers": 2},
            "files": [],
            "created_at": created_at,
            "generator": "shuangsui test"
        });
        PublishedDraw {
            name: name.to_owned(),
            dir: std::path::PathBuf::from(name),
            manifest: serde_json::from_value::<Manifest>(manifest).expect("a valid manifest"),
            unannounced: false,
            ceremony_place: None,
        }
    }
}
