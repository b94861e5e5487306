//! IPv4 fragment reassembly (RFC 791 §3.2, RFC 815).
//!
//! Fragments are keyed by (source, destination, protocol, identification). Each datagram
//! under reassembly keeps the byte ranges it holds, sorted and merged, so its holes are the
//! gaps between them and the range past the last fragment until the one without MF says
//! where the datagram ends (RFC 815's hole list, stored as its complement).
//!
//! Three things end a datagram before it is whole, each counted as a failure:
//! - a fragment that overlaps bytes already held, unless it repeats them exactly: the whole
//!   datagram is dropped, and later fragments of it too until its time-out (RFC 5722's rule,
//!   which Linux applies to IPv4 as well: overlaps are how evasion attacks work);
//! - the time-out (RFC 791's TTL-bounded timer, 30 s by default): the caller sends an ICMP
//!   time exceeded "fragment reassembly" if fragment 0 had arrived (RFC 792);
//! - the memory bound over all datagrams: the oldest ones are evicted to make room.

use std::collections::{HashMap, VecDeque};

use core::net::Ipv4Addr;

use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::ipv4;

/// The largest IPv4 payload: a 65535-byte datagram behind a 20-byte header.
const MAX_PAYLOAD: usize = 65535 - ipv4::HEADER_LEN;
/// Bytes charged for a datagram's bookkeeping beside its data.
const OVERHEAD: usize = 128;

/// What identifies the fragments of one datagram (RFC 791 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
    pub(crate) protocol: Protocol,
    pub(crate) ident: u16,
}

impl FragKey {
    pub(crate) fn of(ip: &ipv4::Repr) -> Self {
        Self { src: ip.src_addr, dst: ip.dst_addr, protocol: ip.protocol, ident: ip.ident }
    }
}

/// One datagram under reassembly.
#[derive(Debug)]
struct Datagram {
    /// Distinguishes this datagram from an earlier one with the same key in `order`.
    generation: u64,
    /// The payload bytes received so far, at their offsets.
    data: Vec<u8>,
    /// The ranges of `data` received, sorted, disjoint and not adjacent.
    ranges: Vec<(usize, usize)>,
    /// The payload length, known once the last fragment (MF clear) arrived.
    total: Option<usize>,
    /// Fragment 0's header, once it arrived: the rebuilt datagram's header, and the one a
    /// time exceeded error quotes.
    first: Option<ipv4::Repr>,
    /// An overlap was seen: every fragment is dropped until the deadline.
    dead: bool,
}

impl Datagram {
    fn cost(&self) -> usize {
        self.data.len() + OVERHEAD
    }

    /// Adds `payload` at `offset`; `Err(())` on an overlap that is not an exact repeat.
    fn insert(&mut self, offset: usize, payload: &[u8]) -> Result<(), ()> {
        let end = offset + payload.len();
        if payload.is_empty() {
            return Ok(());
        }
        // The first range that ends at or after `offset`: it and the ones after it that
        // start at or before `end` touch the new fragment.
        let i = self.ranges.partition_point(|&(_, e)| e < offset);
        let mut j = i;
        while let Some(&(s, e)) = self.ranges.get(j) {
            if s > end {
                break;
            }
            if s < end && e > offset {
                // Overlap: an exact repeat of held bytes is harmless, anything else is not.
                let same = s <= offset
                    && e >= end
                    && self.data.get(offset..end).is_some_and(|held| held == payload);
                return if same { Ok(()) } else { Err(()) };
            }
            j += 1;
        }
        if self.data.len() < end {
            self.data.reserve_exact(end - self.data.len());
            self.data.resize(end, 0);
        }
        if let Some(dst) = self.data.get_mut(offset..end) {
            dst.copy_from_slice(payload);
        }
        // Ranges i..j only touch [offset, end): merge them with it.
        let start = self.ranges.get(i).filter(|_| i < j).map_or(offset, |&(s, _)| s.min(offset));
        let stop =
            if j > i { self.ranges.get(j - 1).map_or(end, |&(_, e)| e.max(end)) } else { end };
        self.ranges.splice(i..j, [(start, stop)]);
        Ok(())
    }

