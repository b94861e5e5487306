//! ICMP: echo requests answered and sent (the ping API), errors sent under a token bucket
//! (RFC 1812 §4.3.2.8, RFC 1122 §3.2.2), and errors received turned into socket errors or a
//! smaller path MTU (RFC 1191, RFC 5927).

use std::collections::{HashMap, VecDeque};

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{Error, Stack};
use crate::time::Instant;
use crate::wire::ip::Protocol;
use crate::wire::{icmpv4, ipv4};

/// Echo replies kept per identifier before the oldest is dropped.
const MAX_REPLIES: usize = 64;

/// An echo reply that arrived for [`Stack::ping_send`](super::Stack::ping_send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingReply {
    /// Who answered.
    pub from: IpAddr,
    /// The sequence number it echoed.
    pub seq: u16,
    /// When the reply arrived.
    pub at: Instant,
    /// The length of the echoed data.
    pub data_len: usize,
}

/// A token bucket: `rate` tokens a second, holding at most `rate`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: u64,
    /// Tokens times one million, so refills are exact in microseconds.
    micro_tokens: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: u32) -> Self {
        let rate = u64::from(rate);
        Self { rate, micro_tokens: rate * 1_000_000, last: Instant::ZERO }
    }

    /// Takes a token if one is there.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = (now - self.last).total_micros();
        self.last = self.last.max(now);
        let cap = self.rate * 1_000_000;
        self.micro_tokens =
            self.micro_tokens.saturating_add(elapsed.saturating_mul(self.rate)).min(cap);
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

/// Echo replies by identifier, for identifiers a ping was sent with.
#[derive(Debug, Default)]
pub(crate) struct Pings {
    replies: HashMap<u16, VecDeque<PingReply>>,
}

impl Pings {
    /// Starts listening for replies with `ident`.
    pub(crate) fn register(&mut self, ident: u16) {
        self.replies.entry(ident).or_default();
    }

    /// Records a reply; replies for identifiers nobody pinged with are ignored.
    pub(crate) fn record(&mut self, ident: u16, reply: PingReply) -> bool {
        let Some(queue) = self.replies.get_mut(&ident) else { return false };
        if queue.len() >= MAX_REPLIES {
            queue.pop_front();
        }
        queue.push_back(reply);
        true
    }

    /// The oldest reply for `ident`.
    pub(crate) fn poll(&mut self, ident: u16) -> Option<PingReply> {
        self.replies.get_mut(&ident)?.pop_front()
    }
}

impl Stack {
    /// Sends an ICMP echo request to `dst`, or an ICMPv6 one to an IPv6 `dst`; replies
    /// come from [`Stack::ping_poll_reply`].
    pub fn ping_send(
        &mut self,
        now: Instant,
        dst: impl Into<IpAddr>,
        ident: u16,
        seq: u16,
        data: &[u8],
    ) -> Result<(), Error> {
        let dst = match dst.into() {
            IpAddr::V4(dst) => dst,
            IpAddr::V6(dst) => return self.ping6_send(now, dst, ident, seq, data),
        };
        if dst.is_unspecified() || dst.is_multicast() {
            return Err(Error::InvalidInput);
        }
        let repr = icmpv4::Repr::EchoRequest { ident, seq_no: seq, data };
        let src = self.iface.source_for(dst).ok_or(Error::NetworkUnreachable);
        let src = match src {
            Ok(src) => src,
            Err(e) => {
                self.counters.ip_out_no_routes += 1;
                return Err(e);
            }
        };
        // Larger than the MTU, it goes out in fragments.
        if repr.buffer_len() + ipv4::HEADER_LEN > 65535 {
            return Err(Error::MessageTooLong);
        }
        let packet = self.icmp_packet(src, dst, &repr);
        self.pings.register(ident);
        self.counters.icmp_out_msgs += 1;
        self.send_ip(now, dst, packet, None)
    }

    /// The oldest echo reply with identifier `ident` not yet returned.
    pub fn ping_poll_reply(&mut self, ident: u16) -> Option<PingReply> {
        self.pings.poll(ident)
    }

    /// An ICMP message arrived: echo requests answered, replies kept for the ping API,
    /// errors turned into socket errors or a smaller path MTU.
    pub(super) fn icmp_input(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        broadcast: bool,
    ) {
        self.counters.icmp_in_msgs += 1;
        let Ok(packet) = icmpv4::Packet::new_checked(payload) else {
            self.counters.icmp_in_errors += 1;
            return;
        };
        let repr = match icmpv4::Repr::parse(&packet, &self.config.checksums) {
            Ok(repr) => repr,
            Err(crate::wire::Error::Unsupported) => return,
            Err(_) => {
                self.counters.icmp_in_errors += 1;
                return;
            }
        };
        match repr {
            icmpv4::Repr::EchoRequest { ident, seq_no, data } => {
                self.counters.icmp_in_echos += 1;
                // Like Linux's icmp_echo_ignore_broadcasts: no smurf amplifier. An
                // intercepted address answers only where asked.
                let dst = IpAddr::V4(ip.dst_addr);
                if broadcast || (!self.iface.has_addr(ip.dst_addr) && !self.intercepts.echoes(dst))
                {
                    return;
                }
                let reply = icmpv4::Repr::EchoReply { ident, seq_no, data };
                let packet = self.icmp_packet(ip.dst_addr, ip.src_addr, &reply);
                if self.send_ip(now, ip.src_addr, packet, None).is_ok() {
                    self.counters.icmp_out_msgs += 1;
                    self.counters.icmp_out_echo_reps += 1;
                }
            }
            icmpv4::Repr::EchoReply { ident, seq_no, data } => {
                self.counters.icmp_in_echo_reps += 1;
                let reply = PingReply {
                    from: IpAddr::V4(ip.src_addr),
                    seq: seq_no,
                    at: now,
                    data_len: data.len(),
                };
                self.pings.record(ident, reply);
            }
            icmpv4::Repr::DstUnreachable { reason, next_hop_mtu, header, data } => {
                self.counters.icmp_in_dest_unreachs += 1;
                self.dst_unreachable(now, reason, next_hop_mtu, &header, data);
            }
            icmpv4::Repr::TimeExceeded { .. } => {}
        }
    }

