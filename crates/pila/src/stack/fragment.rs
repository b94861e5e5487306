//! Fragments of both families: reassembly on input, in the one reassembler both share
//! (see [`super::reassembly`]), and fragmentation on output (RFC 791 §3.2, RFC 1122
//! §3.3.2; RFC 8200 §4.5).
//!
//! Fragmentation happens at the last step, when a datagram's next hop is known and it
//! joins the link queue (Linux does it in `ip_finish_output`): a datagram waiting for ARP
//! or neighbour discovery waits whole, so the per-neighbour queue bound counts datagrams,
//! not fragments. Over IPv6 only the source fragments, and the packets pila makes larger
//! than the MTU are its own UDP datagrams and ICMPv6 messages (TCP sizes its segments to
//! the path).

use core::hash::Hasher as _;

use super::Stack;
use super::link::LinkFrame;
use super::reassembly::{FragKey, Fragment, Head, Reassembled, quote};
use crate::time::Instant;
use crate::wire::ip::Protocol;
use crate::wire::ipv6::{self, ext};
use crate::wire::{Checksum, Error, ethernet, icmpv4, icmpv6, ipv4};

/// The most payload an ICMP error quotes after the offending datagram's header: what fits
/// a 576-byte error (RFC 1812 §4.3.2.3).
const QUOTABLE: usize = icmpv4::MAX_ERROR_DATAGRAM_LEN - 2 * ipv4::HEADER_LEN - icmpv4::HEADER_LEN;

