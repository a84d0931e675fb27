//! Reading one CSV file of the 一单两库: decoding, header mapping, and the
//! problems found, each pinned to file, line and field.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// How the bytes of a file are to be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8, otherwise GB18030 (a superset of
    /// GBK, which is what Chinese office software exports).
    #[default]
    Detect,
    Utf8,
    Gbk,
}

/// An encoding name that is none of those [`Encoding`] knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {0:?}: use utf-8, gbk or detect")]
pub struct UnknownEncoding(pub String);

impl std::str::FromStr for Encoding {
    type Err = UnknownEncoding;
    fn from_str(s: &str) -> Result<Self, UnknownEncoding> {
        match s.to_ascii_lowercase().as_str() {
            "detect" | "auto" => Ok(Encoding::Detect),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb18030" | "gb2312" => Ok(Encoding::Gbk),
            _ => Err(UnknownEncoding(s.to_owned())),
        }
    }
}

/// One thing wrong with the input, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    /// 1-based line of the record; 0 when the problem is the file as a whole.
    pub line: u64,
    pub field: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(field) = self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found in a load, of which at most `CAP` are kept.
#[derive(Debug, Default)]
pub struct Problems {
    pub kept: Vec<Problem>,
    pub total: usize,
}

impl Problems {
    pub const CAP: usize = 100;

    pub fn push(&mut self, problem: Problem) {
        self.total += 1;
        if self.kept.len() < Self::CAP {
            self.kept.push(problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn extend(&mut self, other: Problems) {
        self.total += other.total;
        let room = Self::CAP - self.kept.len().min(Self::CAP);
        self.kept.extend(other.kept.into_iter().take(room));
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.kept {
            writeln!(f, "{problem}")?;
        }
        if self.total > self.kept.len() {
            writeln!(f, "… and {} more problems", self.total - self.kept.len())?;
        }
        Ok(())
    }
}

/// A column the loader needs, by its English and Chinese header names.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub english: &'static str,
    pub chinese: &'static str,
}

/// U+FEFF, the byte-order mark, in UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a file's bytes are not text in the encoding it was read in; shown
/// after the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("line {line}: invalid UTF-8 at byte {at} (declare --encoding gbk if the file is GBK)")]
    Utf8 { line: usize, at: usize },
    #[error("is neither valid UTF-8 nor valid GBK/GB18030 text")]
    Neither,
}

/// Decodes a whole file; a BOM, if any, decides the encoding and is removed.
/// A GB18030 file may begin with U+FEFF too, and it is removed the same way.
pub fn decode<'a>(bytes: &'a [u8], encoding: Encoding) -> Result<Cow<'a, str>, DecodeError> {
    if let Some(rest) = bytes.strip_prefix(BOM) {
        return std::str::from_utf8(rest)
            .map(Cow::Borrowed)
            .map_err(|e| utf8_error(rest, e));
    }
    let utf8 = std::str::from_utf8(bytes);
    match (encoding, utf8) {
        (Encoding::Utf8, Err(e)) => Err(utf8_error(bytes, e)),
        (Encoding::Utf8 | Encoding::Detect, Ok(text)) => Ok(Cow::Borrowed(text)),
        (Encoding::Detect | Encoding::Gbk, _) => {
            let gb = encoding_rs::GB18030;
            let text = gb
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or(DecodeError::Neither)?;
            Ok(match text {
                Cow::Owned(text) if text.starts_with('\u{FEFF}') => {
                    Cow::Owned(text['\u{FEFF}'.len_utf8()..].to_owned())
                }
                text => text,
            })
        }
    }
}

/// Why a U+FEFF after a file's first character is refused (spec §1):
/// anywhere else it is what joining BOM-carrying files leaves behind.
pub const STRAY_BOM: &str =
    "holds U+FEFF (a byte-order mark), which only a file's first character may be: were files joined together? Remove it";

fn utf8_error(bytes: &[u8], error: std::str::Utf8Error) -> DecodeError {
    let at = error.valid_up_to();
    let line = 1 + memchr::memchr_iter(b'\n', &bytes[..at]).count();
    DecodeError::Utf8 { line, at }
}

