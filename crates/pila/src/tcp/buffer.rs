//! The byte ring behind a connection's send and receive buffers.
//!
//! A [`RingBuffer`] owns no memory until the first byte is written, doubles its storage as
//! data needs it up to a fixed `max_capacity`, and can hand its storage back when it is empty
//! ([`RingBuffer::shrink_when_empty`]), so an idle connection costs a few words instead of two
//! full buffers (DESIGN.md, "Buffers and memory").
//!
//! Positions are *logical offsets* from the front of the readable data: offset 0 is the next
//! byte [`RingBuffer::read`] returns. The readable data are `[0, len)`. A receive buffer may
//! also hold out-of-order bytes beyond `len`, placed with [`RingBuffer::write_at`] and made
//! readable with [`RingBuffer::commit`] once the gap before them is filled; which of those
//! bytes are present is the [`Assembler`](super::assembler::Assembler)'s business.
//!
//! Every copy is at most two `copy_from_slice` calls, one on each side of the wrap, and no
//! operation allocates except when the storage grows. Growing never zeroes memory: the
//! storage is initialised as bytes are written into it, so only the ring's prefix up to the
//! furthest byte ever written is. A buffer is at most 4 GiB.

use core::ops::Range;

/// The first allocation, in bytes (or `max_capacity`, if that is smaller): one page, room
/// for two full-sized Ethernet segments.
const MIN_ALLOCATION: usize = 4096;

/// A growable byte ring with a fixed maximum capacity.
///
/// Invariants: `len <= placed <= size <= max_capacity`, `storage.len() <= size`, every
/// ring position holding a placed byte is below `storage.len()`, and `head < size` unless
/// the ring is empty (then `head == 0`).
#[derive(Debug, Clone)]
pub struct RingBuffer {
    /// The ring's bytes, initialised up to the furthest position ever written; its
    /// allocation holds `size` bytes. Empty until the first write.
    storage: Vec<u8>,
    /// The ring's size: positions wrap here. (32 bits, as `head`: the ring never exceeds
    /// 4 GiB, and the two fit in one word.)
    size: u32,
    /// Index in `storage` of logical offset 0.
    head: u32,
    /// Readable bytes, logical `[0, len)`. (This and the two below are 32 bits too: each
    /// is at most `max_capacity`, itself at most `u32::MAX`.)
    len: u32,
    /// End of the furthest byte ever placed (by `write` or `write_at`) that has not been
    /// consumed: bytes in `[len, placed)` may hold out-of-order data, so growth keeps them
    /// and `shrink_when_empty` does not free them.
    placed: u32,
    /// The bound `len` and the storage never exceed.
    max_capacity: u32,
    /// How far the storage may grow for now, below `max_capacity`: the stack lowers it
    /// while its memory budget is under pressure ([`RingBuffer::set_limit`]). Storage
    /// already allocated is kept whatever the limit.
    limit: u32,
}

impl RingBuffer {
    /// An empty buffer that will hold at most `max_capacity` bytes. Allocates nothing.
    pub fn new(max_capacity: usize) -> Self {
        Self {
            storage: Vec::new(),
            size: 0,
            head: 0,
            len: 0,
            placed: 0,
            max_capacity: u32::try_from(max_capacity).unwrap_or(u32::MAX),
            limit: u32::MAX,
        }
    }

    /// Lets the storage grow to `limit` bytes at most from now on (`usize::MAX`: up to
    /// `max_capacity`). The storage already allocated stays, and with it what it holds:
    /// the buffer takes no new byte beyond `max(limit, allocated)`.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }

    /// The most readable bytes the buffer takes now: `max_capacity`, or less while a
    /// [limit](Self::set_limit) holds its storage where it is.
    pub fn capacity(&self) -> usize {
        self.max_capacity.min(self.limit.max(self.size)) as usize
    }

    /// Readable bytes held.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no readable byte is held (out-of-order bytes beyond `len` do not count).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most bytes the buffer will ever hold.
    pub fn max_capacity(&self) -> usize {
        self.max_capacity as usize
    }

