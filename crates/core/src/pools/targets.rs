//! Parsing the target directory (检查对象名录库): nearly all of a pool's bytes,
//! ninety thousand rows for a county and tens of millions nationally.
//!
//! The bytes come from any [`std::io::Read`] (the root crate hands it the
//! open file; a test, a slice) and are taken in pieces cut at record
//! boundaries, which are parsed on all cores; so memory holds a few pieces of
//! text at a time rather than the whole file, and the snapshot hash is
//! computed from the parsed values after sorting, without keeping a hash per
//! record.

use std::io::Read;
use std::ops::Range;

use rayon::prelude::*;

use super::load::LoadOptions;
use super::table::{first_record_len, Column, Encoding, Header, Problem, Problems, Row, Table, BOM};
use super::{Labels, NameRef, PoolRecords, RiskClass, Target};
use crate::ids::CreditCode;
use crate::snapshot::{record_hash_with, Hash32, ListHasher};

/// The target directory's file in a pool folder.
pub const FILE: &str = "targets.csv";

/// The columns of the target directory.
pub const COLUMNS: [Column; 6] = [
    Column {
        english: "credit_code",
        chinese: "统一社会信用代码",
    },
    Column {
        english: "name",
        chinese: "名称",
    },
    Column {
        english: "entity_type",
        chinese: "主体类型",
    },
    Column {
        english: "industry",
        chinese: "行业",
    },
    Column {
        english: "township",
        chinese: "所属区域",
    },
    Column {
        english: "risk_class",
        chinese: "信用风险分类",
    },
];

/// How much of a file decides its encoding when it is not declared: enough
/// to hold many rows of Chinese names, which GBK bytes almost never pass as
/// UTF-8.
const DETECT_BYTES: usize = 1 << 20;

/// Files smaller than this are read whole, in one batch.
const WHOLE_BYTES: usize = 64 << 20;

/// The largest piece of text parsed on one core at a time.
const PIECE_BYTES: usize = 512 << 10;

/// How much of a larger file is read and parsed at a time.
const BATCH_BYTES: usize = 16 << 20;

/// Why the target directory cannot be read at all; a problem of the file as
/// a whole.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error(transparent)]
    Read(std::io::Error),
    #[error("line {line}: invalid GBK/GB18030 bytes")]
    Gbk { line: u64 },
    #[error("line 1: invalid UTF-8 in the header")]
    HeaderUtf8,
}

/// The parsed, sorted target directory.
pub struct TargetDirectory {
    pub targets: Vec<Target>,
    pub names: String,
    pub entity_types: Labels,
    pub industries: Labels,
    pub townships: Labels,
}

/// One piece's worth of parsed rows, with labels local to the piece.
#[derive(Default)]
struct Piece {
    targets: Vec<Target>,
    /// The piece's target names; `Target::name` points into it until merged.
    names: String,
    labels: [Labels; 3],
    problems: Problems,
}

/// Sorts the targets read from `file` and reports duplicate codes. The
/// directory is hashed later, from the checked pool ([`directory_hash`]).
pub fn finish(mut loading: Loading, file: &str, problems: &mut Problems) -> TargetDirectory {
    let records = &mut loading.records;
    // Sorting by line as well keeps duplicate reports in file order.
    records.par_sort_unstable_by(|a, b| a.code.cmp(&b.code).then(a.line.cmp(&b.line)));
    for pair in records.windows(2) {
        let (first, second) = (&pair[0], &pair[1]);
        if first.code == second.code {
            problems.push(Problem {
                file: file.into(),
                line: second.line as u64,
                field: Some(COLUMNS[0].english),
                message: format!("duplicate id {}, first on line {}", second.code, first.line),
            });
        }
    }
    let [entity_types, industries, townships] = loading.labels;
    TargetDirectory {
        targets: loading.records,
        names: loading.names,
        entity_types,
        industries,
        townships,
    }
}