impl Stack {
    /// A fragment addressed to us: kept until its datagram is whole, then delivered.
    pub(super) fn fragment_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        broadcast: bool,
    ) {
        self.counters.ip_reasm_reqds += 1;
        if !self.memory_allows(payload.len()) {
            self.counters.ip_reasm_fails += 1;
            self.counters.mem_dropped += 1;
            return;
        }
        let outcome = self.reasm.insert(now, ip, payload);
        self.memory_changed();
        self.counters.ip_reasm_fails += self.reasm.take_evicted();
        match outcome {
            Reassembled::Pending => {}
            Reassembled::Dropped { failed } => self.counters.ip_reasm_fails += failed,
            // An IPv4 fragment makes an IPv4 datagram.
            Reassembled::Done(Head::V6 { .. }, _) => {}
            Reassembled::Done(Head::V4(header), data) => {
                self.counters.ip_reasm_oks += 1;
                // The datagram's start as if it had come whole, as much as an ICMP error
                // about it can quote.
                let raw = quote(&header, &data, QUOTABLE);
                self.deliver(now, &header, &data, &raw, broadcast);
            }
        }
    }

    /// Drops the datagrams whose reassembly timed out, sending an ICMP time exceeded
    /// "fragment reassembly" to the source when fragment 0 had arrived (RFC 792, RFC 1122
    /// §3.3.2).
    pub(super) fn reassembly_timeout(&mut self, now: Instant) {
        for expired in self.reasm.handle_timeout(now) {
            if expired.v6 {
                self.reassembly6_expired(now, expired);
                continue;
            }
            if !expired.counted {
                self.counters.ip_reasm_fails += 1;
            }
            let Some(quote) = expired.quote else { continue };
            let Ok((header, _)) = ipv4::Repr::parse_quoted(&quote) else { continue };
            let (src, dst) = (header.src_addr, header.dst_addr);
            if src.is_unspecified() || self.iface.is_broadcast(dst) || dst.is_multicast() {
                continue;
            }
            if !self.icmp_bucket.take(now) {
                self.counters.icmp_out_rate_limited += 1;
                continue;
            }
            let reason = icmpv4::TimeExceeded::FragReassemblyExpired;
            let Ok(repr) = icmpv4::Repr::time_exceeded(reason, &quote) else { continue };
            let datagram = self.icmp_packet(dst, src, &repr);
            if self.send_ip(now, src, datagram, None).is_ok() {
                self.counters.icmp_out_msgs += 1;
            }
        }
    }

    /// An IPv6 fragment for us (RFC 8200 §4.5): `raw` the packet, `chain` its headers up
    /// to `fragment`'s. Kept until its packet is whole, which is then delivered as if it
    /// had come so. What RFC 8200 and RFC 7112 refuse is answered with a Parameter
    /// Problem.
    pub(super) fn fragment6_input(
        &mut self,
        now: Instant,
        ip: &ipv6::Repr,
        raw: &[u8],
        chain: &ext::Chain,
        fragment: ext::FragmentHeader,
        multicast: bool,
    ) {
        self.counters.ip6_reasm_reqds += 1;
        let payload = raw.get(ipv6::HEADER_LEN..).unwrap_or_default();
        let data = payload.get(chain.start..).unwrap_or_default();
        // Where the fragment header is, in the packet.
        let at = ipv6::HEADER_LEN + chain.start - ext::FRAGMENT_LEN;
        let offset = usize::from(fragment.offset);
        let problem = if fragment.more && data.len() % 8 != 0 {
            // Not a multiple of 8 bytes, and not the last: the payload length is wrong.
            Some((ext::ProblemCode::ErroneousField, 4))
        } else if offset + data.len() > 65535 {
            Some((ext::ProblemCode::ErroneousField, at + 2))
        } else if offset == 0 && !upper_header_whole(fragment.next_header, data, at, multicast) {
            // RFC 7112 §5: the first fragment holds every header up to the upper layer's.
            Some((ext::ProblemCode::IncompleteHeaderChain, 0))
        } else {
            None
        };
        if let Some((code, pointer)) = problem {
            self.counters.ip6_reasm_fails += 1;
            if !multicast {
                let pointer = u32::try_from(pointer).unwrap_or(u32::MAX);
                self.icmpv6_param_problem(now, code, pointer, ip, raw);
            }
            return;
        }
        let unfragmentable = raw.get(..at).unwrap_or_default();
        let piece = Fragment {
            key: FragKey::V6 { src: ip.src_addr, dst: ip.dst_addr, ident: fragment.ident },
            offset,
            more: fragment.more,
            data,
            head: (offset == 0).then(|| Head::V6 {
                unfragmentable: unfragmentable.to_vec(),
                next_header: fragment.next_header,
            }),
        };
        if !self.memory_allows(piece.data.len()) {
            self.counters.ip6_reasm_fails += 1;
            self.counters.mem_dropped += 1;
            return;
        }
        let outcome = self.reasm.insert_fragment(now, piece);
        self.memory_changed();
        self.counters.ip6_reasm_fails += self.reasm.take_evicted();
        match outcome {
            Reassembled::Pending => {}
            Reassembled::Dropped { failed } => self.counters.ip6_reasm_fails += failed,
            Reassembled::Done(Head::V6 { unfragmentable, next_header }, data) => {
                let Some(packet) = rebuild6(&unfragmentable, next_header, &data) else {
                    self.counters.ip6_reasm_fails += 1;
                    return;
                };
                let Ok(repr) = ipv6::Repr::parse(&ipv6::Packet::new_unchecked(&packet[..])) else {
                    self.counters.ip6_reasm_fails += 1;
                    return;
                };
                self.counters.ip6_reasm_oks += 1;
                self.ipv6_deliver(now, &repr, &packet, multicast);
            }
            Reassembled::Done(Head::V4(_), _) => {}
        }
    }

    /// An IPv6 packet whose reassembly timed out: counted, and its source told with a Time
    /// Exceeded "fragment reassembly" if fragment 0 had arrived (RFC 8200 §4.5).
    pub(super) fn reassembly6_expired(
        &mut self,
        now: Instant,
        expired: super::reassembly::Expired,
    ) {
        if !expired.counted {
            self.counters.ip6_reasm_fails += 1;
        }
        let Some(quote) = expired.quote else { return };
        let Ok((header, _)) = ipv6::Repr::parse_quoted(&quote) else { return };
        if header.dst_addr.is_multicast() {
            return;
        }
        let reason = icmpv6::TimeExceeded::Reassembly;
        if self.icmpv6_error(now, &header, icmpv6::Repr::time_exceeded(reason, &quote)) {
            self.counters.icmp6_out_time_excds += 1;
        }
    }

    /// Sends `packet`, larger than `mtu`, in fragments to `dst`, under an identification no
    /// one off the path can guess (RFC 7739 §5): a keyed hash of the addresses plus a
    /// counter.
    pub(super) fn push_fragments6(
        &mut self,
        dst: ethernet::Address,
        packet: &[u8],
        mtu: usize,
    ) -> Result<(), super::Error> {
        let ident = self.v6.as_mut().map_or(0, |v6| {
            v6.fragmented = v6.fragmented.wrapping_add(1);
            let mut h = siphasher::sip::SipHasher13::new_with_key(&v6.secret);
            h.write_u8(b'i');
            h.write(packet.get(8..40).unwrap_or_default());
            (h.finish() as u32).wrapping_add(v6.fragmented)
        });
        let Some(pieces) = fragment6(packet, mtu, ident) else {
            self.counters.ip6_frag_fails += 1;
            self.counters.ip6_out_discards += 1;
            return Err(super::Error::MessageTooLong);
        };
        if self.link_out.len() + pieces.len() > super::LINK_QUEUE {
            self.counters.ip6_out_discards += 1;
            return Err(super::Error::NoBufferSpace);
        }
        self.counters.ip6_frag_oks += 1;
        self.counters.ip6_frag_creates += pieces.len() as u64;
        self.link_out.extend(pieces.into_iter().map(|payload| LinkFrame {
            dst,
            ethertype: ethernet::EtherType::Ipv6,
            payload,
        }));
        Ok(())
    }

    /// Queues a datagram for the link, in fragments if it is larger than the MTU and may be
    /// fragmented; `false` when the queue is full or it may not be (DF set).
    pub(super) fn push_datagram(&mut self, dst: ethernet::Address, packet: Vec<u8>) -> bool {
        let mtu = self.config.mtu;
        if packet.len() <= mtu {
            return self.push_link(dst, ethernet::EtherType::Ipv4, packet);
        }
        let Some(pieces) = fragment(&packet, mtu, &self.config.checksums) else {
            self.counters.ip_frag_fails += 1;
            self.counters.ip_out_discards += 1;
            return false;
        };
        if self.link_out.len() + pieces.len() > super::LINK_QUEUE {
            self.counters.ip_out_discards += 1;
            return false;
        }
        self.counters.ip_frag_oks += 1;
        self.counters.ip_frag_creates += pieces.len() as u64;
        self.link_out.extend(pieces.into_iter().map(|payload| LinkFrame {
            dst,
            ethertype: ethernet::EtherType::Ipv4,
            payload,
        }));
        true
    }
}

