//! The static files every public page may link to, carried in the binary
//! (`include_bytes!` at build time) so a service serves exactly the verifier,
//! specification and golden vectors it was built with: the browser verifier
//! of the draw pages (`static/verify/`), `tools/verify.py`,
//! `docs/ALGORITHM.md` and a zip of `tests/vectors/`.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// One file served under `/static/`.
pub struct Asset {
    pub content_type: &'static str,
    /// Served as a download under this name, or shown in the browser.
    pub download: Option<&'static str>,
    pub bytes: &'static [u8],
}

/// The verifier, loaded by the draw pages.
pub const VERIFY_JS: &str = "/static/verify/shuangsui-verify.js";
/// The draw page's button.
pub const PAGE_JS: &str = "/static/verify/page.js";
pub const VERIFY_PY: &str = "/static/verify.py";
pub const ALGORITHM_MD: &str = "/static/ALGORITHM.md";
pub const VECTORS_ZIP: &str = "/static/golden-vectors.zip";

const JS: &str = "text/javascript; charset=utf-8";

/// The asset at `path` (without the `/static/` prefix), if there is one.
pub fn asset(path: &str) -> Option<Asset> {
    let (content_type, download, bytes): (&str, Option<&str>, &'static [u8]) = match path {
        "verify/shuangsui-verify.js" => (JS, None, include_bytes!("../../static/verify/shuangsui-verify.js")),
        "verify/page.js" => (JS, None, include_bytes!("../../static/verify/page.js")),
        "verify.py" => (
            "text/x-python; charset=utf-8",
            Some("verify.py"),
            include_bytes!("../../tools/verify.py"),
        ),
        "ALGORITHM.md" => (
            "text/markdown; charset=utf-8",
            Some("ALGORITHM.md"),
            include_bytes!("../../docs/ALGORITHM.md"),
        ),
        "golden-vectors.zip" => ("application/zip", Some("golden-vectors.zip"), vectors_zip()),
        _ => return None,
    };
    Some(Asset {
        content_type,
        download,
        bytes,
    })
}