/// How many sorted records are hashed on the cores while the list hash takes
/// in the window before: small enough that the hashes in flight stay a few
/// megabytes, large enough that both cores stay busy.
const HASH_WINDOW: usize = 1 << 16;

/// How many names are fetched from memory together before their records are
/// hashed. In code order the names lie anywhere in the name text (hundreds
/// of megabytes nationally), and fetched one per record each waits for its
/// own cache and TLB miss; sixteen fetched in a row wait for theirs at once.
const NAME_GROUP: usize = 16;

/// The snapshot hash of the sorted directory. Each record's fields are read
/// back from the parsed target (its code, its name in the name text, its
/// labels), which are exactly the trimmed values the row held: so no hash per
/// record is kept through the sort, which for ten million targets would be
/// 320 MB.
pub fn directory_hash(pools: &PoolRecords) -> Hash32 {
    let (entity_types, industries, townships) = (&pools.entity_types, &pools.industries, &pools.townships);
    let names = pools.target_names.as_bytes();
    let hash_of = |buffer: &mut Vec<u8>, target: &Target| {
        record_hash_with(
            buffer,
            &[
                target.code.as_str(),
                pools.target_name(target),
                entity_types.name(target.entity_type),
                industries.name(target.industry),
                townships.name(target.township),
                target.risk.as_str(),
            ],
        )
    };
    let hash_chunk = |buffer: &mut Vec<u8>, (out, targets): (&mut [[u8; 32]], &[Target])| {
        for (out, group) in out.chunks_mut(NAME_GROUP).zip(targets.chunks(NAME_GROUP)) {
            // The first and last byte of each name: independent loads, so
            // their misses overlap. The sum only keeps them from being dropped.
            let touched = group.iter().fold(0u8, |sum, target| {
                let range = target.name.range();
                let first = names.get(range.start).copied().unwrap_or(0);
                let last = names.get(range.end.saturating_sub(1)).copied().unwrap_or(0);
                sum ^ first ^ last
            });
            std::hint::black_box(touched);
            for (slot, target) in out.iter_mut().zip(group) {
                *slot = hash_of(buffer, target).0;
            }
        }
    };
    let mut list = ListHasher::new("shuangsui/v1/snapshot/targets", pools.targets.len());
    let (mut ready, mut next) = (Vec::new(), Vec::new());
    for window in pools.targets.chunks(HASH_WINDOW) {
        rayon::join(
            || {
                next.clear();
                next.resize(window.len(), [0; 32]);
                let chunk = NAME_GROUP * 64;
                next.par_chunks_mut(chunk)
                    .zip(window.par_chunks(chunk))
                    .for_each_init(Vec::new, hash_chunk);
            },
            || list.push_all(&ready),
        );
        std::mem::swap(&mut ready, &mut next);
    }
    list.push_all(&ready);
    list.finish()
}

/// Targets parsed so far, in file order, with their labels.
#[derive(Default)]
pub struct Loading {
    records: Vec<Target>,
    names: String,
    labels: [Labels; 3],
}

impl Loading {
    /// Parses rows that are already split into records (the rows of a
    /// worksheet), on all cores, and adds them in order.
    pub fn add_records(&mut self, records: &[(u64, csv::StringRecord)], header: &Header, problems: &mut Problems) {
        let threads = rayon::current_num_threads().max(1);
        let chunk = records.len().div_ceil(threads * 4).max(1024);
        let pieces: Vec<Piece> = records
            .par_chunks(chunk)
            .map(|rows| {
                let mut piece = Piece::default();
                let mut found = Problems::default();
                for (line, record) in rows {
                    piece.push(&header.row(*line, record), header, &mut found);
                }
                piece.problems = found;
                piece
            })
            .collect();
        for mut piece in pieces {
            merge(self, &mut piece, &header.file, problems);
        }
    }
}