/// Where each needed column sits in a file, read from its header row.
#[derive(Debug, Clone)]
pub struct Header {
    pub file: String,
    indexes: Vec<usize>,
    width: usize,
}

/// A CSV table: a header and the text of its data rows.
pub struct Table<'a> {
    pub header: &'a Header,
    /// The data rows (no header row), starting at line `first_line`. Bytes,
    /// not text: UTF-8 is checked row by row as the rows are read, once.
    body: &'a [u8],
    first_line: u64,
}

/// One data row: the needed fields in the order the columns were asked for.
pub struct Row<'r> {
    pub line: u64,
    record: Fields<'r>,
    indexes: &'r [usize],
}

impl<'r> Row<'r> {
    pub fn get(&self, column: usize) -> &'r str {
        trim(self.record.get(self.indexes[column]).unwrap_or(""))
    }
}

/// The fields of one record, each known to be UTF-8.
///
/// Checking UTF-8 field by field was a sixth of the work of loading a target
/// directory of Chinese names; a whole table checked at once with SIMD costs
/// next to nothing. So a record read from a table that passed that check is
/// kept as bytes, and only a record of a table that failed it is checked
/// field by field, which finds and names the bad line as before.
#[derive(Clone, Copy)]
struct Fields<'r>(FieldsOf<'r>);

#[derive(Clone, Copy)]
enum FieldsOf<'r> {
    Checked(&'r csv::StringRecord),
    /// Only built in [`Table::rows`] from a body that is valid UTF-8 as a
    /// whole: the CSV reader makes each field of input bytes by leaving out
    /// delimiters, quotes and line ends, all ASCII, so every field of a
    /// valid body is itself whole UTF-8 characters.
    InValidBody(&'r csv::ByteRecord),
    /// The fields of a line of plain text (see [`Table::rows`]), cut at
    /// its commas.
    Split(&'r [&'r str]),
}

impl<'r> Fields<'r> {
    fn get(self, i: usize) -> Option<&'r str> {
        match self.0 {
            FieldsOf::Checked(record) => record.get(i),
            FieldsOf::InValidBody(record) => record.get(i).map(|bytes| {
                debug_assert!(std::str::from_utf8(bytes).is_ok());
                // SAFETY: see `FieldsOf::InValidBody`: the body this record
                // was read from is valid UTF-8, and a field of it is a run of
                // its characters with only ASCII characters left out.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }),
            FieldsOf::Split(fields) => fields.get(i).copied(),
        }
    }

    fn len(self) -> usize {
        match self.0 {
            FieldsOf::Checked(record) => record.len(),
            FieldsOf::InValidBody(record) => record.len(),
            FieldsOf::Split(fields) => fields.len(),
        }
    }

    /// The record's bytes with its delimiters left out (as the CSV reader
    /// keeps them); only records of the CSV reader are asked.
    fn bytes(self) -> Option<&'r [u8]> {
        match self.0 {
            FieldsOf::Checked(record) => Some(record.as_byte_record().as_slice()),
            FieldsOf::InValidBody(record) => Some(record.as_slice()),
            FieldsOf::Split(_) => None,
        }
    }
}

/// `str::trim` (Unicode White_Space at both ends), with a shortcut for the
/// usual field: every White_Space character's UTF-8 begins with one of the
/// bytes below and ends with one of the bytes checked at the end, so most
/// fields can be passed through without decoding a character.
fn trim(field: &str) -> &str {
    let bytes = field.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return field;
    };
    let may_start_space = matches!(first, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3);
    let may_end_space = matches!(last, b'\t'..=b'\r' | b' ' | 0x80..=0x8A | 0x9F | 0xA0 | 0xA8 | 0xA9 | 0xAF);
    if may_start_space || may_end_space {
        field.trim()
    } else {
        field
    }
}

/// The length of the first record of `text` (through its line end), honouring
/// quotes: a line end inside a quoted field does not end the record.
pub fn first_record_len(text: &[u8]) -> usize {
    let mut quoted = false;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return i + 1,
            _ => {}
        }
    }
    text.len()
}