    /// Sends a destination unreachable error about `raw`, unless its source is unspecified
    /// or the rate limit says no. The callers hold the rest of RFC 1122 §3.2.2: they pass
    /// only whole (or reassembled), non-ICMP datagrams not sent to a broadcast address.
    pub(super) fn icmp_error(
        &mut self,
        now: Instant,
        reason: icmpv4::DstUnreachable,
        ip: &ipv4::Repr,
        raw: &[u8],
    ) {
        if ip.src_addr.is_unspecified() {
            return;
        }
        if !self.icmp_bucket.take(now) {
            self.counters.icmp_out_rate_limited += 1;
            return;
        }
        let Ok(repr) = icmpv4::Repr::dst_unreachable(reason, raw) else { return };
        let packet = self.icmp_packet(ip.dst_addr, ip.src_addr, &repr);
        if self.send_ip(now, ip.src_addr, packet, None).is_ok() {
            self.counters.icmp_out_msgs += 1;
            self.counters.icmp_out_dest_unreachs += 1;
        }
    }

    /// A whole IPv4 datagram carrying `repr`.
    pub(super) fn icmp_packet(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        repr: &icmpv4::Repr<'_>,
    ) -> Vec<u8> {
        let len = repr.buffer_len();
        let mut packet = self.ip_packet(src, dst, Protocol::Icmp, len, false);
        let body = &mut packet[ipv4::HEADER_LEN..];
        repr.emit(&mut icmpv4::Packet::new_unchecked(body), &self.config.checksums);
        packet
    }

    /// An ICMP destination unreachable about a datagram we sent: `header` and the first
    /// bytes of its payload.
    pub(super) fn dst_unreachable(
        &mut self,
        now: Instant,
        reason: icmpv4::DstUnreachable,
        next_hop_mtu: u16,
        header: &ipv4::Repr,
        data: &[u8],
    ) {
        use icmpv4::DstUnreachable as U;
        if !self.may_send_from(header.src_addr.into()) {
            return;
        }
        let trouble = match reason {
            U::PortUnreachable | U::ProtoUnreachable => Trouble::Error(Error::ConnectionRefused),
            U::NetUnreachable | U::DstNetUnknown => Trouble::Error(Error::NetworkUnreachable),
            // RFC 1191 §5: an old router says 0 (or anything below IPv4's 68-byte minimum):
            // fall back to 576.
            U::FragRequired if next_hop_mtu < 68 => Trouble::PathMtu(576),
            U::FragRequired => Trouble::PathMtu(usize::from(next_hop_mtu)),
            _ => Trouble::Error(Error::HostUnreachable),
        };
        let (src, dst) = (IpAddr::V4(header.src_addr), IpAddr::V4(header.dst_addr));
        self.transport_error(now, header.protocol, src, dst, data, trouble);
    }

    /// An ICMP or ICMPv6 error about a datagram we sent from `src` to `dst` carrying
    /// `protocol`, whose quoted transport header begins `quoted`, reaches the connection
    /// or socket it came from (RFC 1122 §4.1.3.3, §4.2.3.9; RFC 4443 §3).
    pub(super) fn transport_error(
        &mut self,
        now: Instant,
        protocol: Protocol,
        src: IpAddr,
        dst: IpAddr,
        quoted: &[u8],
        trouble: Trouble,
    ) {
        let port = |i: usize| quoted.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let (Some(sport), Some(dport)) = (port(0), port(2)) else { return };
        let local = SocketAddr::new(src, sport);
        let remote = SocketAddr::new(dst, dport);
        match (protocol, trouble) {
            (Protocol::Tcp, trouble) => {
                // The quoted sequence number, for RFC 5927's in-window check.
                let seq = quoted.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let seq = seq.map(crate::wire::tcp::SeqNumber);
                self.tcp_icmp_error(now, (local, remote), seq, trouble);
            }
            (Protocol::Udp, Trouble::Error(error)) => self.udp_icmp_error(local, remote, error),
            _ => {}
        }
    }
}

/// What an ICMP or ICMPv6 error tells the sender of the datagram it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trouble {
    /// The datagram did not arrive, for this reason.
    Error(Error),
    /// The datagram was too big for a link on the path: the path MTU is at most this,
    /// already checked against the family's minimum.
    PathMtu(usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn bucket_allows_its_rate_and_refills_over_time() {
        let mut b = TokenBucket::new(10);
        let t = Instant::from_secs(100);
        assert_eq!((0..20).filter(|_| b.take(t)).count(), 10);
        assert!(!b.take(t + Duration::from_millis(99)));
        assert!(b.take(t + Duration::from_millis(100)));
        assert_eq!((0..20).filter(|_| b.take(t + Duration::from_secs(10))).count(), 10);
    }

    #[test]
    fn replies_are_kept_only_for_registered_identifiers() {
        let mut p = Pings::default();
        let r = PingReply {
            from: IpAddr::V4(Ipv4Addr::LOCALHOST),
            seq: 1,
            at: Instant::ZERO,
            data_len: 4,
        };
        assert!(!p.record(7, r));
        p.register(7);
        assert!(p.record(7, r));
        assert_eq!(p.poll(7), Some(r));
        assert_eq!(p.poll(7), None);
        assert_eq!(p.poll(8), None);
    }
}
