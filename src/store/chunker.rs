//! The blocking half of the store: a file's bytes, fed in pieces, cut into
//! content-defined chunks, each hashed and compressed, with no database.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use fastcdc::v2020::{cut, select_masks, Normalization};
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use sha2::{Digest, Sha256};

use super::{Codec, StoreError, AVG_CHUNK, MAX_CHUNK, MIN_CHUNK, ZSTD_LEVEL};
use crate::snapshot::Hash32;

/// One chunk ready for `store_chunks`: named, measured and compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedChunk {
    /// SHA-256 of the raw bytes.
    pub hash: Hash32,
    pub raw_len: usize,
    pub codec: Codec,
    /// The bytes as stored: compressed when `codec` is [`Codec::Zstd`].
    pub data: Vec<u8>,
}

/// A file as the store names it: its content's SHA-256, its length and its
/// chunks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub hash: Hash32,
    pub len: u64,
    pub chunks: Vec<Hash32>,
}

/// Cuts a file fed in pieces into chunks and hands each to `sink` as soon as
/// it is final. The boundaries depend only on the content, never on how it
/// was split into pieces: a chunk is cut only once at least [`MAX_CHUNK`]
/// bytes follow its start (or the file has ended), which is all FastCDC ever
/// looks at, so the result equals chunking the whole file at once.
pub struct FileWriter<S> {
    /// Bytes received but not yet in a chunk: under [`MAX_CHUNK`] between
    /// calls.
    pending: Vec<u8>,
    hasher: Sha256,
    len: u64,
    chunks: Vec<Hash32>,
    mask_s: u64,
    mask_l: u64,
    sink: S,
    /// Chunks believed stored already, which are named but not compressed.
    known: Option<Arc<KnownChunks>>,
}

/// The chunks of content stored before: announcing the pools again after a
/// one-line change cuts the same chunks but a few, and compressing them
/// again is most of the CPU time of storing. A chunk is only believed
/// stored: if it is not, it is stored raw, which reads back the same.
pub type KnownChunks = FxHashSet<Hash32>;

impl<S: FnMut(PreparedChunk) -> Result<(), StoreError>> FileWriter<S> {
    pub fn new(sink: S) -> Self {
        let (mask_s, mask_l) = select_masks(AVG_CHUNK, Normalization::Level1);
        FileWriter {
            pending: Vec::with_capacity(MAX_CHUNK * 2),
            hasher: Sha256::new(),
            len: 0,
            chunks: Vec::new(),
            mask_s,
            mask_l,
            sink,
            known: None,
        }
    }

    /// A writer that leaves the chunks in `known` uncompressed.
    pub fn knowing(sink: S, known: Arc<KnownChunks>) -> Self {
        FileWriter {
            known: Some(known),
            ..FileWriter::new(sink)
        }
    }

    /// Takes the next piece of the file.
    pub fn write(&mut self, piece: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(piece);
        self.len += piece.len() as u64;
        self.pending.extend_from_slice(piece);
        self.emit(false)
    }

    /// Cuts what remains and returns the file's name and chunk list.
    pub fn finish(mut self) -> Result<StoredFile, StoreError> {
        self.emit(true)?;
        Ok(StoredFile {
            hash: Hash32(self.hasher.finalize().into()),
            len: self.len,
            chunks: self.chunks,
        })
    }