impl Loading {
    /// Reads the CSV text of a target directory from `reader` (`size` bytes
    /// long, or about: it only sizes the pieces) and parses it, adding the
    /// rows in file order. Problems of the text are reported as problems of
    /// [`FILE`]; an error of the reader itself is returned, after which the
    /// rows read before it are kept.
    pub fn read_csv(
        &mut self,
        reader: impl Read + Send,
        size: usize,
        options: LoadOptions,
        problems: &mut Problems,
    ) -> std::io::Result<()> {
        match stream(reader, size, options, self, problems) {
            Ok(()) => Ok(()),
            Err(StreamError::Read(error)) => Err(error),
            Err(error) => {
                problems.push(Problem {
                    file: FILE.into(),
                    line: 0,
                    field: None,
                    message: error.to_string(),
                });
                Ok(())
            }
        }
    }
}

/// Reads the text piece by piece and parses each batch of pieces in parallel.
fn stream(
    mut file: impl Read + Send,
    size: usize,
    options: LoadOptions,
    loading: &mut Loading,
    problems: &mut Problems,
) -> Result<(), StreamError> {
    let cannot = StreamError::Read;
    let threads = rayon::current_num_threads().max(1);
    // Pieces of a few hundred kilobytes: a core that is done takes the next
    // piece of the batch, and with many small pieces no core waits long for
    // the last one. (Pieces of 4 MB, four to a batch, left the cores idle
    // for a tenth of a national load.) Their buffers are kept and reused.
    let piece = options
        .piece_bytes
        .unwrap_or((size / (threads * 4)).clamp(256 << 10, PIECE_BYTES))
        .max(1);
    // A county file is read whole, in one batch (one read, one buffer); a
    // national one in batches of many pieces, each batch's bytes memory
    // the kernel must zero once.
    let batch = match options.piece_bytes {
        None if size < WHOLE_BYTES => size + 1,
        None => BATCH_BYTES.max(piece * threads),
        Some(_) => piece * threads * 2,
    };
    // A guess at the row count from typical row sizes; capacity that is
    // never written costs no memory.
    loading.records.reserve(size / 48);

    let mut buffer = Vec::with_capacity(batch.max(DETECT_BYTES) + piece);
    let mut eof = fill(&mut file, &mut buffer, batch.max(DETECT_BYTES)).map_err(cannot)?;
    let mut start = 0;
    if buffer.starts_with(BOM) {
        start = BOM.len();
    }
    let utf8 = match options.encoding {
        _ if start > 0 => true,
        Encoding::Utf8 => true,
        Encoding::Gbk => false,
        Encoding::Detect => {
            let head = &buffer[..buffer.len().min(DETECT_BYTES)];
            std::str::from_utf8(head).is_ok_or_truncated()
        }
    };
    // The names are substrings of the text (GB18030 grows by half at most
    // as UTF-8): reserved whole, they are never moved while growing, and
    // the capacity no name reaches is never touched, so costs no memory.
    loading.names.reserve(if utf8 { size } else { size + size / 2 });

    let header_len = first_record_len(&buffer[start..]);
    let header_bytes = decode(&buffer[start..start + header_len], utf8, 1)?;
    let header_text = std::str::from_utf8(&header_bytes).map_err(|_| StreamError::HeaderUtf8)?;
    // A GB18030 file may begin with U+FEFF as well (spec §1); a UTF-8 BOM
    // was skipped above, so a U+FEFF left here in UTF-8 is a second one.
    let header_text = match utf8 {
        true => header_text,
        false => header_text.strip_prefix('\u{FEFF}').unwrap_or(header_text),
    };
    let Some((header, _)) = Header::read(FILE, header_text, &COLUMNS, problems) else {
        return Ok(());
    };
    start += header_len;
    let mut next_line = 2u64;
    let mut parsed: Vec<Piece> = Vec::new();
    // Pieces already merged, kept for their buffers: parsing into memory
    // already faulted in is much cheaper than into fresh pages.
    let mut free: Vec<Piece> = Vec::new();
    // Two buffers in turn: the next batch is read into the spare one while
    // this one is parsed, so the pages are faulted in once, not every batch.
    let mut spare: Vec<u8> = Vec::new();
    loop {
        let pieces = split(&buffer[start..], piece, eof);
        let consumed = pieces.last().map_or(0, |(range, _)| range.end);
        let mut first_lines = Vec::with_capacity(pieces.len());
        for (_, newlines) in &pieces {
            first_lines.push(next_line);
            next_line += *newlines as u64;
        }
        // Parse this batch on the pool while this thread merges the last one
        // and reads the next, so the cores never wait for the disk or the merge.
        let body = &buffer[start..];
        let mut slots = std::mem::take(&mut free);
        slots.resize_with(pieces.len(), Piece::default);
        let (batch_parsed, next) = rayon::join(
            || {
                slots
                    .par_iter_mut()
                    .zip(pieces.par_iter())
                    .zip(first_lines.par_iter())
                    .for_each(|((slot, (range, rows)), &line)| {
                        parse_piece(slot, &body[range.clone()], *rows, line, utf8, &header)
                    });
                slots
            },
            || -> std::io::Result<Option<(Vec<u8>, bool)>> {
                parsed
                    .iter_mut()
                    .for_each(|piece| merge(loading, piece, FILE, problems));
                if eof {
                    return Ok(None);
                }
                let mut next = std::mem::take(&mut spare);
                next.clear();
                next.reserve(batch + piece);
                next.extend_from_slice(&body[consumed..]);
                let eof = fill(&mut file, &mut next, batch)?;
                Ok(Some((next, eof)))
            },
        );
        free = std::mem::replace(&mut parsed, batch_parsed);
        match next.map_err(cannot)? {
            Some((next, next_eof)) => {
                spare = std::mem::replace(&mut buffer, next);
                start = 0;
                eof = next_eof;
            }
            None => {
                parsed
                    .iter_mut()
                    .for_each(|piece| merge(loading, piece, FILE, problems));
                return Ok(());
            }
        }
    }
}