/// Cuts `datagram` into fragments of at most `mtu` bytes (RFC 791 §3.2): each carries a
/// copy of the header with its offset in 8-byte units and MF on all but the last; the
/// payload of all but the last is a multiple of 8 bytes. `None` if DF is set, the datagram
/// is malformed or the MTU leaves no room for 8 bytes of payload.
pub(crate) fn fragment(
    datagram: &[u8],
    mtu: usize,
    checksums: &crate::wire::Checksums,
) -> Option<Vec<Vec<u8>>> {
    let packet = ipv4::Packet::new_checked(datagram).ok()?;
    // Our own datagram: its header checksum may be left to the device.
    let unverified = crate::wire::Checksums { ipv4: Checksum::Tx, ..*checksums };
    let header = ipv4::Repr::parse(&packet, &unverified).ok()?;
    if header.dont_frag {
        return None;
    }
    let payload = packet.payload();
    let chunk = mtu.checked_sub(ipv4::HEADER_LEN)? & !7;
    if chunk == 0 {
        return None;
    }
    let base = usize::from(header.frag_offset);
    let mut out = Vec::with_capacity(payload.len().div_ceil(chunk));
    for (i, piece) in payload.chunks(chunk).enumerate() {
        let offset = base + i * chunk;
        let last = offset + piece.len() == base + payload.len();
        let repr = ipv4::Repr {
            payload_len: piece.len(),
            more_frags: header.more_frags || !last,
            frag_offset: u16::try_from(offset).ok()?,
            ..header
        };
        let mut bytes = vec![0; repr.buffer_len()];
        let (h, p) = bytes.split_at_mut(ipv4::HEADER_LEN);
        repr.emit(&mut ipv4::Packet::new_unchecked(h), checksums);
        p.copy_from_slice(piece);
        out.push(bytes);
    }
    Some(out)
}

