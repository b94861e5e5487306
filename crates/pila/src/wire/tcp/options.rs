//! TCP options: an iterator over the raw option bytes of a header, and the owned [`Options`]
//! that a [`Repr`](super::Repr) carries, written in Linux's layout.
//!
//! Known options (RFC 9293 §3.2, RFC 7323, RFC 2018): End of Option List (0), No-Operation
//! (1), Maximum Segment Size (2, length 4), Window Scale (3, length 3), SACK-Permitted (4,
//! length 2), SACK (5, length 2 + 8n for n = 1..4) and Timestamps (8, length 10). Every other
//! kind carries a length byte and is skipped by it.

use super::SeqNumber;
use crate::wire::{Error, Result};
use core::fmt;
use core::iter::FusedIterator;

/// The most option bytes a TCP header holds: 60 − 20.
pub const MAX_OPTIONS_LEN: usize = 40;

/// The largest window shift RFC 7323 §2.3 allows; larger received values are taken as this.
pub const MAX_WINDOW_SCALE: u8 = 14;

mod kind {
    pub(super) const END_OF_LIST: u8 = 0;
    pub(super) const NO_OPERATION: u8 = 1;
    pub(super) const MAX_SEGMENT_SIZE: u8 = 2;
    pub(super) const WINDOW_SCALE: u8 = 3;
    pub(super) const SACK_PERMITTED: u8 = 4;
    pub(super) const SACK: u8 = 5;
    pub(super) const TIMESTAMP: u8 = 8;
}

/// One option as it appears in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of Option List: the rest of the options area is padding.
    EndOfList,
    /// No-Operation: one byte of padding between options.
    NoOperation,
    /// Maximum Segment Size: the largest segment payload the sender will accept.
    MaxSegmentSize(u16),
    /// Window Scale: the sender's window shift, as received (not yet clamped to 14).
    WindowScale(u8),
    /// SACK-Permitted: the sender understands SACK.
    SackPermitted,
    /// SACK: one to four blocks `(left edge, right edge)` the sender holds, in order;
    /// unused slots are `None`.
    SackRange([Option<(u32, u32)>; 4]),
    /// Timestamps: the sender's clock and the timestamp it echoes.
    Timestamp {
        /// The sender's timestamp value.
        tsval: u32,
        /// The timestamp echoed back.
        tsecr: u32,
    },
    /// An option of another kind, with its data (the bytes after kind and length).
    Unknown {
        /// The option kind.
        kind: u8,
        /// The option's data.
        data: &'a [u8],
    },
}

/// Iterates over the options in an options area, in order.
///
/// It yields [`TcpOption::EndOfList`] once and stops there. On a malformed option it yields
/// the error and stops: [`Error::BadLength`] for a length below 2 or running past the end,
/// [`Error::Malformed`] for a known kind with the wrong length.
#[derive(Clone, Debug)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionsIter<'a> {
    /// Iterates over `options`, the bytes between the fixed header and the payload.
    pub const fn new(options: &'a [u8]) -> Self {
        Self { rest: options }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after_kind) = self.rest.split_first()?;
        match kind {
            kind::END_OF_LIST => {
                self.rest = &[];
                Some(Ok(TcpOption::EndOfList))
            }
            kind::NO_OPERATION => {
                self.rest = after_kind;
                Some(Ok(TcpOption::NoOperation))
            }
            _ => match parse_with_length(kind, after_kind) {
                Ok((option, rest)) => {
                    self.rest = rest;
                    Some(Ok(option))
                }
                Err(error) => {
                    self.rest = &[];
                    Some(Err(error))
                }
            },
        }
    }
}

impl FusedIterator for OptionsIter<'_> {}