impl Header {
    /// Maps the header row of `text` onto `columns` and returns the mapping
    /// with the length of the header row; a missing column is a problem.
    pub fn read(file: &str, text: &str, columns: &[Column], problems: &mut Problems) -> Option<(Header, usize)> {
        let header_len = first_record_len(text.as_bytes());
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&text.as_bytes()[..header_len]);
        let mut header = csv::StringRecord::new();
        match reader.read_record(&mut header) {
            // The file's own BOM is gone by now: this one would be dropped
            // by the CSV reader unseen.
            Ok(true) if text.starts_with('\u{FEFF}') || header.as_slice().contains('\u{FEFF}') => {
                problems.push(Problem {
                    file: file.into(),
                    line: 1,
                    field: None,
                    message: STRAY_BOM.into(),
                });
                return None;
            }
            Ok(true) => {}
            Ok(false) => {
                problems.push(Problem {
                    file: file.into(),
                    line: 0,
                    field: None,
                    message: "is empty: no header row".into(),
                });
                return None;
            }
            Err(e) => {
                problems.push(Problem {
                    file: file.into(),
                    line: 1,
                    field: None,
                    message: format!("unreadable header: {e}"),
                });
                return None;
            }
        }
        let names: Vec<&str> = header.iter().collect();
        let header = Header::from_names(file, 1, &names, columns, problems)?;
        Some((header, header_len))
    }

    /// Maps the header cells `names` (found on line `line`) onto `columns`;
    /// a missing column is a problem. Shared by CSV files and worksheets, so
    /// both find columns by the same names.
    pub fn from_names(
        file: &str,
        line: u64,
        names: &[&str],
        columns: &[Column],
        problems: &mut Problems,
    ) -> Option<Header> {
        let names: Vec<&str> = names.iter().map(|n| n.trim()).collect();
        let mut indexes = Vec::with_capacity(columns.len());
        let mut missing = false;
        for column in columns {
            match names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(column.english) || *n == column.chinese)
            {
                Some(i) => indexes.push(i),
                None => {
                    missing = true;
                    problems.push(Problem {
                        file: file.into(),
                        line,
                        field: Some(column.english),
                        message: format!("missing column (header {} or {})", column.chinese, column.english),
                    });
                }
            }
        }
        (!missing).then(|| Header {
            file: file.into(),
            indexes,
            width: names.len(),
        })
    }

    /// Where each needed column sits among the header cells, in the order the
    /// columns were asked for.
    pub fn positions(&self) -> &[usize] {
        &self.indexes
    }

    /// A header for records that hold just the needed fields, in column order
    /// (as a worksheet row is turned into a record), with the same file name.
    pub fn fields_only(&self) -> Header {
        Header {
            file: self.file.clone(),
            indexes: (0..self.indexes.len()).collect(),
            width: self.indexes.len(),
        }
    }

    /// The row at `line` held in `record`, read through this header.
    pub fn row<'r>(&'r self, line: u64, record: &'r csv::StringRecord) -> Row<'r> {
        self.row_of(line, Fields(FieldsOf::Checked(record)))
    }

    fn row_of<'r>(&'r self, line: u64, record: Fields<'r>) -> Row<'r> {
        Row {
            line,
            record,
            indexes: &self.indexes,
        }
    }

    pub fn problem(&self, problems: &mut Problems, line: u64, field: Option<&'static str>, message: String) {
        problems.push(Problem {
            file: self.file.clone(),
            line,
            field,
            message,
        });
    }
}

impl<'a> Table<'a> {
    pub fn new(header: &'a Header, body: &'a [u8], first_line: u64) -> Self {
        Table {
            header,
            body,
            first_line,
        }
    }

