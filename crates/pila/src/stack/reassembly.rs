//! Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5): one
//! reassembler, one memory bound, for both families.
//!
//! Fragments are keyed by what names their datagram: (source, destination, protocol,
//! identification) over IPv4, (source, destination, identification) over IPv6. Each
//! datagram under reassembly keeps the byte ranges it holds, sorted and merged, so its
//! holes are the gaps between them and the range past the last fragment until the one
//! without MF says where the datagram ends (RFC 815's hole list, stored as its complement).
//!
//! Three things end a datagram before it is whole, each counted as a failure:
//! - a fragment that overlaps bytes already held, unless it repeats them exactly: the whole
//!   datagram is dropped, and later fragments of it too until its time-out (RFC 5722, which
//!   Linux applies to IPv4 as well: overlaps are how evasion attacks work);
//! - the time-out (30 s by default for IPv4, RFC 791's TTL-bounded timer; 60 s for IPv6,
//!   RFC 8200 §4.5): the caller sends an ICMP or ICMPv6 time exceeded "fragment
//!   reassembly" if fragment 0 had arrived;
//! - the memory bound over all datagrams of both families: the oldest ones are evicted to
//!   make room.

use std::collections::{HashMap, VecDeque};

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::ipv4;
use crate::wire::ipv6::{self, ext};

/// The largest IPv4 payload: a 65535-byte datagram behind a 20-byte header.
const MAX_PAYLOAD: usize = 65535 - ipv4::HEADER_LEN;
/// Bytes charged for a datagram's bookkeeping beside its data: its entry in the table
/// (with the room a hash table keeps free), its list of ranges and its place in the
/// time-out queue. Measured with 20,000 lone first fragments of 1,400 bytes
/// (`tests/stack_floods.rs`): at 128 a 1 MiB bound let 1.39 MB of heap in, at 512 1.19
/// MB; at 768 the heap stays within the bound and a few kilobytes.
const OVERHEAD: usize = 768;

/// What identifies the fragments of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FragKey {
    /// RFC 791 §3.2.
    V4 { src: Ipv4Addr, dst: Ipv4Addr, protocol: Protocol, ident: u16 },
    /// RFC 8200 §4.5.
    V6 { src: Ipv6Addr, dst: Ipv6Addr, ident: u32 },
}

impl FragKey {
    pub(crate) fn of(ip: &ipv4::Repr) -> Self {
        Self::V4 { src: ip.src_addr, dst: ip.dst_addr, protocol: ip.protocol, ident: ip.ident }
    }

    const fn family(self) -> usize {
        match self {
            Self::V4 { .. } => 0,
            Self::V6 { .. } => 1,
        }
    }
}

/// What fragment 0 brings that the others do not: the headers the rebuilt datagram starts
/// with, and an ICMP error about it quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// The IPv4 header of fragment 0.
    V4(ipv4::Repr),
    /// The unfragmentable part of fragment 0 (the fixed header and the extension headers
    /// before the fragment header, as received) and the fragment header's next header.
    V6 { unfragmentable: Vec<u8>, next_header: Protocol },
}

impl Head {
    /// The start of fragment 0 as an ICMP error quotes it: its headers and the first
    /// `keep` bytes of `data`. An IPv6 quote keeps its fragment header (`ident`).
    fn quote(&self, data: &[u8], keep: usize, ident: u32) -> Vec<u8> {
        match self {
            Self::V4(header) => quote(header, data, keep),
            Self::V6 { unfragmentable, next_header } => {
                let quoted = data.get(..keep).unwrap_or(data);
                let mut bytes = unfragmentable.clone();
                let fragment =
                    ext::FragmentHeader { next_header: *next_header, offset: 0, more: true, ident };
                let at = bytes.len();
                bytes.resize(at + ext::FRAGMENT_LEN, 0);
                fragment.emit(&mut bytes[at..]);
                bytes.extend_from_slice(quoted);
                bytes
            }
        }
    }
}