/// Parses an option that has a length byte; `bytes` starts just after the kind.
fn parse_with_length(kind: u8, bytes: &[u8]) -> Result<(TcpOption<'_>, &[u8])> {
    let (&len, after_len) = bytes.split_first().ok_or(Error::BadLength)?;
    let data_len = usize::from(len).checked_sub(2).ok_or(Error::BadLength)?;
    if data_len > after_len.len() {
        return Err(Error::BadLength);
    }
    let (data, rest) = after_len.split_at(data_len);
    let option = match kind {
        kind::MAX_SEGMENT_SIZE => match *data {
            [hi, lo] => TcpOption::MaxSegmentSize(u16::from_be_bytes([hi, lo])),
            _ => return Err(Error::Malformed),
        },
        kind::WINDOW_SCALE => match *data {
            [shift] => TcpOption::WindowScale(shift),
            _ => return Err(Error::Malformed),
        },
        kind::SACK_PERMITTED if data.is_empty() => TcpOption::SackPermitted,
        kind::SACK_PERMITTED => return Err(Error::Malformed),
        kind::SACK => {
            if data.is_empty() || data.len() % 8 != 0 || data.len() > 32 {
                return Err(Error::Malformed);
            }
            let mut blocks = [None; 4];
            for (slot, block) in blocks.iter_mut().zip(data.chunks_exact(8)) {
                let (left, right) = block.split_at(4);
                *slot = Some((be_u32(left), be_u32(right)));
            }
            TcpOption::SackRange(blocks)
        }
        kind::TIMESTAMP if data.len() == 8 => {
            let (tsval, tsecr) = data.split_at(4);
            TcpOption::Timestamp { tsval: be_u32(tsval), tsecr: be_u32(tsecr) }
        }
        kind::TIMESTAMP => return Err(Error::Malformed),
        _ => TcpOption::Unknown { kind, data },
    };
    Ok((option, rest))
}

/// A big-endian `u32` from exactly four bytes (zero-extended if fewer, which no caller passes).
fn be_u32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// The Timestamps option's two values (RFC 7323 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The sender's timestamp clock.
    pub tsval: u32,
    /// The most recent `tsval` received from the peer, echoed.
    pub tsecr: u32,
}

/// A SACK block: the left edge (first sequence number held) and the right edge (one past the
/// last), RFC 2018 §3.
pub type SackBlock = (SeqNumber, SeqNumber);

/// Up to four SACK blocks, in the order they are sent (RFC 2018 §4: the most recently
/// changed block first). A small `Copy` array.
#[derive(Clone, Copy)]
pub struct SackBlocks {
    blocks: [SackBlock; Self::CAPACITY],
    len: u8,
}

impl SackBlocks {
    /// The most blocks one SACK option holds.
    pub const CAPACITY: usize = 4;

    /// No block.
    pub const EMPTY: Self = Self { blocks: [(SeqNumber(0), SeqNumber(0)); 4], len: 0 };