    fn complete(&self) -> bool {
        self.first.is_some() && self.total.is_some_and(|t| self.ranges == [(0, t)])
    }
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reassembled {
    /// Kept; the datagram is not whole yet.
    Pending,
    /// The datagram is whole: its header (offset 0, MF clear) and payload.
    Done(ipv4::Repr, Vec<u8>),
    /// Dropped: it overlapped, lied about lengths, or found no room. `failed` is 1 when
    /// this fragment made its datagram fail, 0 when the datagram had failed before.
    /// (Datagrams evicted to make room are counted by [`Reassembler::take_evicted`].)
    Dropped { failed: u64 },
}

/// A datagram that timed out.
#[derive(Debug)]
pub(crate) struct Expired {
    /// Fragment 0's header and the first bytes of its payload, if fragment 0 arrived:
    /// what the ICMP time exceeded error quotes.
    pub(crate) quote: Option<Vec<u8>>,
    /// Whether the datagram had failed before (an overlap): then it was counted already.
    pub(crate) counted: bool,
}

/// All datagrams under reassembly.
#[derive(Debug)]
pub(crate) struct Reassembler {
    datagrams: HashMap<FragKey, Datagram>,
    /// (deadline, key, generation), oldest first; entries of removed datagrams are stale.
    order: VecDeque<(Instant, FragKey, u64)>,
    memory: usize,
    limit: usize,
    timeout: Duration,
    generation: u64,
    /// Datagrams evicted for room since last taken.
    evicted: u64,
}

impl Reassembler {
    pub(crate) fn new(timeout: Duration, limit: usize) -> Self {
        Self {
            datagrams: HashMap::new(),
            order: VecDeque::new(),
            memory: 0,
            limit,
            timeout,
            generation: 0,
            evicted: 0,
        }
    }

    /// Bytes held by all datagrams under reassembly.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.memory
    }

    /// Datagrams under reassembly (dead ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// How many datagrams were evicted to make room since the last call.
    pub(crate) fn take_evicted(&mut self) -> u64 {
        core::mem::take(&mut self.evicted)
    }