trait Utf8Prefix {
    fn is_ok_or_truncated(&self) -> bool;
}

impl Utf8Prefix for Result<&str, std::str::Utf8Error> {
    /// Valid UTF-8, allowing a character cut off by the end of the sample.
    fn is_ok_or_truncated(&self) -> bool {
        match self {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
    }
}

/// Appends up to `want` more bytes; returns whether the file has ended.
fn fill(file: &mut impl Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let before = buffer.len();
    file.take(want as u64).read_to_end(buffer)?;
    Ok(buffer.len() - before < want)
}

/// Cuts `bytes` into pieces of about `size` bytes, each ending at a record
/// boundary (a line end outside quotes), with the line ends each holds. The
/// last partial record is left for the next read unless the file has ended.
fn split(bytes: &[u8], size: usize, eof: bool) -> Vec<(Range<usize>, usize)> {
    // memchr's counting is vectorised; a byte-by-byte filter here was a
    // tenth of the load of a national file.
    let count = |range: &[u8], byte: u8| memchr::memchr_iter(byte, range).count();
    let mut pieces = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let aim = pos + size;
        let end = if aim >= bytes.len() {
            None
        } else {
            // Every piece starts outside quotes, so the parity of the quotes
            // before `aim` says whether `aim` is inside a quoted field.
            let mut quoted = count(&bytes[pos..aim], b'"') % 2 == 1;
            bytes[aim..]
                .iter()
                .position(|&b| {
                    if b == b'"' {
                        quoted = !quoted;
                    }
                    b == b'\n' && !quoted
                })
                .map(|i| aim + i + 1)
        };
        let end = match end {
            Some(end) => end,
            None if eof => bytes.len(),
            None => {
                // The rest may be cut mid-record: end at the last boundary.
                match last_boundary(&bytes[pos..]) {
                    Some(len) => pos + len,
                    None => break,
                }
            }
        };
        pieces.push((pos..end, count(&bytes[pos..end], b'\n')));
        pos = end;
    }
    pieces
}