    /// The number of blocks.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there is no block.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a block; returns `false`, dropping it, if four are already held.
    pub fn push(&mut self, block: SackBlock) -> bool {
        let len = self.len();
        match self.blocks.get_mut(len) {
            Some(slot) => {
                *slot = block;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Keeps the first `len` blocks.
    pub fn truncate(&mut self, len: usize) {
        let len = len.min(self.len());
        for slot in &mut self.blocks[len..] {
            *slot = (SeqNumber(0), SeqNumber(0));
        }
        self.len = len as u8;
    }

    /// Removes every block.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// The blocks, in order.
    pub fn as_slice(&self) -> &[SackBlock] {
        &self.blocks[..self.len()]
    }

    /// Iterates over the blocks, in order.
    pub fn iter(&self) -> core::iter::Copied<core::slice::Iter<'_, SackBlock>> {
        self.as_slice().iter().copied()
    }
}

impl Default for SackBlocks {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl PartialEq for SackBlocks {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl core::hash::Hash for SackBlocks {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'b> IntoIterator for &'b SackBlocks {
    type Item = SackBlock;
    type IntoIter = core::iter::Copied<core::slice::Iter<'b, SackBlock>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Collects the first four blocks; any more are dropped.
impl FromIterator<SackBlock> for SackBlocks {
    fn from_iter<I: IntoIterator<Item = SackBlock>>(iter: I) -> Self {
        let mut blocks = Self::EMPTY;
        for block in iter.into_iter().take(Self::CAPACITY) {
            blocks.push(block);
        }
        blocks
    }
}

/// The options of one segment, as plain values.
///
/// Parsing takes the last occurrence of an option that appears twice, and ignores unknown
/// kinds. Emitting writes Linux's layout (see [`Options::buffer_len`]); which options belong
/// on which segment (MSS, window scale and SACK-permitted only on a SYN) is the caller's
/// business: whatever is set is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// Maximum Segment Size.
    pub mss: Option<u16>,
    /// Window scale shift, at most [`MAX_WINDOW_SCALE`] when parsed.
    pub window_scale: Option<u8>,
    /// SACK-Permitted.
    pub sack_permitted: bool,
    /// SACK blocks.
    pub sack_blocks: SackBlocks,
    /// Timestamps.
    pub timestamp: Option<Timestamp>,
}

impl Options {
    /// No option.
    pub const NONE: Self = Self {
        mss: None,
        window_scale: None,
        sack_permitted: false,
        sack_blocks: SackBlocks::EMPTY,
        timestamp: None,
    };

    /// Parses an options area, stopping at End of Option List.
    ///
    /// A window shift above 14 is taken as 14 (RFC 7323 §2.3). Errors as [`OptionsIter`]:
    /// [`Error::BadLength`] for a length below 2 or past the end, [`Error::Malformed`] for
    /// a known kind with the wrong length.
    pub fn parse(options: &[u8]) -> Result<Self> {
        let mut parsed = Self::NONE;
        for option in OptionsIter::new(options) {
            match option? {
                TcpOption::EndOfList => break,
                TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
                TcpOption::MaxSegmentSize(mss) => parsed.mss = Some(mss),
                TcpOption::WindowScale(shift) => {
                    parsed.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
                }
                TcpOption::SackPermitted => parsed.sack_permitted = true,
                TcpOption::SackRange(ranges) => {
                    parsed.sack_blocks = ranges
                        .iter()
                        .flatten()
                        .map(|&(left, right)| (SeqNumber(left), SeqNumber(right)))
                        .collect();
                }
                TcpOption::Timestamp { tsval, tsecr } => {
                    parsed.timestamp = Some(Timestamp { tsval, tsecr });
                }
            }
        }
        Ok(parsed)
    }

    /// How many SACK blocks fit in the 40 option bytes beside the other options set: 4 on
    /// their own, 3 with timestamps, 2 with everything a SYN carries.
    pub fn sack_capacity(&self) -> usize {
        let room = MAX_OPTIONS_LEN - self.fixed_len();
        (room.saturating_sub(4) / 8).min(SackBlocks::CAPACITY)
    }

    /// The number of option bytes [`Repr::emit`](super::Repr::emit) writes, a multiple of 4.
    ///
    /// Linux's layout, each piece 4-byte aligned: MSS (`02 04 mm mm`); SACK-permitted with
    /// timestamps (`04 02 08 0a tsval tsecr`), or timestamps alone (`01 01 08 0a ...`), or
    /// SACK-permitted alone (`01 01 04 02`); window scale (`01 03 03 ws`); then SACK blocks
    /// (`01 01 05 len ...`). Only the first [`sack_capacity`](Self::sack_capacity) SACK
    /// blocks are written; the rest are dropped, and this length counts only what is written.
    pub fn buffer_len(&self) -> usize {
        let sack_blocks = self.sack_blocks.len().min(self.sack_capacity());
        let sack_len = if sack_blocks == 0 { 0 } else { 4 + 8 * sack_blocks };
        self.fixed_len() + sack_len
    }

    /// Writes the options into `buffer`, which holds at least [`buffer_len`](Self::buffer_len)
    /// bytes, and returns the number written.
    pub(super) fn emit(&self, buffer: &mut [u8]) -> usize {
        let mut out = Cursor { buffer, at: 0 };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            out.put(&[kind::MAX_SEGMENT_SIZE, 4, hi, lo]);
        }
        match (self.timestamp, self.sack_permitted) {
            (Some(ts), sack_permitted) => {
                if sack_permitted {
                    out.put(&[kind::SACK_PERMITTED, 2]);
                } else {
                    out.put(&[kind::NO_OPERATION, kind::NO_OPERATION]);
                }
                out.put(&[kind::TIMESTAMP, 10]);
                out.put(&ts.tsval.to_be_bytes());
                out.put(&ts.tsecr.to_be_bytes());
            }
            (None, true) => {
                out.put(&[kind::NO_OPERATION, kind::NO_OPERATION, kind::SACK_PERMITTED, 2]);
            }
            (None, false) => {}
        }
        if let Some(shift) = self.window_scale {
            out.put(&[kind::NO_OPERATION, kind::WINDOW_SCALE, 3, shift]);
        }
        let sack_blocks = self.sack_blocks.len().min(self.sack_capacity());
        if sack_blocks > 0 {
            let len = 2 + 8 * sack_blocks as u8;
            out.put(&[kind::NO_OPERATION, kind::NO_OPERATION, kind::SACK, len]);
            for (left, right) in self.sack_blocks.iter().take(sack_blocks) {
                out.put(&left.0.to_be_bytes());
                out.put(&right.0.to_be_bytes());
            }
        }
        out.at
    }

    /// The bytes of everything but the SACK blocks.
    fn fixed_len(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        len
    }
}

/// As tcpdump prints options: `mss 1460,sackOK,TS val 1 ecr 0,wscale 7`.
impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(mss) = self.mss {
            write!(f, "{sep}mss {mss}")?;
            sep = ",";
        }
        if self.sack_permitted {
            write!(f, "{sep}sackOK")?;
            sep = ",";
        }
        if let Some(ts) = self.timestamp {
            write!(f, "{sep}TS val {} ecr {}", ts.tsval, ts.tsecr)?;
            sep = ",";
        }
        if let Some(shift) = self.window_scale {
            write!(f, "{sep}wscale {shift}")?;
            sep = ",";
        }
        if !self.sack_blocks.is_empty() {
            write!(f, "{sep}sack {} ", self.sack_blocks.len())?;
            for (left, right) in &self.sack_blocks {
                write!(f, "{{{left}:{right}}}")?;
            }
        }
        Ok(())
    }
}

/// Writes bytes one piece after another.
struct Cursor<'b> {
    buffer: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        self.buffer[self.at..end].copy_from_slice(bytes);
        self.at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn options(bytes: &[u8]) -> Vec<Result<TcpOption<'_>>> {
        OptionsIter::new(bytes).collect()
    }

