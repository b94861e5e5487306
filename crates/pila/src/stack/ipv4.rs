//! IPv4: datagrams in (validated, reassembled, handed to ICMP, UDP or TCP) and out
//! (routed, fragmented to the MTU, queued behind ARP when the next hop is unresolved).

use super::neighbor::Route;
use super::{Error, Medium, SocketHandle, Stack, TTL};
use crate::time::Instant;
use crate::wire::ip::Protocol;
use crate::wire::{self, ethernet, icmpv4, ipv4};
use core::net::{IpAddr, Ipv4Addr};

impl Stack {
    /// An IPv4 datagram arrived: validated, reassembled if a fragment, and delivered.
    pub(super) fn ipv4_input(&mut self, now: Instant, data: &[u8]) {
        self.counters.ip_in_receives += 1;
        let Ok(packet) = ipv4::Packet::new_checked(data) else {
            self.counters.ip_in_hdr_errors += 1;
            return;
        };
        let repr = match ipv4::Repr::parse(&packet, &self.config.checksums) {
            Ok(repr) => repr,
            Err(e) => {
                self.counters.ip_in_hdr_errors += 1;
                self.counters.ip_in_csum_errors += u64::from(e == wire::Error::BadChecksum);
                return;
            }
        };
        let src = repr.src_addr;
        // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is discarded; TTL 0
        // was never legal to send.
        if repr.ttl == 0 || src.is_broadcast() || src.is_multicast() || self.iface.is_broadcast(src)
        {
            self.counters.ip_in_hdr_errors += 1;
            return;
        }
        let broadcast = self.iface.is_broadcast(repr.dst_addr);
        let dst = IpAddr::V4(repr.dst_addr);
        if !broadcast
            && !self.iface.has_addr(repr.dst_addr)
            && !self.intercepts.takes(repr.protocol, dst)
        {
            self.counters.ip_in_addr_errors += 1;
            return;
        }
        let total = usize::from(packet.total_len());
        let raw = data.get(..total).unwrap_or(data);
        let payload = packet.payload();
        if repr.more_frags || repr.frag_offset != 0 {
            self.fragment_input(now, &repr, payload, broadcast);
            return;
        }
        self.deliver(now, &repr, payload, raw, broadcast);
    }

    /// Hands a whole datagram to its protocol. `raw` is the datagram as received (or as
    /// rebuilt after reassembly), quoted by the ICMP errors it causes.
    pub(super) fn deliver(
        &mut self,
        now: Instant,
        ip: &ipv4::Repr,
        payload: &[u8],
        raw: &[u8],
        broadcast: bool,
    ) {
        match ip.protocol {
            Protocol::Icmp => {
                self.counters.ip_in_delivers += 1;
                self.icmp_input(now, ip, payload, broadcast);
            }
            Protocol::Udp => {
                self.counters.ip_in_delivers += 1;
                let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
                let arrival = super::udp::Arrival::V4(ip, raw, broadcast);
                self.udp_input(now, src, dst, payload, arrival);
            }
            // TCP is unicast only (RFC 1122 §4.2.3.10).
            Protocol::Tcp if broadcast => self.counters.ip_in_addr_errors += 1,
            Protocol::Tcp => {
                self.counters.ip_in_delivers += 1;
                let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
                self.tcp_input(now, src, dst, payload);
            }
            _ => {
                self.counters.ip_in_unknown_protos += 1;
                if !broadcast {
                    self.icmp_error(now, icmpv4::DstUnreachable::ProtoUnreachable, ip, raw);
                }
            }
        }
    }

    /// A datagram of `payload_len` zero bytes behind a filled-in IPv4 header.
    pub(super) fn ip_packet(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: Protocol,
        payload_len: usize,
        dont_frag: bool,
    ) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl: TTL,
            tos: 0,
            ident: self.next_ident(),
            dont_frag,
            more_frags: false,
            frag_offset: 0,
        };
        let mut packet = vec![0; repr.buffer_len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]), &self.config.checksums);
        packet
    }

    /// The next IP identifier.
    pub(super) fn next_ident(&mut self) -> u16 {
        bump_ident(&mut self.ip_ident)
    }

    /// Routes a whole datagram to `dst`: straight to the control queue when its next hop
    /// is known, or to the neighbour's pending queue while ARP resolves it.
    pub(super) fn send_ip(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        packet: Vec<u8>,
        owner: Option<SocketHandle>,
    ) -> Result<(), Error> {
        self.counters.ip_out_requests += 1;
        if self.config.medium == Medium::Ip {
            return self.push_ip(ethernet::Address::BROADCAST, packet);
        }
        let Some(hop) = self.iface.next_hop(dst) else {
            self.counters.ip_out_no_routes += 1;
            return Err(Error::NetworkUnreachable);
        };
        if self.iface.is_broadcast(dst) {
            return self.push_ip(ethernet::Address::BROADCAST, packet);
        }
        match self.neighbors.resolve(now, hop, packet, owner) {
            Route::Send(mac, packet) => self.push_ip(mac, packet),
            Route::Queued => Ok(()),
            Route::Dropped => {
                self.counters.ip_out_discards += 1;
                Err(Error::NoBufferSpace)
            }
        }
    }

    /// Checks that `ip` may be a local address: ours or unspecified.
    pub(super) fn check_local(&self, ip: IpAddr) -> Result<Ipv4Addr, Error> {
        let ip = v4(ip).ok_or(Error::InvalidInput)?;
        if ip.is_unspecified() || self.iface.has_addr(ip) {
            Ok(ip)
        } else {
            Err(Error::AddrNotAvailable)
        }
    }
}

/// The IPv4 address of an `IpAddr`, if it is one.
pub(super) fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

/// Advances the IPv4 identification counter and returns the new value.
pub(super) fn bump_ident(ident: &mut u16) -> u16 {
    *ident = ident.wrapping_add(1);
    *ident
}