    /// When the oldest datagram times out.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        self.order.front().map(|&(t, _, _)| t)
    }

    /// Adds one fragment: `ip` its header, `payload` its data (total length's worth).
    pub(crate) fn insert(&mut self, now: Instant, ip: &ipv4::Repr, payload: &[u8]) -> Reassembled {
        let key = FragKey::of(ip);
        let offset = usize::from(ip.frag_offset);
        let end = offset + payload.len();
        // RFC 791: every fragment but the last carries a multiple of 8 bytes; none ends
        // past the largest datagram.
        let lying = end > MAX_PAYLOAD || (ip.more_frags && payload.len() % 8 != 0);
        if !self.datagrams.contains_key(&key) {
            if lying || OVERHEAD + end > self.limit {
                return Reassembled::Dropped { failed: 1 };
            }
            self.make_room(OVERHEAD + end, None);
            self.generation += 1;
            let deadline = now + self.timeout;
            self.order.push_back((deadline, key, self.generation));
            self.datagrams.insert(
                key,
                Datagram {
                    generation: self.generation,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    first: None,
                    dead: false,
                },
            );
            self.memory += OVERHEAD;
        }
        let Some(d) = self.datagrams.get(&key) else {
            return Reassembled::Dropped { failed: 0 };
        };
        if d.dead {
            return Reassembled::Dropped { failed: 0 };
        }
        let grows = end.saturating_sub(d.data.len());
        if !lying && grows > 0 && self.memory + grows > self.limit {
            self.make_room(grows, Some(key));
        }
        let Some(d) = self.datagrams.get_mut(&key) else {
            return Reassembled::Dropped { failed: 0 };
        };
        // The end is known once: a second last fragment, or data past it, is a lie.
        let bad_end = match (d.total, ip.more_frags) {
            (Some(t), _) if end > t => true,
            (Some(t), false) => end != t,
            (None, false) => d.ranges.last().is_some_and(|&(_, e)| e > end),
            (_, true) => false,
        };
        let before = d.cost();
        let fits = self.memory + grows <= self.limit;
        if lying || bad_end || !fits || d.insert(offset, payload).is_err() {
            self.memory -= before - OVERHEAD;
            d.data = Vec::new();
            d.ranges = Vec::new();
            d.dead = true;
            return Reassembled::Dropped { failed: 1 };
        }
        if !ip.more_frags {
            d.total = Some(end);
        }
        if offset == 0 {
            d.first = Some(*ip);
        }
        self.memory = self.memory + d.cost() - before;
        if !d.complete() {
            return Reassembled::Pending;
        }
        let Some(d) = self.datagrams.remove(&key) else { return Reassembled::Pending };
        self.memory -= d.cost();
        self.trim_order();
        let Some(first) = d.first else { return Reassembled::Pending };
        let header =
            ipv4::Repr { payload_len: d.data.len(), more_frags: false, frag_offset: 0, ..first };
        Reassembled::Done(header, d.data)
    }

    /// Drops the datagrams whose time is up; returns what the caller needs to report them.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some(&(t, key, generation)) = self.order.front() {
            if t > now {
                break;
            }
            self.order.pop_front();
            if self.datagrams.get(&key).is_none_or(|d| d.generation != generation) {
                continue;
            }
            let Some(d) = self.datagrams.remove(&key) else { continue };
            self.memory -= d.cost();
            // Fragment 0's header as received (its total length), cut after 8 bytes.
            let quote = d.first.filter(|_| !d.dead).map(|first| quote(&first, &d.data, 8));
            out.push(Expired { quote, counted: d.dead });
        }
        out
    }

    /// Evicts the oldest datagrams, never `keep`, until `need` more bytes fit.
    fn make_room(&mut self, need: usize, keep: Option<FragKey>) {
        let mut kept = None;
        while self.memory + need > self.limit {
            let Some(entry) = self.order.pop_front() else { break };
            let (_, key, generation) = entry;
            if self.datagrams.get(&key).is_none_or(|d| d.generation != generation) {
                continue;
            }
            if Some(key) == keep {
                kept = Some(entry);
                continue;
            }
            if let Some(d) = self.datagrams.remove(&key) {
                self.memory -= d.cost();
                if !d.dead {
                    self.evicted += 1;
                }
            }
        }
        if let Some(entry) = kept {
            self.order.push_front(entry);
        }
    }

    /// Pops stale entries off the front of the time-out queue.
    fn trim_order(&mut self) {
        while let Some(&(_, key, generation)) = self.order.front() {
            if self.datagrams.get(&key).is_some_and(|d| d.generation == generation) {
                break;
            }
            self.order.pop_front();
        }
    }
}