/// Whether the fragmentable `data` of a first fragment starting with `next` holds every
/// extension header and then the upper layer's fixed header (RFC 7112): TCP's 20 bytes,
/// UDP's 8, ICMPv6's 4. `at` is the fragment header's offset in the packet.
fn upper_header_whole(next: Protocol, data: &[u8], at: usize, multicast: bool) -> bool {
    let base = at + ext::FRAGMENT_LEN;
    match ext::walk(next, data, base, false, multicast) {
        Ok(chain) => {
            let need = match chain.protocol {
                Protocol::Tcp => 20,
                Protocol::Udp => 8,
                Protocol::Icmpv6 => 4,
                _ => 0,
            };
            data.len() >= chain.start + need
        }
        Err(ext::Refusal::Malformed(Error::Truncated)) => false,
        // Refused for another reason: the reassembled packet's own walk says so.
        Err(_) => true,
    }
}

/// The packet whose unfragmentable part (fragment 0's, up to its fragment header) and
/// fragmentable part, whose first header is `next`, are given: the header that named the
/// fragment header now names `next`, and the payload length counts both parts. `None`
/// when it would be longer than an IPv6 packet's length field says.
fn rebuild6(unfragmentable: &[u8], next: Protocol, data: &[u8]) -> Option<Vec<u8>> {
    let payload_len = u16::try_from(unfragmentable.len() - ipv6::HEADER_LEN + data.len()).ok()?;
    let mut packet = Vec::with_capacity(unfragmentable.len() + data.len());
    packet.extend_from_slice(unfragmentable);
    packet.extend_from_slice(data);
    // The field that named the fragment header: the fixed header's, or the first byte of
    // the last extension header before it.
    let mut field = 6;
    let mut at = ipv6::HEADER_LEN;
    while at < unfragmentable.len() {
        field = at;
        at += 8 + 8 * usize::from(*unfragmentable.get(at + 1)?);
    }
    *packet.get_mut(field)? = u8::from(next);
    ipv6::Packet::new_unchecked(&mut packet[..]).set_payload_len(payload_len);
    Some(packet)
}

/// Cuts the IPv6 `packet` into fragments of at most `mtu` bytes (RFC 8200 §4.5): each
/// repeats the unfragmentable part (the fixed header and a hop-by-hop header, the only
/// extension header pila puts before the payload) behind which a fragment header with
/// `ident` names the rest; the data of all but the last is a multiple of 8 bytes. `None`
/// if the packet is malformed or the MTU leaves no room for 8 bytes of data.
pub(crate) fn fragment6(packet: &[u8], mtu: usize, ident: u32) -> Option<Vec<Vec<u8>>> {
    let view = ipv6::Packet::new_checked(packet).ok()?;
    let repr = ipv6::Repr::parse(&view).ok()?;
    let end = repr.buffer_len();
    let (unfragmentable, next, field) = if u8::from(repr.next_header) == ext::HOP_BY_HOP {
        let len = 8 + 8 * usize::from(*packet.get(ipv6::HEADER_LEN + 1)?);
        (ipv6::HEADER_LEN + len, *packet.get(ipv6::HEADER_LEN)?, ipv6::HEADER_LEN)
    } else {
        (ipv6::HEADER_LEN, u8::from(repr.next_header), 6)
    };
    let data = packet.get(unfragmentable..end)?;
    let chunk = mtu.checked_sub(unfragmentable + ext::FRAGMENT_LEN)? & !7;
    if chunk == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len().div_ceil(chunk));
    for (i, piece) in data.chunks(chunk).enumerate() {
        let offset = i * chunk;
        let header = ext::FragmentHeader {
            next_header: Protocol::from(next),
            offset: u16::try_from(offset).ok()?,
            more: offset + piece.len() < data.len(),
            ident,
        };
        let mut bytes = Vec::with_capacity(unfragmentable + ext::FRAGMENT_LEN + piece.len());
        bytes.extend_from_slice(packet.get(..unfragmentable)?);
        *bytes.get_mut(field)? = ext::FRAGMENT;
        let at = bytes.len();
        bytes.resize(at + ext::FRAGMENT_LEN, 0);
        header.emit(&mut bytes[at..]);
        bytes.extend_from_slice(piece);
        let payload_len = u16::try_from(bytes.len() - ipv6::HEADER_LEN).ok()?;
        ipv6::Packet::new_unchecked(&mut bytes[..]).set_payload_len(payload_len);
        out.push(bytes);
    }
    Some(out)
}