    /// Bytes of storage currently allocated.
    pub fn allocated(&self) -> usize {
        self.size()
    }

    /// Room left for readable bytes: `capacity - len`.
    pub fn free(&self) -> usize {
        self.capacity().saturating_sub(self.len())
    }

    /// Appends as much of `data` as fits and returns how many bytes that was. Overwrites any
    /// out-of-order bytes placed where they land.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        let end = self.len() + n;
        self.reserve(end);
        self.copy_in(self.len(), &data[..n]);
        self.len = end as u32;
        self.placed = self.placed.max(end as u32);
        n
    }

    /// Copies readable bytes from the front into `out`, consumes them and returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(0, out);
        self.consume(n);
        n
    }

    /// Drops `n` readable bytes from the front (at most `len`): data the reader took or the
    /// peer acknowledged.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        if n == 0 {
            return;
        }
        self.len -= n as u32;
        self.placed -= n as u32;
        self.head = if self.placed == 0 { 0 } else { self.wrap(self.head() + n) as u32 };
    }

    /// Copies readable bytes starting at `offset` into `out` without consuming them; returns
    /// how many (0 when `offset >= len`).
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        let (first, second) = self.slices(offset, out.len());
        let n = first.len() + second.len();
        out[..first.len()].copy_from_slice(first);
        out[first.len()..n].copy_from_slice(second);
        n
    }

    /// The readable bytes `[offset, offset + len)`, clipped to the readable data, as one or
    /// two contiguous parts: the second is empty unless the range wraps around the ring.
    pub fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let len = len.min(self.len().saturating_sub(offset));
        if len == 0 {
            return (&[], &[]);
        }
        let (first, second) = self.split(offset, len);
        (&self.storage[first], &self.storage[second])
    }

    /// The readable bytes `[offset, offset + len)`, clipped to the readable data and to
    /// `scratch.len()`, as one slice: borrowed from the ring when they do not wrap, otherwise
    /// copied into `scratch`.
    pub fn contiguous<'a>(&'a self, offset: usize, len: usize, scratch: &'a mut [u8]) -> &'a [u8] {
        let (first, second) = self.slices(offset, len);
        if second.is_empty() {
            return first;
        }
        let n = (first.len() + second.len()).min(scratch.len());
        let n = self.peek(offset, &mut scratch[..n]);
        &scratch[..n]
    }

    /// Places `data` at logical `offset` without making it readable: out-of-order data,
    /// usually beyond `len`. Returns how many bytes of `data` were accepted, those that end at
    /// or below the [capacity](Self::capacity). Accepted bytes that fall below `len` are already readable and
    /// are left as they are.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let end = offset.saturating_add(data.len()).min(self.capacity());
        if end <= offset {
            return 0;
        }
        let accepted = end - offset;
        let skip = self.len().saturating_sub(offset).min(accepted);
        if skip < accepted {
            self.reserve(end);
            self.copy_in(offset + skip, &data[skip..accepted]);
            self.placed = self.placed.max(end as u32);
        }
        accepted
    }

    /// Makes `n` more bytes readable, those placed by [`write_at`](Self::write_at) just past
    /// `len`; never beyond the furthest byte placed.
    pub fn commit(&mut self, n: usize) {
        self.len += n.min(self.placed() - self.len()) as u32;
    }

    /// Frees the storage if the buffer holds no readable byte and no out-of-order byte.
    pub fn shrink_when_empty(&mut self) {
        if self.len == 0 && self.placed == 0 && self.size > 0 {
            self.storage = Vec::new();
            self.size = 0;
            self.head = 0;
        }
    }

    /// `index` (less than twice the allocated size) folded back into the ring.
    fn wrap(&self, index: usize) -> usize {
        let size = self.size();
        if index >= size { index - size } else { index }
    }

    /// The end of the furthest byte placed and not consumed.
    const fn placed(&self) -> usize {
        self.placed as usize
    }

    /// The ring's size.
    const fn size(&self) -> usize {
        self.size as usize
    }

    /// The ring position of logical offset 0.
    const fn head(&self) -> usize {
        self.head as usize
    }

    /// The storage ranges holding logical `[offset, offset + len)`, which must lie within
    /// the allocated size: the part up to the end of the storage, then the wrapped part.
    fn split(&self, offset: usize, len: usize) -> (Range<usize>, Range<usize>) {
        let start = self.wrap(self.head() + offset);
        let first = len.min(self.size() - start);
        (start..start + first, 0..len - first)
    }

    /// Copies `data` to logical `offset`; `offset + data.len()` must be within the ring.
    fn copy_in(&mut self, offset: usize, data: &[u8]) {
        let size = self.size();
        if self.head() + offset + data.len() > size && self.storage.len() < size {
            // Bytes past the wrap come after every position up to the ring's end, written or
            // not (a hole out-of-order data left): those are initialised, with zeroes, so
            // every position a logical offset can reach is.
            self.storage.resize(size, 0);
        }
        let (first, second) = self.split(offset, data.len());
        let (a, b) = data.split_at(first.len());
        self.fill(first, a);
        self.fill(second, b);
    }

    /// Writes `data` at the ring positions `at`: over initialised bytes where there are
    /// some, appended past them (zeroes first in any gap before `at`, which only
    /// out-of-order data leaves).
    fn fill(&mut self, at: Range<usize>, data: &[u8]) {
        let init = self.storage.len();
        if at.end <= init {
            self.storage[at].copy_from_slice(data);
            return;
        }
        if at.start > init {
            self.storage.resize(at.start, 0);
        }
        let over = init.saturating_sub(at.start);
        self.storage[at.start..at.start + over].copy_from_slice(&data[..over]);
        self.storage.extend_from_slice(&data[over..]);
    }

    /// Grows the ring, by doubling, to hold at least logical `[0, needed)` (`needed <=
    /// capacity`). Every byte
    /// held, out-of-order ones too, keeps its offset; nothing is zeroed.
    fn reserve(&mut self, needed: usize) {
        let old = self.size();
        if needed <= old {
            return;
        }
        let mut size = if old == 0 { MIN_ALLOCATION } else { old };
        while size < needed {
            size = size.saturating_mul(2);
        }
        let size = size.min(self.capacity());
        if self.head == 0 || self.placed == 0 {
            // Nothing wraps: logical offsets are ring positions already.
            self.storage.reserve_exact(size - self.storage.len());
        } else {
            let mut storage = Vec::with_capacity(size);
            let (first, second) = self.split(0, self.placed());
            storage.extend_from_slice(&self.storage[first]);
            storage.extend_from_slice(&self.storage[second]);
            self.storage = storage;
        }
        // `max_capacity` is at most `u32::MAX`.
        self.size = size as u32;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn bytes(range: Range<usize>) -> Vec<u8> {
        range.map(|i| (i % 251) as u8).collect()
    }

    fn read_all(ring: &mut RingBuffer) -> Vec<u8> {
        let mut out = vec![0; ring.len()];
        assert_eq!(ring.read(&mut out), out.len());
        out
    }

    #[test]
    fn new_allocates_nothing() {
        let ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.allocated(), 0);
        assert_eq!(ring.len(), 0);
        assert!(ring.is_empty());
        assert_eq!(ring.free(), 1 << 20);
        assert_eq!(ring.max_capacity(), 1 << 20);
        assert_eq!(ring.slices(0, 10), (&[][..], &[][..]));
    }

    #[test]
    fn first_write_allocates_minimum_then_doubles() {
        let mut ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.write(&[1; 100]), 100);
        assert_eq!(ring.allocated(), MIN_ALLOCATION);
        assert_eq!(ring.write(&[2; MIN_ALLOCATION]), MIN_ALLOCATION);
        assert_eq!(ring.allocated(), 2 * MIN_ALLOCATION);
        // One big write jumps several doublings at once.
        assert_eq!(ring.write(&vec![3; 5 * MIN_ALLOCATION]), 5 * MIN_ALLOCATION);
        assert_eq!(ring.allocated(), 8 * MIN_ALLOCATION);
    }

    #[test]
    fn a_freed_ring_grows_again_and_keeps_order_across_the_wrap() {
        let mut ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.write(&bytes(0..3000)), 3000);
        assert_eq!(read_all(&mut ring), bytes(0..3000));
        ring.shrink_when_empty();
        assert_eq!(ring.allocated(), 0);
        // Out of order past the ring's first end, then the gap before it: the ring grows,
        // and what it held past its end moves with it.
        assert_eq!(ring.write_at(3000, &bytes(3000..5000)), 2000);
        assert_eq!(ring.write(&bytes(0..3000)), 3000);
        ring.commit(2000);
        assert_eq!(ring.allocated(), 2 * MIN_ALLOCATION);
        assert_eq!(read_all(&mut ring), bytes(0..5000));
        // A ring is at most 4 GiB, whatever is asked.
        assert_eq!(RingBuffer::new(usize::MAX).max_capacity(), u32::MAX as usize);
    }

    #[test]
    fn growth_stops_at_max_capacity() {
        let mut ring = RingBuffer::new(10_000);
        assert_eq!(ring.write(&bytes(0..6000)), 6000);
        assert_eq!(ring.allocated(), 8192);
        assert_eq!(ring.write(&bytes(6000..12_000)), 4000);
        assert_eq!(ring.allocated(), 10_000);
        assert_eq!(ring.free(), 0);
        assert_eq!(ring.write(&[9]), 0);
        assert_eq!(read_all(&mut ring), bytes(0..10_000));
    }

    #[test]
    fn a_limit_holds_growth_where_the_storage_is_and_lifting_it_lets_it_grow() {
        let mut ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.write(&bytes(0..5000)), 5000);
        assert_eq!(ring.allocated(), 8192);
        // Below what is allocated: the storage stays, and so does the room it has.
        ring.set_limit(MIN_ALLOCATION);
        assert_eq!(ring.capacity(), 8192);
        assert_eq!(ring.write(&bytes(5000..10_000)), 3192);
        assert_eq!(ring.allocated(), 8192);
        // Out-of-order bytes past the capacity are refused too.
        assert_eq!(ring.write_at(9000, &[1; 10]), 0);
        assert_eq!(read_all(&mut ring), bytes(0..8192));
        // Freed, it grows again only as far as the limit.
        ring.shrink_when_empty();
        assert_eq!(ring.capacity(), MIN_ALLOCATION);
        assert_eq!(ring.write(&bytes(0..6000)), MIN_ALLOCATION);
        assert_eq!(ring.allocated(), MIN_ALLOCATION);
        // No limit: up to the maximum again.
        ring.set_limit(usize::MAX);
        assert_eq!(ring.write(&bytes(0..6000)), 6000);
        assert_eq!(ring.capacity(), 1 << 20);
        // A zero limit takes nothing once the storage is gone.
        ring.set_limit(0);
        let mut out = vec![0; 1 << 14];
        ring.read(&mut out);
        ring.shrink_when_empty();
        assert_eq!((ring.capacity(), ring.free(), ring.write(&[1])), (0, 0, 0));
    }

    #[test]
    fn small_max_capacity_allocates_only_that() {
        let mut ring = RingBuffer::new(100);
        assert_eq!(ring.write(&[7; 150]), 100);
        assert_eq!(ring.allocated(), 100);
        let mut ring = RingBuffer::new(0);
        assert_eq!(ring.write(&[7; 10]), 0);
        assert_eq!(ring.write_at(0, &[7; 10]), 0);
        assert_eq!(ring.allocated(), 0);
    }

    #[test]
    fn wraps_around_and_reads_back_in_order() {
        let mut ring = RingBuffer::new(16);
        assert_eq!(ring.write(&bytes(0..12)), 12);
        let mut out = [0; 10];
        assert_eq!(ring.read(&mut out), 10);
        assert_eq!(out.to_vec(), bytes(0..10));
        // 2 bytes left at storage 10..12; 12 more go to 12..16 then wrap to 0..8.
        assert_eq!(ring.write(&bytes(12..24)), 12);
        assert_eq!(ring.len(), 14);
        let (a, b) = ring.slices(0, 14);
        assert_eq!(a.to_vec(), bytes(10..16));
        assert_eq!(b.to_vec(), bytes(16..24));
        let (a, b) = ring.slices(6, 100);
        assert_eq!((a.to_vec(), b.len()), (bytes(16..24), 0));
        let (a, b) = ring.slices(3, 4);
        assert_eq!((a.to_vec(), b.to_vec()), (bytes(13..16), bytes(16..17)));
        let mut out = [0; 5];
        assert_eq!(ring.peek(4, &mut out), 5);
        assert_eq!(out.to_vec(), bytes(14..19));
        assert_eq!(read_all(&mut ring), bytes(10..24));
    }

    #[test]
    fn contiguous_borrows_or_copies_at_the_wrap() {
        let mut ring = RingBuffer::new(8);
        ring.write(&bytes(0..6));
        ring.consume(5);
        ring.write(&bytes(6..12));
        let mut scratch = [0u8; 64];
        // Storage 5..8 does not wrap: borrowed.
        let ptr = ring.contiguous(0, 3, &mut scratch).as_ptr();
        assert_eq!(ptr, ring.slices(0, 3).0.as_ptr());
        assert_eq!(ring.contiguous(0, 7, &mut scratch).to_vec(), bytes(5..12));
        let mut small = [0u8; 4];
        assert_eq!(ring.contiguous(0, 7, &mut small).to_vec(), bytes(5..9));
        assert_eq!(ring.contiguous(9, 7, &mut scratch).len(), 0);
    }

    #[test]
    fn consume_clamps_and_empty_ring_restarts_at_zero() {
        let mut ring = RingBuffer::new(16);
        ring.write(&bytes(0..10));
        ring.consume(4);
        assert_eq!(ring.head, 4);
        ring.consume(100);
        assert!(ring.is_empty());
        assert_eq!(ring.head, 0, "an empty ring starts writing at storage 0 again");
        assert_eq!(ring.allocated(), 16);
        ring.write(&bytes(0..16));
        assert_eq!(ring.slices(0, 16).1.len(), 0);
    }

    #[test]
    fn peek_past_len_and_into_short_outputs() {
        let mut ring = RingBuffer::new(64);
        ring.write(&bytes(0..10));
        let mut out = [0; 4];
        assert_eq!(ring.peek(10, &mut out), 0);
        assert_eq!(ring.peek(usize::MAX, &mut out), 0);
        assert_eq!(ring.peek(8, &mut out), 2);
        assert_eq!(out[..2].to_vec(), bytes(8..10));
        assert_eq!(ring.read(&mut []), 0);
        assert_eq!(ring.len(), 10);
    }

    #[test]
    fn write_at_beyond_len_then_commit() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.write(&bytes(0..100));
        // A hole at 100..200, out-of-order data at 200..300.
        assert_eq!(ring.write_at(200, &bytes(200..300)), 100);
        assert_eq!(ring.len(), 100, "write_at does not make data readable");
        assert_eq!(ring.slices(0, 1000).0.len(), 100);
        // Nothing to commit past what was placed.
        ring.commit(1000);
        assert_eq!(ring.len(), 300);
        let mut ring = RingBuffer::new(1 << 16);
        ring.write(&bytes(0..100));
        ring.write_at(200, &bytes(200..300));
        ring.write_at(100, &bytes(100..200));
        ring.commit(200);
        assert_eq!(read_all(&mut ring), bytes(0..300));
        // Committing with nothing placed does nothing.
        ring.commit(5);
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn write_at_keeps_readable_bytes_and_clips_at_max_capacity() {
        let mut ring = RingBuffer::new(100);
        ring.write(&[1; 50]);
        // Overlaps readable data 40..50: those stay as they were; 50..60 are placed.
        assert_eq!(ring.write_at(40, &[2; 20]), 20);
        ring.commit(10);
        let mut out = [0; 60];
        ring.peek(0, &mut out);
        assert_eq!(out[..50], [1; 50]);
        assert_eq!(out[50..], [2; 10]);
        // Clipped at max_capacity; past it or with overflowing offsets: nothing.
        assert_eq!(ring.write_at(90, &[3; 20]), 10);
        assert_eq!(ring.write_at(100, &[3; 20]), 0);
        assert_eq!(ring.write_at(usize::MAX, &[3; 20]), 0);
        assert_eq!(ring.write_at(usize::MAX - 5, &[3; 20]), 0);
        assert_eq!(ring.write_at(20, &[]), 0);
        assert_eq!(ring.allocated(), 100);
    }

    #[test]
    fn write_at_far_beyond_len_grows_storage() {
        let mut ring = RingBuffer::new(1 << 20);
        assert_eq!(ring.write_at(100_000, &bytes(0..10)), 10);
        assert_eq!(ring.allocated(), 131_072);
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn growth_while_wrapped_keeps_order_and_out_of_order_bytes() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.write(&bytes(0..4000));
        ring.consume(3000);
        // Wraps: storage 3000..4096 then 0..1904.
        ring.write(&bytes(4000..7000));
        assert!(ring.head > 0 && !ring.slices(0, 4000).1.is_empty());
        // Out-of-order bytes beyond len, themselves wrapped.
        ring.write_at(4050, &bytes(7050..7060));
        assert_eq!(ring.allocated(), MIN_ALLOCATION);
        // Growth while wrapped.
        ring.write(&bytes(7000..7050));
        ring.write_at(4060, &bytes(7060..9000));
        assert_eq!(ring.allocated(), 2 * MIN_ALLOCATION);
        assert_eq!(ring.head, 0);
        ring.commit(usize::MAX);
        assert_eq!(ring.len(), 6000);
        assert_eq!(read_all(&mut ring), bytes(3000..9000));
    }

    #[test]
    fn shrink_only_when_nothing_is_held() {
        let mut ring = RingBuffer::new(1 << 16);
        ring.shrink_when_empty();
        assert_eq!(ring.allocated(), 0);
        ring.write(&bytes(0..10));
        ring.shrink_when_empty();
        assert_eq!(ring.allocated(), MIN_ALLOCATION, "readable data is kept");
        ring.consume(10);
        ring.write_at(5, &bytes(0..10));
        ring.shrink_when_empty();
        assert_eq!(ring.allocated(), MIN_ALLOCATION, "out-of-order data is kept");
        ring.commit(15);
        ring.consume(15);
        ring.shrink_when_empty();
        assert_eq!(ring.allocated(), 0);
        // And it comes back on the next write.
        assert_eq!(ring.write(&bytes(0..3)), 3);
        assert_eq!(read_all(&mut ring), bytes(0..3));
    }

    /// An operation on the ring, for the model-based property test.
    #[derive(Clone, Debug)]
    enum Op {
        Write(Vec<u8>),
        Read(usize),
        Consume(usize),
        Peek(usize, usize),
        Slices(usize, usize),
        WriteAt(usize, Vec<u8>),
        Commit(usize),
        Shrink,
    }

    /// Sizes up to a few `MIN_ALLOCATION`s, so the ring grows (also while wrapped) and
    /// sometimes stops at a `max_capacity` that is not a power of two.
    fn op() -> impl Strategy<Value = Op> {
        let data = || proptest::collection::vec(any::<u8>(), 0..3000);
        let n = || 0usize..4000;
        prop_oneof![
            3 => data().prop_map(Op::Write),
            2 => n().prop_map(Op::Read),
            1 => n().prop_map(Op::Consume),
            1 => (n(), n()).prop_map(|(o, n)| Op::Peek(o, n)),
            1 => (n(), n()).prop_map(|(o, n)| Op::Slices(o, n)),
            2 => (0usize..20_000, data()).prop_map(|(o, d)| Op::WriteAt(o, d)),
            1 => n().prop_map(Op::Commit),
            1 => Just(Op::Shrink),
        ]
    }

    /// The reference: readable bytes in a `VecDeque`, and the bytes placed beyond them
    /// (`None` where nothing was placed; their committed value is unspecified).
    #[derive(Default)]
    struct Model {
        data: VecDeque<Option<u8>>,
        beyond: Vec<Option<u8>>,
    }

    fn check_bytes(model: &VecDeque<Option<u8>>, from: usize, got: &[u8]) {
        for (i, &b) in got.iter().enumerate() {
            if let Some(want) = model[from + i] {
                assert_eq!(b, want, "byte at offset {}", from + i);
            }
        }
    }

    proptest! {
        #[test]
        fn matches_a_vecdeque(max in 1usize..20_000, ops in proptest::collection::vec(op(), 1..60)) {
            let mut ring = RingBuffer::new(max);
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Write(d) => {
                        let n = d.len().min(max - model.data.len());
                        prop_assert_eq!(ring.write(&d), n);
                        model.data.extend(d[..n].iter().map(|&b| Some(b)));
                        model.beyond.drain(..n.min(model.beyond.len()));
                    }
                    Op::Read(n) => {
                        let mut out = vec![0; n];
                        let got = ring.read(&mut out);
                        prop_assert_eq!(got, n.min(model.data.len()));
                        let want: Vec<_> = model.data.drain(..got).collect();
                        check_bytes(&want.into(), 0, &out[..got]);
                    }
                    Op::Consume(n) => {
                        ring.consume(n);
                        model.data.drain(..n.min(model.data.len()));
                    }
                    Op::Peek(o, n) => {
                        let mut out = vec![0; n];
                        let got = ring.peek(o, &mut out);
                        prop_assert_eq!(got, n.min(model.data.len().saturating_sub(o)));
                        check_bytes(&model.data, o, &out[..got]);
                    }
                    Op::Slices(o, n) => {
                        let (a, b) = ring.slices(o, n);
                        prop_assert_eq!(a.len() + b.len(), n.min(model.data.len().saturating_sub(o)));
                        prop_assert!(b.is_empty() || !a.is_empty());
                        check_bytes(&model.data, o, &[a, b].concat());
                    }
                    Op::WriteAt(o, d) => {
                        let accepted = d.len().min(max.saturating_sub(o));
                        prop_assert_eq!(ring.write_at(o, &d), accepted);
                        let len = model.data.len();
                        for (i, &b) in d[..accepted].iter().enumerate() {
                            let at = o + i;
                            if at >= len {
                                let k = at - len;
                                if model.beyond.len() <= k {
                                    model.beyond.resize(k + 1, None);
                                }
                                model.beyond[k] = Some(b);
                            }
                        }
                    }
                    Op::Commit(n) => {
                        ring.commit(n);
                        let n = n.min(model.beyond.len());
                        model.data.extend(model.beyond.drain(..n));
                    }
                    Op::Shrink => {
                        ring.shrink_when_empty();
                        if model.data.is_empty() && model.beyond.is_empty() {
                            prop_assert_eq!(ring.allocated(), 0);
                        }
                    }
                }
                prop_assert_eq!(ring.len(), model.data.len());
                prop_assert_eq!(ring.free(), max - model.data.len());
                prop_assert!(ring.allocated() <= max);
                prop_assert!(ring.allocated() >= model.data.len() + model.beyond.len());
                let a = ring.allocated();
                prop_assert!(a == 0 || a == max || (a.is_power_of_two() && a >= MIN_ALLOCATION));
                let mut all = vec![0; model.data.len()];
                prop_assert_eq!(ring.peek(0, &mut all), model.data.len());
                check_bytes(&model.data, 0, &all);
            }
        }
    }
}