    /// Calls `each` for every data row, reporting malformed CSV and short rows.
    pub fn rows(&self, problems: &mut Problems, each: impl FnMut(Row<'_>, &mut Problems)) {
        // Nearly every exported file is plain text: valid UTF-8 without a
        // quote or a byte-order mark. Its records are its lines cut at the
        // commas, which a scan for line ends and commas finds at a fraction
        // of the CSV reader's cost; anything else is left to the reader.
        match simdutf8::basic::from_utf8(self.body) {
            Ok(text) if memchr::memchr(b'"', self.body).is_none() && memchr::memmem::find(self.body, BOM).is_none() => {
                self.plain_rows(text, problems, each)
            }
            valid => self.csv_rows(valid.is_ok(), problems, each),
        }
    }

    /// [`Table::rows`] of a body that is valid UTF-8 and holds neither a
    /// quote nor a U+FEFF: the same rows, lines and problems the CSV reader
    /// gives it. Without quotes a record is a line, ended by LF, CR or CRLF;
    /// the reader skips the empty lines between records; and its fields are
    /// the text between commas, kept as it is.
    fn plain_rows(&self, text: &str, problems: &mut Problems, mut each: impl FnMut(Row<'_>, &mut Problems)) {
        let body = text.as_bytes();
        let mut fields: Vec<&str> = Vec::with_capacity(self.header.width + 1);
        // Counted here, once, as the line ends are passed.
        let mut line = self.first_line;
        let mut pos = 0;
        while pos < body.len() {
            match body[pos] {
                b'\n' => {
                    line += 1;
                    pos += 1;
                    continue;
                }
                b'\r' => {
                    pos += 1;
                    continue;
                }
                _ => {}
            }
            let end = memchr::memchr2(b'\n', b'\r', &body[pos..]).map_or(body.len(), |i| pos + i);
            fields.clear();
            // Commas and line ends are ASCII, so every cut is at a character
            // boundary of the valid text.
            let mut from = pos;
            for comma in memchr::memchr_iter(b',', &body[pos..end]) {
                fields.push(&text[from..pos + comma]);
                from = pos + comma + 1;
            }
            fields.push(&text[from..end]);
            pos = end;
            if fields.len() == 1 && fields[0].trim().is_empty() {
                continue; // a blank line, as spreadsheets leave at the end
            }
            if fields.len() < self.header.width {
                let message = format!("has {} fields, the header has {}", fields.len(), self.header.width);
                self.problem(problems, line, None, message);
                continue;
            }
            each(self.header.row_of(line, Fields(FieldsOf::Split(&fields))), problems);
        }
    }

    /// [`Table::rows`] by the CSV reader: quoted fields, invalid UTF-8, and
    /// U+FEFF anywhere.
    fn csv_rows(&self, valid: bool, problems: &mut Problems, mut each: impl FnMut(Row<'_>, &mut Problems)) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(self.body);
        // Valid as a whole, the body's records need no check of their own
        // (see `Fields`); otherwise each is checked as it is read, so the
        // problem names the line.
        let (mut checked, mut unchecked) = (csv::StringRecord::new(), csv::ByteRecord::new());
        // Lines are counted here from byte offsets: the CSV reader counts the
        // line end of a CRLF record only once it reads the next record, which
        // would give each record of a CRLF file the line before its own. A
        // record starts at the first byte from its position on that ends no
        // line (the reader skips empty lines).
        let body = self.body;
        let mut counted = (0usize, self.first_line);
        let mut line_of = |position: &csv::Position| {
            let mut start = (position.byte() as usize).min(body.len());
            while start < body.len() && matches!(body[start], b'\r' | b'\n') {
                start += 1;
            }
            let (from, line) = counted;
            if start > from {
                counted = (
                    start,
                    line + memchr::memchr_iter(b'\n', &body[from..start]).count() as u64,
                );
            }
            counted.1
        };
        // The CSV reader drops a U+FEFF that begins its input, and the body
        // may begin anywhere in a file that is parsed in pieces: so it is
        // looked for here, and in the fields of every record, the same way
        // wherever the pieces were cut. A valid body without one anywhere
        // spares the search record by record (in a valid body a field's
        // U+FEFF lies in the body whole; in an invalid one, bytes around a
        // quote can join into one).
        let mut dropped_bom = self.body.starts_with(BOM);
        let any_bom = !valid || memchr::memmem::find(self.body, BOM).is_some();
        loop {
            let line = line_of(reader.position());
            let first = std::mem::take(&mut dropped_bom);
            let read = match valid {
                true => reader.read_byte_record(&mut unchecked),
                false => reader.read_record(&mut checked),
            };
            match read {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let message = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => {
                            "invalid UTF-8 (declare --encoding gbk if the file is GBK)".to_owned()
                        }
                        _ => format!("malformed CSV: {e}"),
                    };
                    self.problem(problems, line, None, message);
                    // A CSV error leaves the reader past the bad record; going on
                    // finds the problems after it too.
                    continue;
                }
            }
            let (record, position) = match valid {
                true => (Fields(FieldsOf::InValidBody(&unchecked)), unchecked.position()),
                false => (Fields(FieldsOf::Checked(&checked)), checked.position()),
            };
            let line = position.map_or(line, &mut line_of);
            if first
                || (any_bom
                    && record
                        .bytes()
                        .is_some_and(|bytes| memchr::memmem::find(bytes, BOM).is_some()))
            {
                self.problem(problems, line, None, STRAY_BOM.into());
                continue;
            }
            if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
                continue; // a blank line, as spreadsheets leave at the end
            }
            if record.len() < self.header.width {
                let message = format!("has {} fields, the header has {}", record.len(), self.header.width);
                self.problem(problems, line, None, message);
                continue;
            }
            each(self.header.row_of(line, record), problems);
        }
    }