    #[test]
    fn iterates_a_linux_syn() {
        let bytes = [
            0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9c, 0x2b, 0x1e, 0x07, 0, 0, 0, 0,
            0x01, 0x03, 0x03, 0x07,
        ];
        assert_eq!(
            options(&bytes),
            [
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamp { tsval: 0x9c2b_1e07, tsecr: 0 }),
                Ok(TcpOption::NoOperation),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn lying_lengths() {
        // (options area, expected error)
        let cases: &[(&[u8], Error)] = &[
            (&[0x02, 0x00, 0x05, 0xb4], Error::BadLength), // length 0
            (&[0x02, 0x01, 0x05, 0xb4], Error::BadLength), // length 1
            (&[0x63, 0x00], Error::BadLength),             // unknown kind, length 0
            (&[0x02], Error::BadLength),                   // no length byte
            (&[0x01, 0x01, 0x08], Error::BadLength),       // no length byte after NOPs
            (&[0x02, 0x04, 0x05], Error::BadLength),       // MSS past the end
            (&[0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0], Error::BadLength), // TS past the end
            (&[0x63, 0x05, 1, 2], Error::BadLength),       // unknown past the end
            (&[0x05, 0x2a, 0, 0, 0, 0], Error::BadLength), // SACK claiming 42 bytes
            (&[0x02, 0x03, 0x05, 0x00], Error::Malformed), // MSS length 3
            (&[0x02, 0x05, 0x05, 0xb4, 0x00], Error::Malformed), // MSS length 5
            (&[0x03, 0x02, 0x00, 0x00], Error::Malformed), // WS length 2
            (&[0x03, 0x04, 0x07, 0x00], Error::Malformed), // WS length 4
            (&[0x04, 0x03, 0x00, 0x00], Error::Malformed), // SACK-permitted length 3
            (&[0x05, 0x02, 0x00, 0x00], Error::Malformed), // SACK with no block
            (&[0x05, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0], Error::Malformed), // SACK length 11
            (&[0x05, 0x09, 1, 2, 3, 4, 5, 6, 7, 0], Error::Malformed), // SACK length 9
            (&[0x08, 0x08, 0, 0, 0, 1, 0, 0], Error::Malformed), // TS length 8
        ];
        for &(bytes, error) in cases {
            assert_eq!(Options::parse(bytes), Err(error), "{bytes:02x?}");
            let all = options(bytes);
            assert_eq!(all.last(), Some(&Err(error)), "{bytes:02x?}");
            assert_eq!(all.iter().filter(|o| o.is_err()).count(), 1, "stops after the error");
        }
        // A SACK option with five blocks (42 bytes) does not fit in a header, but the iterator
        // also serves other slices: there it is the wrong length.
        let mut five = vec![0x05, 42];
        five.extend_from_slice(&[0; 40]);
        assert_eq!(options(&five), [Err(Error::Malformed)]);
    }

    #[test]
    fn unknown_options_are_skipped_by_their_length() {
        // A TCP Fast Open cookie (kind 34) and an experimental option (254) between MSS and WS.
        let bytes = [
            0x02, 0x04, 0x05, 0xb4, 0x22, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 0xfe, 0x02, 0x03, 0x03,
            0x07, 0x00,
        ];
        assert_eq!(
            options(&bytes),
            [
                Ok(TcpOption::MaxSegmentSize(1460)),
                Ok(TcpOption::Unknown { kind: 34, data: &[1, 2, 3, 4, 5, 6, 7, 8] }),
                Ok(TcpOption::Unknown { kind: 254, data: &[] }),
                Ok(TcpOption::WindowScale(7)),
                Ok(TcpOption::EndOfList),
            ]
        );
        let parsed = Options::parse(&bytes).unwrap();
        assert_eq!(parsed, Options { mss: Some(1460), window_scale: Some(7), ..Options::NONE });
    }

    #[test]
    fn end_of_list_stops_parsing() {
        // Garbage after EOL, even a lying length, is padding and never looked at.
        let bytes = [0x02, 0x04, 0x05, 0xb4, 0x00, 0x02, 0x01, 0xff];
        assert_eq!(
            options(&bytes),
            [Ok(TcpOption::MaxSegmentSize(1460)), Ok(TcpOption::EndOfList)]
        );
        assert_eq!(Options::parse(&bytes), Ok(Options { mss: Some(1460), ..Options::NONE }));
        assert_eq!(Options::parse(&[0, 0, 0, 0]), Ok(Options::NONE));
        assert_eq!(Options::parse(&[]), Ok(Options::NONE));
    }

    #[test]
    fn window_scale_above_14_is_clamped() {
        assert_eq!(options(&[0x03, 0x03, 15]), [Ok(TcpOption::WindowScale(15))]);
        assert_eq!(Options::parse(&[0x03, 0x03, 15]).unwrap().window_scale, Some(14));
        assert_eq!(Options::parse(&[0x03, 0x03, 255]).unwrap().window_scale, Some(14));
        assert_eq!(Options::parse(&[0x03, 0x03, 14]).unwrap().window_scale, Some(14));
        assert_eq!(Options::parse(&[0x03, 0x03, 0]).unwrap().window_scale, Some(0));
    }

    #[test]
    fn sack_blocks_and_last_occurrence_wins() {
        let bytes = [
            0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, // one block
            0x05, 0x12, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 3, 0, 0, 0, 4, // two blocks
            0x02, 0x04, 0x02, 0x18, 0x02, 0x04, 0x05, 0xb4,
        ];
        assert_eq!(
            options(&bytes)[1],
            Ok(TcpOption::SackRange([Some((5, 6)), Some((3, 4)), None, None]))
        );
        let parsed = Options::parse(&bytes).unwrap();
        assert_eq!(
            parsed.sack_blocks.as_slice(),
            [(SeqNumber(5), SeqNumber(6)), (SeqNumber(3), SeqNumber(4))]
        );
        assert_eq!(parsed.mss, Some(1460));
    }

    #[test]
    fn linux_layouts() {
        let ts = Some(Timestamp { tsval: 0x0102_0304, tsecr: 0x0506_0708 });
        let emit = |o: Options| {
            let mut buf = vec![0xee; o.buffer_len()];
            assert_eq!(o.emit(&mut buf), buf.len());
            buf
        };
        let syn = Options {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: ts,
            ..Options::NONE
        };
        assert_eq!(emit(syn), [2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7]);
        assert_eq!(
            emit(Options { timestamp: None, ..syn }),
            [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]
        );
        assert_eq!(
            emit(Options { sack_permitted: false, ..syn }),
            [2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7]
        );
        let blocks: SackBlocks = [(SeqNumber(9), SeqNumber(10))].into_iter().collect();
        assert_eq!(
            emit(Options { timestamp: ts, sack_blocks: blocks, ..Options::NONE }),
            [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 5, 10, 0, 0, 0, 9, 0, 0, 0, 10]
        );
        assert_eq!(emit(Options::NONE), []);
    }

    #[test]
    fn sack_blocks_that_do_not_fit_are_dropped() {
        let four: SackBlocks =
            (1..=4u32).map(|i| (SeqNumber(i * 10), SeqNumber(i * 10 + 5))).collect();
        let ts = Some(Timestamp { tsval: 1, tsecr: 2 });
        let plain = Options { sack_blocks: four, ..Options::NONE };
        assert_eq!((plain.sack_capacity(), plain.buffer_len()), (4, 36));
        let with_ts = Options { timestamp: ts, ..plain };
        assert_eq!((with_ts.sack_capacity(), with_ts.buffer_len()), (3, 40));
        let everything =
            Options { mss: Some(536), window_scale: Some(0), sack_permitted: true, ..with_ts };
        assert_eq!((everything.sack_capacity(), everything.buffer_len()), (2, 40));
        for options in [plain, with_ts, everything] {
            let mut buf = [0; MAX_OPTIONS_LEN];
            let len = options.emit(&mut buf);
            assert_eq!(len, options.buffer_len());
            let parsed = Options::parse(&buf[..len]).unwrap();
            let mut expected = options;
            expected.sack_blocks.truncate(options.sack_capacity());
            // The first blocks are kept: RFC 2018 §4 puts the newest first.
            assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn sack_blocks_container() {
        let mut blocks = SackBlocks::default();
        assert!(blocks.is_empty());
        for i in 0..4 {
            assert!(blocks.push((SeqNumber(i), SeqNumber(i + 1))));
        }
        assert!(!blocks.push((SeqNumber(99), SeqNumber(100))));
        assert_eq!(blocks.len(), 4);
        assert_eq!(blocks.iter().map(|(l, _)| l.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let mut other = blocks;
        other.truncate(2);
        assert_ne!(blocks, other);
        blocks.truncate(2);
        assert_eq!(blocks, other);
        // Equality ignores what was once beyond the length.
        let mut fresh = SackBlocks::EMPTY;
        fresh.push((SeqNumber(0), SeqNumber(1)));
        fresh.push((SeqNumber(1), SeqNumber(2)));
        assert_eq!(fresh, blocks);
        blocks.clear();
        assert_eq!(blocks, SackBlocks::EMPTY);
        assert_eq!(
            format!("{fresh:?}"),
            "[(SeqNumber(0), SeqNumber(1)), (SeqNumber(1), SeqNumber(2))]"
        );
    }

    #[test]
    fn display_like_tcpdump() {
        let syn = Options {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some(Timestamp { tsval: 5, tsecr: 0 }),
            ..Options::NONE
        };
        assert_eq!(syn.to_string(), "mss 1460,sackOK,TS val 5 ecr 0,wscale 7");
        let blocks =
            [(SeqNumber(1), SeqNumber(2)), (SeqNumber(3), SeqNumber(4))].into_iter().collect();
        assert_eq!(
            Options { sack_blocks: blocks, ..Options::NONE }.to_string(),
            "sack 2 {1:2}{3:4}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let mut consumed = 0;
            for option in OptionsIter::new(&bytes) {
                consumed += 1;
                prop_assert!(consumed <= bytes.len(), "every option consumes a byte");
                if let Ok(TcpOption::Unknown { data, .. }) = option {
                    prop_assert!(data.len() <= bytes.len());
                }
            }
            let _ = Options::parse(&bytes);
        }
    }
}