/// The length of the longest prefix that ends at a record boundary.
fn last_boundary(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut last = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => last = Some(i + 1),
            _ => {}
        }
    }
    last
}

/// Decodes a piece to UTF-8 bytes. UTF-8 pieces pass through unchecked here:
/// the CSV reader checks each row as it reads it, and names the line.
fn decode(bytes: &[u8], utf8: bool, first_line: u64) -> Result<std::borrow::Cow<'_, [u8]>, StreamError> {
    let line_at = |at: usize| first_line + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    if utf8 {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut text = String::with_capacity(bytes.len() * 3 / 2 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok(std::borrow::Cow::Owned(text.into_bytes())),
        encoding_rs::DecoderResult::Malformed(..) => Err(StreamError::Gbk { line: line_at(read) }),
        encoding_rs::DecoderResult::OutputFull => unreachable!("the output was sized for the worst case"),
    }
}

/// Parses the piece `bytes` of about `rows` records, from line
/// `first_line` on, into `piece`, which is empty (and may keep the buffers
/// of an earlier piece).
fn parse_piece(piece: &mut Piece, bytes: &[u8], rows: usize, first_line: u64, utf8: bool, header: &Header) {
    let text = match decode(bytes, utf8, first_line) {
        Ok(text) => text,
        Err(error) => {
            piece.problems.push(Problem {
                file: FILE.into(),
                line: 0,
                field: None,
                message: error.to_string(),
            });
            return;
        }
    };
    // Sized once from the text, so neither moves while it grows: a piece's
    // names are shorter than its text, and it has a record per line or fewer.
    piece.targets.reserve(rows + 1);
    piece.names.reserve(text.len());
    let table = Table::new(header, &text, first_line);
    // The rows' problems are kept apart while rows are added to the piece.
    let mut found = Problems::default();
    table.rows(&mut found, |row, problems| piece.push(&row, header, problems));
    piece.problems = found;
}

impl Piece {
    /// Empties the piece, keeping its buffers.
    fn clear(&mut self) {
        self.targets.clear();
        self.names.clear();
        self.labels = Default::default();
        self.problems = Problems::default();
    }

    /// Checks one row of the target directory and adds it; or reports why
    /// it is bad. The same for CSV lines and sheet rows.
    fn push(&mut self, row: &Row<'_>, header: &Header, problems: &mut Problems) {
        let c = &COLUMNS;
        let before = problems.total;
        let code = CreditCode::parse(row.get(0))
            .map_err(|e| header.problem(problems, row.line, Some(c[0].english), e.to_string()));
        for (i, column) in c.iter().enumerate().take(5).skip(1) {
            if row.get(i).is_empty() {
                header.problem(
                    problems,
                    row.line,
                    Some(column.english),
                    format!("{} is empty", column.chinese),
                );
            }
        }
        let risk = RiskClass::parse(row.get(5));
        if risk.is_none() {
            header.problem(
                problems,
                row.line,
                Some(c[5].english),
                format!("{:?} is not A, B, C or D", row.get(5)),
            );
        }
        let (Ok(code), Some(risk), true) = (code, risk, problems.total == before) else {
            return;
        };
        let labels = &mut self.labels;
        let mut intern = |k: usize, text: &str| match labels[k].intern(text) {
            Some(label) => label,
            None => {
                let message = format!("more than {} distinct values in this column", u16::MAX);
                header.problem(problems, row.line, Some(c[2 + k].english), message);
                0
            }
        };
        let (entity_type, industry, township) = (intern(0, row.get(2)), intern(1, row.get(3)), intern(2, row.get(4)));
        let line = u32::try_from(row.line).unwrap_or(u32::MAX);
        // The name is kept exactly as the record hash takes it (trimmed),
        // and the labels likewise: `directory_hash` reads them back.
        let text = row.get(1);
        // Piece-local offsets, rebased in `merge`; a piece is at most 16 MiB.
        let name = NameRef {
            start: self.names.len() as u32,
            len: text.len() as u32,
        };
        self.names.push_str(text);
        self.targets.push(Target {
            code,
            name,
            entity_type,
            industry,
            township,
            risk,
            line,
        });
    }
}