    pub fn problem(&self, problems: &mut Problems, line: u64, field: Option<&'static str>, message: String) {
        self.header.problem(problems, line, field, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trim_shortcut_agrees_with_str_trim() {
        let spaces: Vec<char> = (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        let samples = [
            "盘州市",
            "a",
            "",
            "计量",
            "ＡＢ",
            "x\u{85}",
            "\u{a0}y",
            "z\u{2029}",
            "\u{3000}名",
        ];
        for sample in samples {
            assert_eq!(trim(sample), sample.trim(), "{sample:?}");
            for &space in &spaces {
                for text in [format!("{space}{sample}"), format!("{sample}{space}")] {
                    assert_eq!(trim(&text), text.trim(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn utf8_with_bom_and_gbk_decode_to_the_same_text() {
        let text = "名称,代码\n盘州市红果小吃店,1\n";
        let (gbk, _, bad) = encoding_rs::GBK.encode(text);
        assert!(!bad);
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&with_bom, Encoding::Detect).unwrap(), text);
        assert_eq!(decode(&gbk, Encoding::Detect).unwrap(), text);
        assert_eq!(decode(&gbk, Encoding::Gbk).unwrap(), text);
    }

    #[test]
    fn records_are_numbered_by_the_line_they_start_on_whatever_the_line_ends() {
        let mut problems = Problems::default();
        let column = Column {
            english: "a",
            chinese: "甲",
        };
        let header = Header::from_names("f.csv", 1, &["a", "b"], &[column], &mut problems).unwrap();
        for body in ["x,1\ny,\"2\n3\"\n\nz,4\n", "x,1\r\ny,\"2\r\n3\"\r\n\r\nz,4\r\n"] {
            let mut lines = Vec::new();
            Table::new(&header, body.as_bytes(), 2).rows(&mut problems, |row, _| lines.push(row.line));
            assert_eq!(lines, [2, 3, 6], "{body:?}");
        }
        assert!(problems.is_empty());
    }

    #[test]
    fn a_u_feff_after_the_first_character_is_refused_wherever_the_body_begins() {
        let mut problems = Problems::default();
        let column = Column {
            english: "a",
            chinese: "甲",
        };
        let header = Header::from_names("f.csv", 1, &["a"], &[column], &mut problems).unwrap();
        let body = "\u{FEFF}x\ny\nz\u{FEFF}\n";
        let mut rows = Vec::new();
        Table::new(&header, body.as_bytes(), 2).rows(&mut problems, |row, _| rows.push(row.get(0).to_owned()));
        assert_eq!(rows, ["y"]);
        let lines: Vec<u64> = problems.kept.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4]);
        assert!(problems.kept.iter().all(|p| p.message == STRAY_BOM));
        assert!(decode("\u{FEFF}\u{FEFF}a".as_bytes(), Encoding::Detect)
            .unwrap()
            .starts_with('\u{FEFF}'));
    }

    /// Every row of `body` as its fields, and the problems as `line: message`.
    fn read_all(header: &Header, body: &[u8]) -> (Vec<(u64, Vec<String>)>, Vec<String>) {
        let mut problems = Problems::default();
        let mut rows = Vec::new();
        Table::new(header, body, 2).rows(&mut problems, |row, _| {
            rows.push((
                row.line,
                (0..header.indexes.len()).map(|i| row.get(i).to_owned()).collect(),
            ));
        });
        let found = problems
            .kept
            .iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect();
        (rows, found)
    }

    fn two_columns() -> Header {
        let columns = [
            Column {
                english: "a",
                chinese: "甲",
            },
            Column {
                english: "b",
                chinese: "乙",
            },
        ];
        Header::from_names("f.csv", 1, &["a", "b"], &columns, &mut Problems::default()).unwrap()
    }

    proptest::proptest! {
        /// A body read without a check per field (valid as a whole) gives
        /// the same rows as the checked reading of the same records beside
        /// one bad line: the bad line costs only itself.
        #[test]
        fn rows_read_unchecked_equal_rows_read_checked(
            records in proptest::collection::vec(("[a-z名称\\\",\n\r \u{3000}]{0,6}", "[盘州\\\"x,]{0,4}"), 1..12),
            bad in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let header = two_columns();
            let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
            for (a, b) in &records {
                writer.write_record([a, b]).unwrap();
            }
            let valid = writer.into_inner().unwrap();
            let (rows, problems) = read_all(&header, &valid);
            proptest::prop_assert!(problems.iter().all(|p| !p.contains("UTF-8")), "{problems:?}");
            // The same records, one of them with an invalid byte after it on
            // a line of its own, read the checked way.
            let at = bad.index(records.len());
            let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
            let mut lines = Vec::new();
            for (i, (a, b)) in records.iter().enumerate() {
                writer.write_record([a, b]).unwrap();
                if i == at {
                    writer.flush().unwrap();
                    lines.push(writer.get_ref().iter().filter(|&&b| b == b'\n').count() as u64 + 2);
                    writer.write_record([b"\xff".as_slice(), b"x"]).unwrap();
                }
            }
            let invalid = writer.into_inner().unwrap();
            let (checked_rows, checked_problems) = read_all(&header, &invalid);
            let expected: Vec<String> = lines
                .iter()
                .map(|line| format!("{line}: invalid UTF-8 (declare --encoding gbk if the file is GBK)"))
                .collect();
            proptest::prop_assert_eq!(checked_problems, expected);
            let unshift = |(line, fields): &(u64, Vec<String>)| (line - u64::from(*line > lines[0]), fields.clone());
            let checked_rows: Vec<_> = checked_rows.iter().map(unshift).collect();
            proptest::prop_assert_eq!(rows, checked_rows);
        }
    }

    /// Every row of `body` and the problems, as [`read_all`], read by the
    /// CSV reader whatever the body.
    fn read_all_by_csv(header: &Header, body: &[u8]) -> (Vec<(u64, Vec<String>)>, Vec<String>) {
        let mut problems = Problems::default();
        let mut rows = Vec::new();
        let valid = simdutf8::basic::from_utf8(body).is_ok();
        Table::new(header, body, 2).csv_rows(valid, &mut problems, |row, _| {
            rows.push((
                row.line,
                (0..header.indexes.len()).map(|i| row.get(i).to_owned()).collect(),
            ));
        });
        let found = problems
            .kept
            .iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect();
        (rows, found)
    }

    /// Bytes of hostile CSV text: mostly plain (so the scan for plain text
    /// is what reads it), with quotes, bare CRs, U+FEFF and invalid bytes
    /// now and then.
    fn hostile_body(plain: bool) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let common = prop_oneof![
            8 => Just(b"a".to_vec()),
            4 => Just("盘州".as_bytes().to_vec()),
            8 => Just(b",".to_vec()),
            4 => Just(b"\n".to_vec()),
            2 => Just(b"\r\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            2 => Just(b" ".to_vec()),
            1 => Just("\u{3000}".as_bytes().to_vec()),
            1 => Just(b"\t".to_vec()),
        ];
        let rare = prop_oneof![
            Just(b"\"".to_vec()),
            Just("\u{FEFF}".as_bytes().to_vec()),
            Just(b"\xff".to_vec()),
            Just(b"\xe7\x9b".to_vec()),
        ];
        let token = if plain {
            common.boxed()
        } else {
            prop_oneof![20 => common, 1 => rare].boxed()
        };
        proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    proptest::proptest! {
        /// Plain text read by the scan gives exactly the rows, lines and
        /// problems the CSV reader gives it: fields split and trimmed alike,
        /// blank lines skipped alike, short rows refused alike, whatever the
        /// line ends; and text the scan must not read (quotes, U+FEFF,
        /// invalid UTF-8) is still read as the CSV reader reads it.
        #[test]
        fn plain_text_is_read_as_the_csv_reader_reads_it(
            body in hostile_body(true),
            other in hostile_body(false),
            width in 1usize..4,
        ) {
            let names: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let columns: Vec<Column> = [("c0", "甲"), ("c1", "乙"), ("c2", "丙")]
                .iter()
                .take(width)
                .map(|&(english, chinese)| Column { english, chinese })
                .collect();
            let header = Header::from_names("f.csv", 1, &names, &columns, &mut Problems::default()).unwrap();
            for body in [&body, &other] {
                proptest::prop_assert_eq!(read_all(&header, body), read_all_by_csv(&header, body));
            }
        }
    }

    #[test]
    fn plain_lines_keep_their_numbers_fields_and_problems() {
        let header = two_columns();
        let body = "x, 1 \r\n\r\n  \ny,,\rz\n\n名,2";
        let (rows, problems) = read_all(&header, body.as_bytes());
        let expected = vec![
            (2, vec!["x".to_owned(), "1".to_owned()]),
            (5, vec!["y".to_owned(), "".to_owned()]),
            (7, vec!["名".to_owned(), "2".to_owned()]),
        ];
        assert_eq!(rows, expected);
        assert_eq!(problems, ["5: has 1 fields, the header has 2"]);
        assert_eq!(read_all_by_csv(&header, body.as_bytes()), (rows, problems));
    }

    #[test]
    fn a_valid_body_reads_quoted_fields_and_finds_a_stray_byte_order_mark() {
        let header = two_columns();
        let body = "\"盘州,\"\"红果\"\"\",\u{3000}x\u{3000}\n名,\"a\u{FEFF}\"\nb,c\r\n";
        let (rows, problems) = read_all(&header, body.as_bytes());
        let expected = vec![
            (2, vec!["盘州,\"红果\"".to_owned(), "x".to_owned()]),
            (4, vec!["b".to_owned(), "c".to_owned()]),
        ];
        assert_eq!(rows, expected);
        assert_eq!(problems, [format!("3: {STRAY_BOM}")]);
    }

    #[test]
    fn decoding_and_encoding_names_fail_with_the_messages_printed() {
        let error = decode(b"ok\n\xff", Encoding::Utf8).unwrap_err();
        assert_eq!(error, DecodeError::Utf8 { line: 2, at: 3 });
        assert_eq!(
            error.to_string(),
            "line 2: invalid UTF-8 at byte 3 (declare --encoding gbk if the file is GBK)"
        );
        let error = decode(b"\x81", Encoding::Detect).unwrap_err();
        assert_eq!(error.to_string(), "is neither valid UTF-8 nor valid GBK/GB18030 text");
        let error = "latin1".parse::<Encoding>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown encoding \"latin1\": use utf-8, gbk or detect"
        );
    }

    #[test]
    fn invalid_bytes_are_refused_not_replaced() {
        assert!(decode(b"ok\n\xff\xfe\xff", Encoding::Detect).is_err());
        let err = decode("a\n名\n".as_bytes(), Encoding::Utf8).map(|_| ());
        assert!(err.is_ok());
        let (gbk, _, _) = encoding_rs::GBK.encode("a\n名\n");
        assert!(decode(&gbk, Encoding::Utf8).unwrap_err().to_string().contains("line 2"));
    }
}