/// One fragment, as the reassembler takes it.
#[derive(Debug)]
pub(crate) struct Fragment<'a> {
    pub(crate) key: FragKey,
    /// The offset of its data in the fragmentable part, in bytes.
    pub(crate) offset: usize,
    /// More fragments follow (MF, M).
    pub(crate) more: bool,
    /// Its data.
    pub(crate) data: &'a [u8],
    /// Fragment 0's headers, on fragment 0.
    pub(crate) head: Option<Head>,
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
    /// Fragment 0's headers, once it arrived: the rebuilt datagram's start, and what a
    /// time exceeded error quotes.
    first: Option<Head>,
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
    /// The datagram is whole: fragment 0's headers, and the fragmentable part. Over IPv4
    /// the header is the rebuilt one (offset 0, MF clear, the whole length).
    Done(Head, Vec<u8>),
    /// Dropped: it overlapped, lied about lengths, or found no room. `failed` is 1 when
    /// this fragment made its datagram fail, 0 when the datagram had failed before.
    /// (Datagrams evicted to make room are counted by [`Reassembler::take_evicted`].)
    Dropped { failed: u64 },
}

/// A datagram that timed out.
#[derive(Debug)]
pub(crate) struct Expired {
    /// Fragment 0's headers and the first bytes of its data, if fragment 0 arrived: what
    /// the ICMP or ICMPv6 time exceeded error quotes.
    pub(crate) quote: Option<Vec<u8>>,
    /// Whether the datagram had failed before (an overlap): then it was counted already.
    pub(crate) counted: bool,
    /// Whether it was an IPv6 one.
    pub(crate) v6: bool,
}

/// All datagrams under reassembly.
#[derive(Debug)]
pub(crate) struct Reassembler {
    datagrams: HashMap<FragKey, Datagram>,
    /// Per family (IPv4, IPv6): (deadline, key, generation), oldest first; entries of
    /// removed datagrams are stale. One time-out per family keeps each queue in order.
    order: [VecDeque<(Instant, FragKey, u64)>; 2],
    memory: usize,
    limit: usize,
    /// The time-outs of IPv4 and IPv6 datagrams.
    timeouts: [Duration; 2],
    generation: u64,
    /// Datagrams evicted for room since last taken.
    evicted: u64,
}

impl Reassembler {
    /// A reassembler whose datagrams time out after `timeout` (IPv4) or `timeout6`
    /// (IPv6) and that holds `limit` bytes at most.
    pub(crate) fn new(timeout: Duration, timeout6: Duration, limit: usize) -> Self {
        Self {
            datagrams: HashMap::new(),
            order: [VecDeque::new(), VecDeque::new()],
            memory: 0,
            limit,
            timeouts: [timeout, timeout6],
            generation: 0,
            evicted: 0,
        }
    }

    /// Bytes held by all datagrams under reassembly.
    pub(crate) const fn memory(&self) -> usize {
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
        self.order.iter().filter_map(|q| q.front().map(|&(t, _, _)| t)).min()
    }

    /// Adds one IPv4 fragment: `ip` its header, `payload` its data (total length's worth).
    pub(crate) fn insert(&mut self, now: Instant, ip: &ipv4::Repr, payload: &[u8]) -> Reassembled {
        let offset = usize::from(ip.frag_offset);
        let fragment = Fragment {
            key: FragKey::of(ip),
            offset,
            more: ip.more_frags,
            data: payload,
            head: (offset == 0).then_some(Head::V4(*ip)),
        };
        match self.insert_fragment(now, fragment) {
            Reassembled::Done(Head::V4(first), data) => {
                let header = ipv4::Repr {
                    payload_len: data.len(),
                    more_frags: false,
                    frag_offset: 0,
                    ..first
                };
                Reassembled::Done(Head::V4(header), data)
            }
            other => other,
        }
    }