/// Moves a piece's targets into the directory, renumbering its labels, and
/// leaves the piece empty with its buffers.
fn merge(loading: &mut Loading, piece: &mut Piece, file: &str, problems: &mut Problems) {
    let [entity_types, industries, townships] = &piece.labels;
    let mut remap = |local: &Labels, global: &mut Labels, column: usize| -> Vec<u16> {
        let mut full = false;
        let map = (0..local.len()).map(|l| {
            global.intern(local.name(l as u16)).unwrap_or_else(|| {
                full = true;
                0
            })
        });
        let map = map.collect();
        if full {
            let message = format!("more than {} distinct values in this column", u16::MAX);
            problems.push(Problem {
                file: file.into(),
                line: 0,
                field: Some(COLUMNS[column].english),
                message,
            });
        }
        map
    };
    let [global_entity_types, global_industries, global_townships] = &mut loading.labels;
    let entity_map = remap(entity_types, global_entity_types, 2);
    let industry_map = remap(industries, global_industries, 3);
    let township_map = remap(townships, global_townships, 4);
    if u32::try_from(loading.names.len() + piece.names.len()).is_err() {
        let message = "the target names exceed 4 GiB of text".to_owned();
        problems.push(Problem {
            file: file.into(),
            line: 0,
            field: Some(COLUMNS[1].english),
            message,
        });
        piece.clear();
        return;
    }
    let base = loading.names.len() as u32;
    loading.names.push_str(&piece.names);
    loading.records.extend(piece.targets.drain(..).map(|mut target| {
        target.name.start += base;
        target.entity_type = entity_map[target.entity_type as usize];
        target.industry = industry_map[target.industry as usize];
        target.township = township_map[target.township as usize];
        target
    }));
    problems.extend(std::mem::take(&mut piece.problems));
    piece.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_record_boundaries_even_inside_quotes() {
        let text = b"a,\"x\ny\",1\nb,2\nc,\"q\"\"\n\",3\nd,4\n";
        for size in 1..text.len() + 2 {
            let pieces = split(text, size, true);
            let mut joined = Vec::new();
            for (range, newlines) in &pieces {
                let piece = &text[range.clone()];
                assert_eq!(*newlines, piece.iter().filter(|&&b| b == b'\n').count());
                assert!(piece.ends_with(b"\n"));
                // No piece may split a record: each parses to whole rows.
                let quotes = piece.iter().filter(|&&b| b == b'"').count();
                assert_eq!(quotes % 2, 0, "size {size}: {:?}", String::from_utf8_lossy(piece));
                joined.extend_from_slice(piece);
            }
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn text_that_cannot_be_decoded_is_one_problem_with_its_message() {
        let header = COLUMNS.map(|c| c.english).join(",");
        let bytes = [header.as_bytes(), b"\n\x81\x30\n\xff\n"].concat();
        let mut problems = Problems::default();
        let options = LoadOptions {
            encoding: Encoding::Gbk,
            ..LoadOptions::default()
        };
        let mut loading = Loading::default();
        loading
            .read_csv(&bytes[..], bytes.len(), options, &mut problems)
            .unwrap();
        let messages: Vec<String> = problems.kept.iter().map(|p| p.to_string()).collect();
        assert_eq!(messages, ["targets.csv: line 2: invalid GBK/GB18030 bytes"]);
    }

    #[test]
    fn an_unfinished_stream_keeps_its_partial_record() {
        let pieces = split(b"a,1\nb,\"2\n", 2, false);
        assert_eq!(pieces.last().unwrap().0.end, 4);
    }
}