/// `tests/vectors/` as the specification's §10 names it, one path per file.
const VECTORS: &[(&str, &[u8])] = &[
    (
        "vectors/generated/assignments.csv",
        include_bytes!("../../tests/vectors/generated/assignments.csv"),
    ),
    (
        "vectors/generated/expected.json",
        include_bytes!("../../tests/vectors/generated/expected.json"),
    ),
    (
        "vectors/generated/history.csv",
        include_bytes!("../../tests/vectors/generated/history.csv"),
    ),
    (
        "vectors/generated/plan.json",
        include_bytes!("../../tests/vectors/generated/plan.json"),
    ),
    (
        "vectors/generated/plan.toml",
        include_bytes!("../../tests/vectors/generated/plan.toml"),
    ),
    (
        "vectors/generated/pool/conflicts.csv",
        include_bytes!("../../tests/vectors/generated/pool/conflicts.csv"),
    ),
    (
        "vectors/generated/pool/departments.csv",
        include_bytes!("../../tests/vectors/generated/pool/departments.csv"),
    ),
    (
        "vectors/generated/pool/inspectors.csv",
        include_bytes!("../../tests/vectors/generated/pool/inspectors.csv"),
    ),
    (
        "vectors/generated/pool/items.csv",
        include_bytes!("../../tests/vectors/generated/pool/items.csv"),
    ),
    (
        "vectors/generated/pool/targets.csv",
        include_bytes!("../../tests/vectors/generated/pool/targets.csv"),
    ),
    (
        "vectors/generated/seed.txt",
        include_bytes!("../../tests/vectors/generated/seed.txt"),
    ),
    (
        "vectors/joint/assignments.csv",
        include_bytes!("../../tests/vectors/joint/assignments.csv"),
    ),
    (
        "vectors/joint/expected.json",
        include_bytes!("../../tests/vectors/joint/expected.json"),
    ),
    (
        "vectors/joint/history.csv",
        include_bytes!("../../tests/vectors/joint/history.csv"),
    ),
    (
        "vectors/joint/plan.json",
        include_bytes!("../../tests/vectors/joint/plan.json"),
    ),
    (
        "vectors/joint/plan.toml",
        include_bytes!("../../tests/vectors/joint/plan.toml"),
    ),
    (
        "vectors/joint/pool/conflicts.csv",
        include_bytes!("../../tests/vectors/joint/pool/conflicts.csv"),
    ),
    (
        "vectors/joint/pool/departments.csv",
        include_bytes!("../../tests/vectors/joint/pool/departments.csv"),
    ),
    (
        "vectors/joint/pool/inspectors.csv",
        include_bytes!("../../tests/vectors/joint/pool/inspectors.csv"),
    ),
    (
        "vectors/joint/pool/items.csv",
        include_bytes!("../../tests/vectors/joint/pool/items.csv"),
    ),
    (
        "vectors/joint/pool/targets.csv",
        include_bytes!("../../tests/vectors/joint/pool/targets.csv"),
    ),
    (
        "vectors/joint/seed.txt",
        include_bytes!("../../tests/vectors/joint/seed.txt"),
    ),
    (
        "vectors/joint/substitutions.json",
        include_bytes!("../../tests/vectors/joint/substitutions.json"),
    ),
    (
        "vectors/merge/assignments.csv",
        include_bytes!("../../tests/vectors/merge/assignments.csv"),
    ),
    (
        "vectors/merge/expected.json",
        include_bytes!("../../tests/vectors/merge/expected.json"),
    ),
    (
        "vectors/merge/history.csv",
        include_bytes!("../../tests/vectors/merge/history.csv"),
    ),
    (
        "vectors/merge/merge.csv",
        include_bytes!("../../tests/vectors/merge/merge.csv"),
    ),
    (
        "vectors/merge/plan.json",
        include_bytes!("../../tests/vectors/merge/plan.json"),
    ),
    (
        "vectors/merge/plan.toml",
        include_bytes!("../../tests/vectors/merge/plan.toml"),
    ),
    (
        "vectors/merge/pool/conflicts.csv",
        include_bytes!("../../tests/vectors/merge/pool/conflicts.csv"),
    ),
    (
        "vectors/merge/pool/departments.csv",
        include_bytes!("../../tests/vectors/merge/pool/departments.csv"),
    ),
    (
        "vectors/merge/pool/inspectors.csv",
        include_bytes!("../../tests/vectors/merge/pool/inspectors.csv"),
    ),
    (
        "vectors/merge/pool/items.csv",
        include_bytes!("../../tests/vectors/merge/pool/items.csv"),
    ),
    (
        "vectors/merge/pool/targets.csv",
        include_bytes!("../../tests/vectors/merge/pool/targets.csv"),
    ),
    (
        "vectors/merge/seed.txt",
        include_bytes!("../../tests/vectors/merge/seed.txt"),
    ),
    (
        "vectors/merge/substitutions.json",
        include_bytes!("../../tests/vectors/merge/substitutions.json"),
    ),
    (
        "vectors/streams.json",
        include_bytes!("../../tests/vectors/streams.json"),
    ),
    (
        "vectors/tiny/assignments.csv",
        include_bytes!("../../tests/vectors/tiny/assignments.csv"),
    ),
    (
        "vectors/tiny/expected.json",
        include_bytes!("../../tests/vectors/tiny/expected.json"),
    ),
    (
        "vectors/tiny/history.csv",
        include_bytes!("../../tests/vectors/tiny/history.csv"),
    ),
    (
        "vectors/tiny/plan.json",
        include_bytes!("../../tests/vectors/tiny/plan.json"),
    ),
    (
        "vectors/tiny/plan.toml",
        include_bytes!("../../tests/vectors/tiny/plan.toml"),
    ),
    (
        "vectors/tiny/pool/conflicts.csv",
        include_bytes!("../../tests/vectors/tiny/pool/conflicts.csv"),
    ),
    (
        "vectors/tiny/pool/departments.csv",
        include_bytes!("../../tests/vectors/tiny/pool/departments.csv"),
    ),
    (
        "vectors/tiny/pool/inspectors.csv",
        include_bytes!("../../tests/vectors/tiny/pool/inspectors.csv"),
    ),
    (
        "vectors/tiny/pool/items.csv",
        include_bytes!("../../tests/vectors/tiny/pool/items.csv"),
    ),
    (
        "vectors/tiny/pool/targets.csv",
        include_bytes!("../../tests/vectors/tiny/pool/targets.csv"),
    ),
    (
        "vectors/tiny/seed.txt",
        include_bytes!("../../tests/vectors/tiny/seed.txt"),
    ),
    (
        "vectors/tiny/substitutions.json",
        include_bytes!("../../tests/vectors/tiny/substitutions.json"),
    ),
];

/// The golden vectors zipped once, with fixed times, so every build of the
/// same sources serves the same bytes.
fn vectors_zip() -> &'static [u8] {
    static ZIP: OnceLock<Vec<u8>> = OnceLock::new();
    ZIP.get_or_init(|| {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in VECTORS {
            // Writing into memory fails only on a bug in the zip writer.
            zip.start_file(*name, options).expect("zip entry in memory");
            zip.write_all(bytes).expect("zip write in memory");
        }
        zip.finish().expect("zip in memory").into_inner()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_linked_asset_is_served() {
        for path in [VERIFY_JS, PAGE_JS, VERIFY_PY, ALGORITHM_MD, VECTORS_ZIP] {
            let asset = asset(path.strip_prefix("/static/").unwrap()).unwrap_or_else(|| panic!("{path} missing"));
            assert!(!asset.bytes.is_empty(), "{path} is empty");
        }
        assert!(asset("../Cargo.toml").is_none());
    }

    #[test]
    fn the_vectors_zip_holds_every_vector_file() {
        let bytes = asset("golden-vectors.zip").unwrap().bytes;
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(zip.len(), VECTORS.len());
        let mut expected = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("vectors/tiny/expected.json").unwrap(), &mut expected).unwrap();
        assert!(expected.contains("result_sha256"));
    }
}