    fn emit(&mut self, at_end: bool) -> Result<(), StoreError> {
        let mut cuts: Vec<Range<usize>> = Vec::new();
        let mut start = 0;
        while self.pending.len() - start >= MAX_CHUNK || (at_end && start < self.pending.len()) {
            let (_, length) = cut(
                &self.pending[start..],
                MIN_CHUNK,
                AVG_CHUNK,
                MAX_CHUNK,
                self.mask_s,
                self.mask_l,
                self.mask_s << 1,
                self.mask_l << 1,
            );
            cuts.push(start..start + length);
            start += length;
        }
        if cuts.is_empty() {
            return Ok(());
        }
        // Hashing and compressing are most of the CPU time and independent
        // per chunk: a large piece's chunks are prepared on all cores, then
        // handed on in file order.
        let (pending, known) = (&self.pending, self.known.as_deref());
        let prepared: Vec<Result<PreparedChunk, StoreError>> = cuts
            .into_par_iter()
            .map(|range| prepare(&pending[range], known))
            .collect();
        for chunk in prepared {
            let chunk = chunk?;
            self.chunks.push(chunk.hash);
            (self.sink)(chunk)?;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

/// So a reader can be copied in with `std::io::copy`.
impl<S: FnMut(PreparedChunk) -> Result<(), StoreError>> std::io::Write for FileWriter<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        FileWriter::write(self, buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    // A compression context per thread: making one per chunk would allocate
    // its tables 16,000 times for a 1 GB file.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// Names and compresses one chunk; keeps it raw when zstd does not shrink
/// it, or without trying when it is in `known`.
fn prepare(raw: &[u8], known: Option<&KnownChunks>) -> Result<PreparedChunk, StoreError> {
    let hash = Hash32(Sha256::digest(raw).into());
    if known.is_some_and(|known| known.contains(&hash)) {
        return Ok(PreparedChunk {
            hash,
            raw_len: raw.len(),
            codec: Codec::Raw,
            data: raw.to_vec(),
        });
    }
    let compressed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(StoreError::Compress)?);
        }
        slot.as_mut()
            .expect("just set")
            .compress(raw)
            .map_err(StoreError::Compress)
    })?;
    let (codec, data) = if compressed.len() < raw.len() {
        (Codec::Zstd, compressed)
    } else {
        (Codec::Raw, raw.to_vec())
    };
    Ok(PreparedChunk {
        hash,
        raw_len: raw.len(),
        codec,
        data,
    })
}

