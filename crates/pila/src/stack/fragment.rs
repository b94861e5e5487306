//! IPv4 fragments: reassembly on input (see [`super::reassembly`]) and fragmentation on
//! output (RFC 791 §3.2, RFC 1122 §3.3.2).
//!
//! Fragmentation happens at the last step, when a datagram's next hop is known and it
//! joins the link queue (Linux does it in `ip_finish_output`): a datagram waiting for ARP
//! waits whole, so the per-neighbour queue bound counts datagrams, not fragments.

use super::Stack;
use super::link::LinkFrame;
use super::reassembly::{Reassembled, quote};
use crate::time::Instant;
use crate::wire::{Checksum, ethernet, icmpv4, ipv4};

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
        let outcome = self.reasm.insert(now, ip, payload);
        self.counters.ip_reasm_fails += self.reasm.take_evicted();
        match outcome {
            Reassembled::Pending => {}
            Reassembled::Dropped { failed } => self.counters.ip_reasm_fails += failed,
            Reassembled::Done(header, data) => {
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