    /// Adds one fragment of either family.
    pub(crate) fn insert_fragment(&mut self, now: Instant, fragment: Fragment<'_>) -> Reassembled {
        let Fragment { key, offset, more, data: payload, head } = fragment;
        let end = offset + payload.len();
        // Every fragment but the last carries a multiple of 8 bytes; none ends past the
        // largest datagram (RFC 791 §3.2, RFC 8200 §4.5).
        let most = match key {
            FragKey::V4 { .. } => MAX_PAYLOAD,
            FragKey::V6 { .. } => 65535,
        };
        let lying = end > most || (more && payload.len() % 8 != 0);
        if !self.datagrams.contains_key(&key) {
            if lying || OVERHEAD + end > self.limit {
                return Reassembled::Dropped { failed: 1 };
            }
            self.make_room(OVERHEAD + end, None);
            self.generation += 1;
            let family = key.family();
            let deadline = now + self.timeouts[family];
            self.order[family].push_back((deadline, key, self.generation));
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
        let bad_end = match (d.total, more) {
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
            d.first = None;
            d.dead = true;
            return Reassembled::Dropped { failed: 1 };
        }
        if !more {
            d.total = Some(end);
        }
        if head.is_some() {
            d.first = head;
        }
        self.memory = self.memory + d.cost() - before;
        if !d.complete() {
            return Reassembled::Pending;
        }
        let Some(d) = self.datagrams.remove(&key) else { return Reassembled::Pending };
        self.memory -= d.cost();
        self.trim_order();
        let Some(first) = d.first else { return Reassembled::Pending };
        Reassembled::Done(first, d.data)
    }

    /// Drops the datagrams whose time is up; returns what the caller needs to report them.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        for family in 0..2 {
            while let Some(&(t, key, generation)) = self.order[family].front() {
                if t > now {
                    break;
                }
                self.order[family].pop_front();
                if self.datagrams.get(&key).is_none_or(|d| d.generation != generation) {
                    continue;
                }
                let Some(d) = self.datagrams.remove(&key) else { continue };
                self.memory -= d.cost();
                // Fragment 0's headers as received, and 8 bytes of its data (IPv4, RFC
                // 792) or as much as an ICMPv6 error holds (IPv6, RFC 4443 §2.4 (c)).
                let (keep, ident) = match key {
                    FragKey::V4 { .. } => (8, 0),
                    FragKey::V6 { ident, .. } => (ipv6::MIN_MTU, ident),
                };
                let quote =
                    d.first.as_ref().filter(|_| !d.dead).map(|h| h.quote(&d.data, keep, ident));
                out.push(Expired { quote, counted: d.dead, v6: family == 1 });
            }
        }
        out
    }

    /// Evicts the oldest datagrams of either family, never `keep`, until `need` more
    /// bytes fit.
    fn make_room(&mut self, need: usize, keep: Option<FragKey>) {
        let mut kept = None;
        while self.memory + need > self.limit {
            // The queue whose front arrived first.
            let arrived = |f: usize| {
                self.order[f].front().map(|&(t, _, _)| {
                    t.total_micros().saturating_sub(self.timeouts[f].total_micros())
                })
            };
            let family = match (arrived(0), arrived(1)) {
                (Some(a), Some(b)) => usize::from(b < a),
                (Some(_), None) => 0,
                (None, Some(_)) => 1,
                (None, None) => break,
            };
            let Some(entry) = self.order[family].pop_front() else { break };
            let (_, key, generation) = entry;
            if self.datagrams.get(&key).is_none_or(|d| d.generation != generation) {
                continue;
            }
            if Some(key) == keep {
                kept = Some((family, entry));
                continue;
            }
            if let Some(d) = self.datagrams.remove(&key) {
                self.memory -= d.cost();
                if !d.dead {
                    self.evicted += 1;
                }
            }
        }
        if let Some((family, entry)) = kept {
            self.order[family].push_front(entry);
        }
    }

    /// Pops stale entries off the front of the time-out queues.
    fn trim_order(&mut self) {
        for order in &mut self.order {
            while let Some(&(_, key, generation)) = order.front() {
                if self.datagrams.get(&key).is_some_and(|d| d.generation == generation) {
                    break;
                }
                order.pop_front();
            }
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
        Reassembler::new(Duration::from_secs(30), Duration::from_secs(60), 1 << 20)
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
            Reassembled::Done(Head::V4(h), payload) => {
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
        let mut r = Reassembler::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            3 * (OVERHEAD + 1000),
        );
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
        let mut small = Reassembler::new(Duration::from_secs(30), Duration::from_secs(60), 512);
        assert_eq!(
            small.insert(T0, &header(9, 0, true, 1000), &[0; 1000]),
            Reassembled::Dropped { failed: 1 }
        );
        assert_eq!(small.memory(), 0);
    }

    /// An IPv6 fragment of packet `ident` from 2001:db8::1.
    fn frag6(ident: u32, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        let head = (offset == 0).then(|| Head::V6 {
            unfragmentable: vec![0x60; ipv6::HEADER_LEN],
            next_header: Protocol::Udp,
        });
        Fragment {
            key: FragKey::V6 {
                src: "2001:db8::1".parse().unwrap(),
                dst: "2001:db8::2".parse().unwrap(),
                ident,
            },
            offset,
            more,
            data,
            head,
        }
    }

    #[test]
    fn ipv6_fragments_reassemble_under_the_same_rules() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut r = reasm();
        assert_eq!(
            r.insert_fragment(T0, frag6(9, 1448, true, &data[1448..2896])),
            Reassembled::Pending
        );
        assert_eq!(
            r.insert_fragment(T0, frag6(9, 2896, false, &data[2896..])),
            Reassembled::Pending
        );
        // An IPv4 datagram with the same numbers is another datagram.
        assert_eq!(feed(&mut r, 9, &data[..16], 0, 8), Reassembled::Pending);
        match r.insert_fragment(T0, frag6(9, 0, true, &data[..1448])) {
            Reassembled::Done(Head::V6 { unfragmentable, next_header }, payload) => {
                assert_eq!((unfragmentable.len(), next_header), (40, Protocol::Udp));
                assert_eq!(payload, data);
            }
            other => panic!("{other:?}"),
        }
        // The same overlap rule.
        assert_eq!(r.insert_fragment(T0, frag6(10, 0, true, &data[..64])), Reassembled::Pending);
        let overlap = r.insert_fragment(T0, frag6(10, 56, false, &data[..64]));
        assert_eq!(overlap, Reassembled::Dropped { failed: 1 });
        // A fragment may end at 65535 bytes over IPv6, not past it.
        assert_eq!(
            r.insert_fragment(T0, frag6(11, 65528, false, &data[..7])),
            Reassembled::Pending
        );
        let past = r.insert_fragment(T0, frag6(12, 65528, false, &data[..8]));
        assert_eq!(past, Reassembled::Dropped { failed: 1 });
    }

    #[test]
    fn each_family_times_out_on_its_own_clock_and_ipv6_quotes_its_fragment_header() {
        let data = [3u8; 64];
        let mut r = reasm();
        assert_eq!(r.insert_fragment(T0, frag6(77, 0, true, &data[..16])), Reassembled::Pending);
        let later = T0 + Duration::from_secs(1);
        assert_eq!(r.insert(later, &header(1, 0, true, 16), &data[..16]), Reassembled::Pending);
        // IPv4's 30 s come first, though its datagram came second.
        assert_eq!(r.poll_at(), Some(later + Duration::from_secs(30)));
        let expired = r.handle_timeout(later + Duration::from_secs(30));
        assert_eq!(expired.len(), 1);
        assert!(!expired[0].v6);
        assert_eq!(r.poll_at(), Some(T0 + Duration::from_secs(60)));
        let expired = r.handle_timeout(T0 + Duration::from_secs(60));
        assert_eq!(expired.len(), 1);
        assert!(expired[0].v6 && !expired[0].counted);
        let quote = expired[0].quote.as_ref().unwrap();
        // The unfragmentable part, a fragment header naming UDP with the identification,
        // and the data.
        assert_eq!(quote.len(), 40 + 8 + 16);
        let fragment = ext::FragmentHeader::parse(&quote[40..]).unwrap();
        assert_eq!((fragment.ident, fragment.offset, fragment.next_header), (77, 0, Protocol::Udp));
        assert_eq!((r.len(), r.memory()), (0, 0));
    }

    #[test]
    fn both_families_share_the_memory_bound_and_the_oldest_goes_first() {
        let data = vec![0u8; 1000];
        let mut r = Reassembler::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            2 * (OVERHEAD + 1000),
        );
        assert_eq!(r.insert_fragment(T0, frag6(1, 0, true, &data)), Reassembled::Pending);
        let later = T0 + Duration::from_secs(1);
        assert_eq!(r.insert(later, &header(2, 0, true, 1000), &data), Reassembled::Pending);
        // A third datagram needs room: the IPv6 one, the oldest, goes, though its deadline
        // is the later one.
        assert_eq!(r.insert(later, &header(3, 0, true, 1000), &data), Reassembled::Pending);
        assert_eq!((r.len(), r.take_evicted()), (2, 1));
        // Another small IPv6 one: the oldest left, the first IPv4 one, makes way.
        let small = r.insert_fragment(later, frag6(4, 0, true, &data[..8]));
        assert_eq!(small, Reassembled::Pending);
        assert_eq!((r.len(), r.take_evicted()), (2, 1));
        let expired = r.handle_timeout(later + Duration::from_secs(30));
        assert_eq!(expired.len(), 1, "IPv4 datagram 3 is left");
        assert!(!expired[0].v6);
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