/// A sink for [`FileWriter`] on a blocking thread that sends each chunk to
/// the async side (which writes it with [`super::put_chunks`]). A full
/// channel blocks the writer, so memory stays bounded by its capacity; a
/// closed one (the database side failed) stops the writer.
///
/// Must not be called from async code: `blocking_send` panics there.
pub fn channel_sink(
    tx: tokio::sync::mpsc::Sender<PreparedChunk>,
) -> impl FnMut(PreparedChunk) -> Result<(), StoreError> {
    move |chunk| tx.blocking_send(chunk).map_err(|_| StoreError::ChannelClosed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic pseudo-random bytes (xorshift), so large inputs need not
    /// come through proptest's shrinking.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Chunks of `data` fed in pieces of the given sizes (cycled).
    fn chunk_in_pieces(data: &[u8], pieces: &[usize]) -> (StoredFile, Vec<PreparedChunk>) {
        let mut out = Vec::new();
        let mut writer = FileWriter::new(|c| {
            out.push(c);
            Ok(())
        });
        let mut at = 0;
        for size in pieces.iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + size.max(&1)).min(data.len());
            writer.write(&data[at..end]).unwrap();
            at = end;
        }
        let file = writer.finish().unwrap();
        (file, out)
    }

    /// Start offsets and hashes of the chunks, as the writer cut them.
    fn layout(chunks: &[PreparedChunk]) -> Vec<(usize, Hash32)> {
        let mut at = 0;
        chunks
            .iter()
            .map(|c| {
                let start = at;
                at += c.raw_len;
                (start, c.hash)
            })
            .collect()
    }

    #[test]
    fn empty_content_is_a_file_of_no_chunks() {
        let (file, chunks) = chunk_in_pieces(b"", &[1]);
        assert!(chunks.is_empty());
        assert_eq!(file.len, 0);
        assert_eq!(file.hash, crate::snapshot::bytes_hash(b""));
    }

    #[test]
    fn chunks_respect_the_size_bounds_and_name_their_bytes() {
        let data = noise(7, 3 * 1024 * 1024 + 123);
        let (file, chunks) = chunk_in_pieces(&data, &[1 << 20]);
        assert!(chunks.len() > 20, "{} chunks", chunks.len());
        let mut at = 0;
        for (i, c) in chunks.iter().enumerate() {
            let raw = &data[at..at + c.raw_len];
            assert!(c.raw_len <= MAX_CHUNK);
            assert!(i == chunks.len() - 1 || c.raw_len >= MIN_CHUNK);
            assert_eq!(c.hash, crate::snapshot::bytes_hash(raw));
            at += c.raw_len;
        }
        assert_eq!(at, data.len());
        assert_eq!(file.hash, crate::snapshot::bytes_hash(&data));
        assert_eq!(file.chunks, chunks.iter().map(|c| c.hash).collect::<Vec<_>>());
    }

    #[test]
    fn known_chunks_are_cut_and_named_alike_and_kept_raw() {
        // Compressible text, so that a chunk kept raw is told from one zstd shrank.
        let data: Vec<u8> = noise(11, 1 << 20).iter().flat_map(|b| [b'a' + b % 4, b',']).collect();
        let (file, chunks) = chunk_in_pieces(&data, &[70_000]);
        assert!(chunks.iter().all(|c| c.codec == Codec::Zstd));
        let known: KnownChunks = chunks.iter().step_by(2).map(|c| c.hash).collect();
        let mut again = Vec::new();
        let mut writer = FileWriter::knowing(
            |c| {
                again.push(c);
                Ok(())
            },
            Arc::new(known.clone()),
        );
        writer.write(&data).unwrap();
        assert_eq!(writer.finish().unwrap(), file);
        assert_eq!(layout(&again), layout(&chunks));
        let mut at = 0;
        for (before, now) in chunks.iter().zip(&again) {
            let raw = &data[at..at + now.raw_len];
            at += now.raw_len;
            if known.contains(&now.hash) {
                assert_eq!((now.codec, &now.data[..]), (Codec::Raw, raw));
            } else {
                assert_eq!(now, before);
            }
        }
    }

    #[test]
    fn a_run_without_cut_points_is_cut_at_the_maximum_and_compressed() {
        let data = vec![b'0'; 3 * MAX_CHUNK + 10];
        let (_, chunks) = chunk_in_pieces(&data, &[5000]);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.raw_len).collect();
        assert_eq!(sizes, [MAX_CHUNK, MAX_CHUNK, MAX_CHUNK, 10]);
        assert_eq!(chunks[0].codec, Codec::Zstd);
        assert!(chunks[0].data.len() < 1000);
        // Ten bytes do not shrink: kept as they are.
        assert_eq!(chunks[3].codec, Codec::Raw);
        assert_eq!(chunks[3].data, b"0000000000");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// However the content arrives, the chunks are the same.
        #[test]
        fn boundaries_do_not_depend_on_how_the_content_is_fed(
            seed in any::<u64>(),
            len in 0usize..2_000_000,
            pieces in proptest::collection::vec(1usize..700_000, 1..6),
        ) {
            let data = noise(seed, len);
            let (whole, whole_chunks) = chunk_in_pieces(&data, &[data.len().max(1)]);
            let (fed, fed_chunks) = chunk_in_pieces(&data, &pieces);
            prop_assert_eq!(whole, fed);
            prop_assert_eq!(layout(&whole_chunks), layout(&fed_chunks));
        }

        /// Inserting bytes near the start changes only the chunks near it:
        /// every chunk that ends before the insertion is kept, and all but a
        /// few chunks of the edited content are chunks of the original.
        #[test]
        fn boundaries_are_content_defined(
            seed in any::<u64>(),
            at in 0usize..100_000,
            inserted in proptest::collection::vec(any::<u8>(), 1..200),
        ) {
            let data = noise(seed, 2_000_000);
            let mut edited = data.clone();
            edited.splice(at..at, inserted.iter().copied());
            let (_, before) = chunk_in_pieces(&data, &[1 << 20]);
            let (_, after) = chunk_in_pieces(&edited, &[1 << 20]);
            let (before, after) = (layout(&before), layout(&after));

            let kept_prefix = before
                .iter()
                .zip(&before[1..])
                .take_while(|(_, next)| next.0 <= at)
                .count();
            prop_assert_eq!(&before[..kept_prefix], &after[..kept_prefix]);

            let old: std::collections::HashSet<Hash32> = before.iter().map(|c| c.1).collect();
            let new = after.iter().filter(|c| !old.contains(&c.1)).count();
            prop_assert!(new <= 3, "{} of {} chunks are new", new, after.len());
            prop_assert!(after.len() > 10);
        }
    }
}