/// `header` followed by at most `keep` bytes of `data`: the start of a datagram as an ICMP
/// error quotes it. The header keeps its own total length, so the quote may be shorter.
pub(super) fn quote(header: &ipv4::Repr, data: &[u8], keep: usize) -> Vec<u8> {
    let quoted = data.get(..keep).unwrap_or(data);
    let mut bytes = vec![0; ipv4::HEADER_LEN + quoted.len()];
    let (h, p) = bytes.split_at_mut(ipv4::HEADER_LEN);
    header.emit(&mut ipv4::Packet::new_unchecked(h), &crate::wire::Checksums::SOFTWARE);
    p.copy_from_slice(quoted);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Instant = Instant::ZERO;

    fn header(ident: u16, offset: usize, more: bool, len: usize) -> ipv4::Repr {
        ipv4::Repr {
            src_addr: Ipv4Addr::new(192, 0, 2, 1),
            dst_addr: Ipv4Addr::new(192, 0, 2, 2),
            protocol: Protocol::Udp,
            payload_len: len,
            ttl: 64,
            tos: 0,
            ident,
            dont_frag: false,
            more_frags: more,
            frag_offset: offset as u16,
        }
    }

    fn reasm() -> Reassembler {
        Reassembler::new(Duration::from_secs(30), 1 << 20)
    }

    /// Feeds `data[start..end]` as one fragment of datagram `ident`.
    fn feed(r: &mut Reassembler, ident: u16, data: &[u8], start: usize, end: usize) -> Reassembled {
        let more = end < data.len();
        r.insert(T0, &header(ident, start, more, end - start), &data[start..end])
    }

    #[test]
    fn fragments_in_any_order_make_the_datagram() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut r = reasm();
        assert_eq!(feed(&mut r, 7, &data, 48, 100), Reassembled::Pending);
        assert_eq!(feed(&mut r, 7, &data, 0, 24), Reassembled::Pending);
        assert_eq!(feed(&mut r, 7, &data, 0, 24), Reassembled::Pending, "exact repeat");
        match feed(&mut r, 7, &data, 24, 48) {
            Reassembled::Done(h, payload) => {
                assert_eq!(payload, data);
                assert_eq!((h.payload_len, h.more_frags, h.frag_offset), (100, false, 0));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((r.len(), r.memory()), (0, 0));
        assert_eq!(r.poll_at(), None, "no stale time-out left");
    }

    #[test]
    fn overlap_kills_the_whole_datagram_and_its_later_fragments() {
        let data = vec![1u8; 64];
        let mut r = reasm();
        assert_eq!(feed(&mut r, 1, &data, 0, 32), Reassembled::Pending);
        // Starts inside the first fragment.
        assert_eq!(feed(&mut r, 1, &data, 24, 64), Reassembled::Dropped { failed: 1 });
        // The missing piece now completes nothing and is not counted again.
        assert_eq!(feed(&mut r, 1, &data, 32, 64), Reassembled::Dropped { failed: 0 });
        assert_eq!(r.memory(), OVERHEAD, "the dead datagram holds no data");
        let expired = r.handle_timeout(T0 + Duration::from_secs(30));
        assert_eq!(expired.len(), 1);
        assert!(expired[0].counted && expired[0].quote.is_none());
        assert_eq!((r.len(), r.memory()), (0, 0));
    }

    #[test]
    fn same_bytes_at_a_different_place_are_an_overlap_too() {
        let data = vec![0u8; 48];
        let mut r = reasm();
        feed(&mut r, 1, &data, 8, 24);
        // Covers [0, 16): overlaps [8, 16) without being a repeat of a held fragment.
        assert_eq!(feed(&mut r, 1, &data, 0, 16), Reassembled::Dropped { failed: 1 });
    }

    #[test]
    fn lying_lengths_are_dropped() {
        let mut r = reasm();
        // MF with a length that is not a multiple of 8.
        assert_eq!(
            r.insert(T0, &header(1, 0, true, 7), &[0; 7]),
            Reassembled::Dropped { failed: 1 }
        );
        // Past 65535 bytes.
        assert_eq!(
            r.insert(T0, &header(2, 65528, false, 16), &[0; 16]),
            Reassembled::Dropped { failed: 1 }
        );
        // Two different ends.
        assert_eq!(r.insert(T0, &header(3, 16, false, 8), &[0; 8]), Reassembled::Pending);
        assert_eq!(
            r.insert(T0, &header(3, 32, false, 8), &[0; 8]),
            Reassembled::Dropped { failed: 1 }
        );
        // Data past a known end.
        assert_eq!(r.insert(T0, &header(4, 16, false, 8), &[0; 8]), Reassembled::Pending);
        assert_eq!(
            r.insert(T0, &header(4, 24, true, 8), &[0; 8]),
            Reassembled::Dropped { failed: 1 }
        );
    }

    #[test]
    fn time_out_quotes_fragment_zero_only_when_it_came() {
        let data = vec![9u8; 64];
        let mut r = reasm();
        feed(&mut r, 1, &data, 0, 16);
        feed(&mut r, 2, &data, 16, 32);
        assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(30)));
        assert!(r.handle_timeout(T0 + Duration::from_secs(29)).is_empty());
        let expired = r.handle_timeout(T0 + Duration::from_secs(30));
        assert_eq!(expired.len(), 2);
        let quote = expired[0].quote.as_ref().unwrap();
        let (h, payload) = ipv4::Repr::parse_quoted(quote).unwrap();
        assert_eq!((h.ident, h.more_frags, h.frag_offset, h.payload_len), (1, true, 0, 16));
        assert_eq!(payload, &[9; 8]);
        assert!(expired[1].quote.is_none(), "fragment 0 of datagram 2 never came");
        assert_eq!((r.len(), r.memory()), (0, 0));
    }

    #[test]
    fn the_memory_bound_evicts_the_oldest() {
        let mut r = Reassembler::new(Duration::from_secs(30), 3 * (OVERHEAD + 1000));
        for ident in 0..3 {
            assert_eq!(
                r.insert(T0, &header(ident, 0, true, 1000), &[0; 1000]),
                Reassembled::Pending
            );
        }
        assert_eq!(r.len(), 3);
        // A fourth needs room: datagram 0 goes.
        assert_eq!(r.insert(T0, &header(3, 0, true, 1000), &[0; 1000]), Reassembled::Pending);
        assert_eq!((r.len(), r.take_evicted()), (3, 1));
        assert!(r.memory() <= 3 * (OVERHEAD + 1000));
        // Datagram 3, the newest, grows past the bound: the oldest (1) makes way, not 3.
        assert!(matches!(
            r.insert(T0, &header(3, 1000, false, 800), &[0; 800]),
            Reassembled::Done(..)
        ));
        assert_eq!(r.len(), 1, "only datagram 2 is left");
        assert_eq!(r.take_evicted(), 1);
        assert_eq!(r.insert(T0, &header(1, 1000, false, 8), &[0; 8]), Reassembled::Pending);
        assert_eq!(r.len(), 2, "datagram 1 starts over");
        assert!(r.memory() <= 3 * (OVERHEAD + 1000));
        // One datagram alone larger than the bound never fits.
        let mut small = Reassembler::new(Duration::from_secs(30), 512);
        assert_eq!(
            small.insert(T0, &header(9, 0, true, 1000), &[0; 1000]),
            Reassembled::Dropped { failed: 1 }
        );
        assert_eq!(small.memory(), 0);
    }

    proptest! {
        /// Against a model: cut a datagram at 8-byte boundaries, send the pieces shuffled,
        /// some twice: it comes out whole exactly when the last piece is in, and the memory
        /// goes back to zero.
        #[test]
        fn shuffled_fragments_reassemble(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(1usize..400, 0..12),
            order in any::<u64>(),
            repeats in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4),
        ) {
            let mut bounds = vec![0];
            for c in cuts {
                let at = (bounds.last().unwrap() + c * 8).min(data.len());
                if at < data.len() { bounds.push(at) }
            }
            bounds.push(data.len());
            bounds.dedup();
            let mut pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
            let n = pieces.len();
            let mut x = order | 1;
            for i in (1..n).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                pieces.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut r = reasm();
            // Repeats of pieces sent before the last one.
            let mut seq: Vec<(usize, usize)> = pieces[..n - 1].to_vec();
            for idx in &repeats {
                if n > 1 { seq.push(pieces[idx.index(n - 1)]); }
            }
            for &(s, e) in &seq {
                prop_assert_eq!(feed(&mut r, 5, &data, s, e), Reassembled::Pending);
            }
            match feed(&mut r, 5, &data, pieces[n - 1].0, pieces[n - 1].1) {
                Reassembled::Done(_, payload) => prop_assert_eq!(payload, data),
                other => prop_assert!(false, "{:?}", other),
            }
            prop_assert_eq!(r.memory(), 0);
        }
    }
}
