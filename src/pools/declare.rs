//! Adding a newly declared conflict (新申报回避) to the live recusal list,
//! so that later draws exclude the pair. The file keeps its encoding, line
//! ends and column order: only a row is appended, written to a temporary
//! file and renamed into place, so a reader sees the old list or the new one.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::rows::columns_of;
use super::table::{DecodeError, Problems};
use super::{load, LoadOptions};
use crate::ids::{CertNo, CreditCode};

/// What became of a declared conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Added,
    /// The pair was on the list already.
    AlreadyListed,
}

/// Why a declared conflict could not be added; the list is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeclareError {
    #[error("the live pools are the workbook {}; add the pair to its conflicts sheet", .0.display())]
    Workbook(PathBuf),
    #[error("the live pool folder has problems:\n{0}")]
    Pools(Problems),
    #[error("{cert} or {code} is no longer in the live directories; the conflict cannot be listed")]
    NotListed { cert: CertNo, code: CreditCode },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("conflicts.csv {0}")]
    Decode(DecodeError),
    #[error("conflicts.csv has no header row")]
    NoHeader,
    #[error("conflicts.csv has no {0} column")]
    NoColumn(&'static str),
    #[error("the relation cannot be written in the file's GB18030 encoding")]
    Unencodable,
}

/// Appends (cert, code, relation) to `dir/conflicts.csv`. The live pool
/// folder must load cleanly before and after; on any error it is unchanged.
pub fn declare_conflict(
    dir: &Path,
    cert: &CertNo,
    code: &CreditCode,
    relation: &str,
) -> Result<Declared, DeclareError> {
    if super::is_workbook(dir) {
        return Err(DeclareError::Workbook(dir.to_owned()));
    }
    let pools = load(dir, LoadOptions::default()).map_err(DeclareError::Pools)?;
    if pools.conflicts.iter().any(|c| c.cert == *cert && c.code == *code) {
        return Ok(Declared::AlreadyListed);
    }
    if pools.inspector_index(cert).is_none() || pools.target_index(code).is_none() {
        return Err(DeclareError::NotListed {
            cert: cert.clone(),
            code: *code,
        });
    }
    let path = dir.join("conflicts.csv");
    let io = |source| DeclareError::Io {
        path: path.clone(),
        source,
    };
    let bytes = std::fs::read(&path).map_err(io)?;
    let utf8 = bytes.starts_with(b"\xEF\xBB\xBF") || std::str::from_utf8(&bytes).is_ok();
    let text = super::table::decode(&bytes, super::Encoding::Detect).map_err(DeclareError::Decode)?;
    let header: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|h| h.trim().to_owned()).collect())
        .ok_or(DeclareError::NoHeader)?;
    let mut row = vec![String::new(); header.len()];
    let values = [cert.as_str(), code.as_str(), relation.trim()];
    for (column, value) in columns_of("conflicts").iter().zip(values) {
        let at = header
            .iter()
            .position(|h| h == column.chinese || h.eq_ignore_ascii_case(column.english))
            .ok_or(DeclareError::NoColumn(column.chinese))?;
        row[at] = value.to_owned();
    }
    let crlf = text.contains("\r\n");
    let mut writer = csv::WriterBuilder::new()
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    writer.write_record(&row).expect("in-memory write");
    let line = String::from_utf8(writer.into_inner().expect("in-memory write")).expect("UTF-8 fields");
    let mut out = bytes.clone();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    if utf8 {
        out.extend_from_slice(line.as_bytes());
    } else {
        let (encoded, _, unmappable) = encoding_rs::GB18030.encode(&line);
        if unmappable {
            return Err(DeclareError::Unencodable);
        }
        out.extend_from_slice(&encoded);
    }
    let temp = dir.join(format!(".conflicts.csv.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&temp)
        .and_then(|mut f| f.write_all(&out).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&temp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(Declared::Added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(dir: &Path) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/tiny/pool");
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }

    #[test]
    fn appends_in_the_files_own_encoding_and_loads() {
        let root = tempfile::tempdir().unwrap();
        tiny(root.path());
        // Make the list GBK with CRLF and its columns reordered.
        let path = root.path().join("conflicts.csv");
        let text = "回避关系,统一社会信用代码,执法证号\r\n近亲属,92520281100000001D,52028101\r\n";
        std::fs::write(&path, encoding_rs::GBK.encode(text).0).unwrap();
        let cert = CertNo::parse("52028104").unwrap();
        let code = CreditCode::parse("9152028110000000AC").unwrap();
        assert_eq!(
            declare_conflict(root.path(), &cert, &code, "曾任职").unwrap(),
            Declared::Added
        );
        assert_eq!(
            declare_conflict(root.path(), &cert, &code, "曾任职").unwrap(),
            Declared::AlreadyListed
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(std::str::from_utf8(&bytes).is_err(), "the file stays GBK");
        let (decoded, _) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
        assert!(decoded.ends_with("曾任职,9152028110000000AC,52028104\r\n"), "{decoded}");
        let pools = load(root.path(), LoadOptions::default()).unwrap();
        assert_eq!(pools.conflicts.len(), 2);
    }

    #[test]
    fn an_unknown_officer_changes_nothing() {
        let root = tempfile::tempdir().unwrap();
        tiny(root.path());
        let before = std::fs::read(root.path().join("conflicts.csv")).unwrap();
        let cert = CertNo::parse("52029999").unwrap();
        let code = CreditCode::parse("9152028110000000AC").unwrap();
        let error = declare_conflict(root.path(), &cert, &code, "").unwrap_err();
        assert!(matches!(error, DeclareError::NotListed { .. }));
        assert_eq!(
            error.to_string(),
            "52029999 or 9152028110000000AC is no longer in the live directories; the conflict cannot be listed"
        );
        assert_eq!(before, std::fs::read(root.path().join("conflicts.csv")).unwrap());
        let workbook = root.path().join("pools.xlsx");
        let error = declare_conflict(&workbook, &cert, &code, "").unwrap_err();
        let expected = format!(
            "the live pools are the workbook {}; add the pair to its conflicts sheet",
            workbook.display()
        );
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn a_pool_folder_with_problems_is_named_with_them() {
        let root = tempfile::tempdir().unwrap();
        tiny(root.path());
        std::fs::remove_file(root.path().join("targets.csv")).unwrap();
        let cert = CertNo::parse("52028104").unwrap();
        let code = CreditCode::parse("9152028110000000AC").unwrap();
        let error = declare_conflict(root.path(), &cert, &code, "").unwrap_err().to_string();
        let missing = root.path().join("targets.csv");
        let expected = format!(
            "the live pool folder has problems:\ntargets.csv: cannot read {}: ",
            missing.display()
        );
        assert!(error.starts_with(&expected), "{error}");
    }
}
