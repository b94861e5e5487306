//! ICMPv6 at the host: echo answered and sent (the ping API), neighbour discovery (RFC
//! 4861: solicitations answered, advertisements learned, our own solicitations for
//! resolution, probes and duplicate address detection), MLDv2 reports of the groups we
//! listen to (RFC 3810), and the Parameter Problems RFC 8200 asks for, under the ICMP
//! token bucket (RFC 4443 §2.4 (f)).

use core::net::{IpAddr, Ipv6Addr};

use super::icmp::Trouble;
use super::iface6::{self, Address6, Dad, Ipv6Cidr, OnLink, Origin, Router};
use super::ipv6::V6;
use super::{Error, PingReply, Stack};
use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::ipv6::{self, ext};
use crate::wire::{ethernet, icmpv6};

/// The hop limit of every neighbour discovery message, checked on receipt (RFC 4861
/// §6.1, §7.1): a packet that crossed a router cannot carry one.
const ND_HOP_LIMIT: u8 = 255;

impl Stack {
    /// An ICMPv6 message arrived for one of our addresses or groups.
    pub(super) fn icmpv6_input(&mut self, now: Instant, ip: &ipv6::Repr, payload: &[u8]) {
        self.counters.icmp6_in_msgs += 1;
        let checksums = self.rx_checksums();
        let parsed = icmpv6::Packet::new_checked(payload)
            .and_then(|p| icmpv6::Repr::parse(&p, ip.src_addr, ip.dst_addr, &checksums));
        let Ok(repr) = parsed else {
            self.counters.icmp6_in_errors += 1;
            return;
        };
        let unicast = !ip.dst_addr.is_multicast();
        // Not ours at all: an intercepted address (transparent mode), which takes echoes
        // where asked and errors about its connections, never neighbour discovery.
        let foreign =
            unicast && self.v6.as_ref().is_some_and(|v6| v6.iface.find(ip.dst_addr).is_none());
        let to_tentative = unicast
            && !foreign
            && self.v6.as_ref().is_some_and(|v6| !v6.iface.has_addr(ip.dst_addr));
        match repr {
            icmpv6::Repr::EchoRequest { .. }
                if foreign && !self.intercepts.echoes(ip.dst_addr.into()) =>
            {
                self.counters.ip6_in_addr_errors += 1;
            }
            icmpv6::Repr::EchoRequest { ident, seq_no, data } if foreign => {
                self.counters.icmp6_in_echos += 1;
                self.echo6_reply(now, ip, ident, seq_no, data);
            }
            icmpv6::Repr::DstUnreachable { .. }
            | icmpv6::Repr::PacketTooBig { .. }
            | icmpv6::Repr::TimeExceeded { .. }
            | icmpv6::Repr::ParamProblem { .. }
                if foreign => {}
            _ if foreign => {
                self.counters.ip6_in_addr_errors += 1;
                return;
            }
            _ => {}
        }
        match repr {
            icmpv6::Repr::EchoRequest { .. } if foreign => {}
            icmpv6::Repr::NeighborSolicit { .. }
            | icmpv6::Repr::NeighborAdvert { .. }
            | icmpv6::Repr::RouterAdvert { .. } => {
                if icmpv6::validate_nd(&repr, ip).is_err() {
                    self.counters.icmp6_in_errors += 1;
                    return;
                }
                if let icmpv6::Repr::RouterAdvert { .. } = repr {
                    self.router_advert(now, ip, &repr);
                } else {
                    self.nd_input(now, ip, &repr);
                }
            }
            // RFC 4862 §5.4.3: a tentative address takes nothing but neighbour discovery.
            _ if to_tentative => self.counters.ip6_in_addr_errors += 1,
            icmpv6::Repr::EchoRequest { ident, seq_no, data } => {
                self.counters.icmp6_in_echos += 1;
                self.echo6_reply(now, ip, ident, seq_no, data);
            }
            icmpv6::Repr::EchoReply { ident, seq_no, data } => {
                self.counters.icmp6_in_echo_replies += 1;
                let reply = PingReply {
                    from: IpAddr::V6(ip.src_addr),
                    seq: seq_no,
                    at: now,
                    data_len: data.len(),
                };
                self.pings.record(ident, reply);
            }
            icmpv6::Repr::DstUnreachable { reason, header, data } => {
                self.counters.icmp6_in_dest_unreachs += 1;
                let error = match reason {
                    icmpv6::DstUnreachable::PortUnreachable => Error::ConnectionRefused,
                    icmpv6::DstUnreachable::NoRoute => Error::NetworkUnreachable,
                    _ => Error::HostUnreachable,
                };
                self.icmpv6_error_input(now, &header, data, Trouble::Error(error));
            }
            icmpv6::Repr::PacketTooBig { mtu, header, data } => {
                self.counters.icmp6_in_pkt_too_bigs += 1;
                // RFC 8201 §4: a path MTU below IPv6's minimum link MTU is taken as it.
                let mtu = usize::try_from(mtu).unwrap_or(usize::MAX).max(ipv6::MIN_MTU);
                // For every packet to that destination, if it came back from one we sent.
                let ours = self.may_send_from(header.src_addr.into());
                if let (true, Some(v6)) = (ours, self.v6.as_mut()) {
                    v6.learn_path_mtu(now, header.dst_addr, mtu);
                }
                self.icmpv6_error_input(now, &header, data, Trouble::PathMtu(mtu));
            }
            icmpv6::Repr::MldQuery { .. } => {
                // Answered at once with every group (RFC 3810 §6.2 lets a host answer
                // within the query's maximum response delay; now is within it).
                if let Some(v6) = self.v6.as_mut() {
                    v6.report_due = true;
                }
            }
            _ => {}
        }
    }

    /// Answers an echo request from its destination, or for a multicast one from our
    /// address that fits the asker (RFC 4443 §4.2).
    fn echo6_reply(&mut self, now: Instant, ip: &ipv6::Repr, ident: u16, seq_no: u16, data: &[u8]) {
        let src = if ip.dst_addr.is_multicast() {
            match self.v6.as_ref().and_then(|v6| v6.iface.source_for(ip.src_addr)) {
                Some(src) => src,
                None => return,
            }
        } else {
            ip.dst_addr
        };
        let reply = icmpv6::Repr::EchoReply { ident, seq_no, data };
        let hop_limit = self.hop_limit6();
        let packet = self.icmp6_packet(src, ip.src_addr, hop_limit, &reply);
        if self.send_ip6(now, ip.src_addr, packet, None).is_ok() {
            self.counters.icmp6_out_msgs += 1;
            self.counters.icmp6_out_echo_replies += 1;
        }
    }

    /// Sends an ICMPv6 echo request to `dst`.
    pub(super) fn ping6_send(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
        ident: u16,
        seq: u16,
        data: &[u8],
    ) -> Result<(), Error> {
        if dst.is_unspecified() {
            return Err(Error::InvalidInput);
        }
        let Some(v6) = &self.v6 else { return Err(Error::InvalidInput) };
        let Some(src) = v6.iface.source_for(dst) else {
            self.counters.ip6_out_no_routes += 1;
            return Err(Error::NetworkUnreachable);
        };
        let repr = icmpv6::Repr::EchoRequest { ident, seq_no: seq, data };
        // Larger than the MTU, it goes out in fragments.
        if repr.buffer_len() > 65535 {
            return Err(Error::MessageTooLong);
        }
        let hop_limit = self.hop_limit6();
        let mut packet = self.icmp6_packet(src, dst, hop_limit, &repr);
        let flow = self.flow_label(src, dst, Protocol::Icmpv6, (ident, 0));
        ipv6::Packet::new_unchecked(&mut packet[..]).set_flow_label(flow);
        self.pings.register(ident);
        self.counters.icmp6_out_msgs += 1;
        self.send_ip6(now, dst, packet, None)
    }

    /// A neighbour solicitation or advertisement that passed RFC 4861's checks.
    fn nd_input(&mut self, now: Instant, ip: &ipv6::Repr, repr: &icmpv6::Repr<'_>) {
        match *repr {
            icmpv6::Repr::NeighborSolicit { target, ref options } => {
                self.counters.icmp6_in_neighbor_solicits += 1;
                let Some(v6) = &self.v6 else { return };
                let Some(ours) = v6.iface.find(target).copied() else { return };
                if ours.tentative() {
                    // RFC 4862 §5.4.3: another node checks the same address, which neither
                    // may then use.
                    if ip.src_addr.is_unspecified() {
                        self.dad_conflict(target);
                    }
                    return;
                }
                let sender_mac = options.source_link_addr();
                if ip.src_addr.is_unspecified() {
                    // Someone checks an address we hold: tell all nodes it is taken
                    // (RFC 4861 §7.2.4).
                    self.neighbor_advert(now, target, ipv6::ALL_NODES, None, false);
                    return;
                }
                if let (Some(mac), Some(v6)) = (sender_mac, self.v6.as_mut()) {
                    let released = v6.neighbors.learn_unconfirmed(now, ip.src_addr, mac, true);
                    for pending in released {
                        let _ = self.push_link6(mac, pending.packet);
                    }
                }
                self.neighbor_advert(now, target, ip.src_addr, sender_mac, true);
            }
            icmpv6::Repr::NeighborAdvert {
                solicited, override_entry, target, ref options, ..
            } => {
                self.counters.icmp6_in_neighbor_advertisements += 1;
                let Some(v6) = self.v6.as_mut() else { return };
                if let Some(ours) = v6.iface.find(target) {
                    // RFC 4862 §5.4.4: an advertisement for an address we are checking
                    // means another node holds it. One for an address already in use is
                    // not taken as a conflict: it would let any node take it from us.
                    if ours.tentative() {
                        self.dad_conflict(target);
                    }
                    return;
                }
                let Some(mac) = options.target_link_addr() else { return };
                let released = if solicited {
                    v6.neighbors.learn(now, target, mac, false)
                } else if override_entry {
                    v6.neighbors.learn_unconfirmed(now, target, mac, false)
                } else {
                    Default::default()
                };
                for pending in released {
                    let _ = self.push_link6(mac, pending.packet);
                }
            }
            _ => {}
        }
    }

    /// A router advertisement that passed RFC 4861's checks (RFC 4861 §6.3.4): its router
    /// becomes a default router for its lifetime, its hop limit and MTU are taken, its
    /// on-link prefixes routed, and on each autonomous /64 prefix an address is made, or
    /// its lifetimes renewed (RFC 4862 §5.5.3).
    fn router_advert(&mut self, now: Instant, ip: &ipv6::Repr, repr: &icmpv6::Repr<'_>) {
        let icmpv6::Repr::RouterAdvert {
            hop_limit,
            router_lifetime,
            reachable_time,
            retrans_timer,
            options,
            ..
        } = *repr
        else {
            return;
        };
        self.counters.icmp6_in_router_advertisements += 1;
        let (mac, link_mtu) = (self.config.mac, self.config.mtu);
        // RFC 4861 §6.3.2: ReachableTime is drawn between 0.5 and 1.5 times the base.
        let factor = 0.5 + f64::from(self.rng.next_u32()) / f64::from(u32::MAX);
        let Some(v6) = self.v6.as_mut() else { return };
        if !v6.config.accept_ra {
            return;
        }
        // RFC 4861 §6.3.4: the router's timers, where it gives them, replace ours.
        if retrans_timer != 0 {
            v6.config.retrans_timer = Duration::from_millis(u64::from(retrans_timer));
        }
        if reachable_time != 0 && reachable_time <= 3_600_000 {
            let micros = f64::from(reachable_time) * 1000.0 * factor;
            v6.config.reachable_time = Duration::from_micros(micros as u64);
        }
        v6.neighbors.set_timers(v6.config.reachable_time, v6.config.retrans_timer);
        // An advertisement came: no more solicitations.
        v6.solicit.0 = 0;
        let router = ip.src_addr;
        if hop_limit != 0 {
            v6.config.hop_limit = hop_limit;
        }
        v6.iface.routers.retain(|r| r.addr != router);
        if router_lifetime > 0 {
            let until = now + Duration::from_secs(u64::from(router_lifetime));
            v6.iface.routers.push(Router { addr: router, until });
        }
        for option in options.iter() {
            match option {
                icmpv6::NdpOption::Mtu(mtu) => {
                    let mtu = usize::try_from(mtu).unwrap_or(usize::MAX);
                    if (ipv6::MIN_MTU..=link_mtu).contains(&mtu) {
                        v6.mtu = Some(mtu);
                    }
                }
                icmpv6::NdpOption::PrefixInfo(info) => prefix_info(v6, now, mac, &info),
                _ => {}
            }
        }
        let Some(lladdr) = options.source_link_addr() else { return };
        for pending in v6.neighbors.learn_unconfirmed(now, router, lladdr, true) {
            let _ = self.push_link6(lladdr, pending.packet);
        }
    }

    /// Sends a router solicitation to all routers (RFC 4861 §6.3.7): from the link-local
    /// address with our link-layer address, or from `::` without one while that address is
    /// still tentative.
    pub(super) fn router_solicit(&mut self, now: Instant) {
        let Some(v6) = &self.v6 else { return };
        let src = v6.iface.link_local();
        let with_mac = [icmpv6::NdpOption::SourceLinkAddr(self.config.mac)];
        let options = if src.is_some() { &with_mac[..] } else { &[] };
        let repr = icmpv6::Repr::RouterSolicit { options: icmpv6::NdpOptions::List(options) };
        let src = src.unwrap_or(Ipv6Addr::UNSPECIFIED);
        let packet = self.icmp6_packet(src, ipv6::ALL_ROUTERS, ND_HOP_LIMIT, &repr);
        if self.send_ip6(now, ipv6::ALL_ROUTERS, packet, None).is_ok() {
            self.counters.icmp6_out_msgs += 1;
            self.counters.icmp6_out_router_solicits += 1;
        }
    }

    /// Advertises our address `target` to `dst`: solicited (to the asker, whose MAC
    /// `dst_mac` its solicitation gave) or to all nodes.
    fn neighbor_advert(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        dst: Ipv6Addr,
        dst_mac: Option<ethernet::Address>,
        solicited: bool,
    ) {
        let mac = self.config.mac;
        let options = [icmpv6::NdpOption::TargetLinkAddr(mac)];
        let repr = icmpv6::Repr::neighbor_advert(false, solicited, true, target, &options);
        let packet = self.icmp6_packet(target, dst, ND_HOP_LIMIT, &repr);
        let sent = match dst_mac {
            Some(mac) => self.push_link6(mac, packet),
            None => self.send_ip6(now, dst, packet, None),
        };
        if sent.is_ok() {
            self.counters.icmp6_out_msgs += 1;
            self.counters.icmp6_out_neighbor_advertisements += 1;
        }
    }

    /// Sends the duplicate address detection solicitation for our tentative `target`: from
    /// the unspecified address, to its solicited-node group, with no link-layer option
    /// (RFC 4862 §5.4.2).
    pub(super) fn dad_solicit(&mut self, now: Instant, target: Ipv6Addr) {
        let repr = icmpv6::Repr::neighbor_solicit(target, &[]);
        let group = ipv6::solicited_node(target);
        let packet = self.icmp6_packet(Ipv6Addr::UNSPECIFIED, group, ND_HOP_LIMIT, &repr);
        if self.send_ip6(now, group, packet, None).is_ok() {
            self.counters.icmp6_out_msgs += 1;
            self.counters.icmp6_out_neighbor_solicits += 1;
        }
    }

    /// Writes the neighbour solicitation the cache asks for into `buf`: for resolution to
    /// `target`'s solicited-node group, or, to probe a known entry, to `unicast` (RFC 4861
    /// §7.2.2). `None` when no source address is usable yet, or `buf` is too small.
    pub(super) fn nd_request(
        &self,
        buf: &mut [u8],
        target: Ipv6Addr,
        unicast: Option<ethernet::Address>,
    ) -> Option<usize> {
        let v6 = self.v6.as_ref()?;
        let src = v6.iface.source_for(target)?;
        let options = [icmpv6::NdpOption::SourceLinkAddr(self.config.mac)];
        let repr = icmpv6::Repr::neighbor_solicit(target, &options);
        let (dst, mac) = match unicast {
            Some(mac) => (target, mac),
            None => {
                let group = ipv6::solicited_node(target);
                (group, ethernet::Address::from_ipv6_multicast(group))
            }
        };
        let packet = self.icmp6_packet(src, dst, ND_HOP_LIMIT, &repr);
        self.write_frame(buf, mac, ethernet::EtherType::Ipv6, &packet)
    }

    /// Reports the groups we listen to in one MLDv2 report (RFC 3810 §5.2), so that a bridge
    /// that snoops MLD delivers them: each group as "exclude nothing", the state of a
    /// listener that wants all of its traffic, and each group left since the last report
    /// as "include nothing" (§6.1), so that the bridge stops sending it. All-nodes is never
    /// reported (§6).
    pub(super) fn mld_report(&mut self, now: Instant) {
        let Some(v6) = self.v6.as_mut() else { return };
        let mut groups: Vec<Ipv6Addr> = v6.iface.groups().collect();
        groups.sort_unstable();
        groups.dedup();
        let left: Vec<Ipv6Addr> =
            v6.reported.iter().filter(|g| !groups.contains(g)).copied().collect();
        v6.reported.clone_from(&groups);
        let src = v6.iface.link_local().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let joined = groups.iter().map(|&address| (icmpv6::RecordType::ChangeToExclude, address));
        let gone = left.iter().map(|&address| (icmpv6::RecordType::ChangeToInclude, address));
        let records: Vec<icmpv6::MldRecord<'_>> = joined
            .chain(gone)
            .map(|(kind, address)| icmpv6::MldRecord { kind, address, sources: &[] })
            .collect();
        if records.is_empty() {
            return;
        }
        let repr = icmpv6::Repr::mldv2_report(&records);
        let dst = ipv6::ALL_MLDV2_ROUTERS;
        let alert = ext::router_alert(Protocol::Icmpv6);
        let len = repr.buffer_len();
        let mut packet =
            self.ip6_packet(src, dst, Protocol::from(ext::HOP_BY_HOP), alert.len() + len, 1);
        packet[ipv6::HEADER_LEN..ipv6::HEADER_LEN + alert.len()].copy_from_slice(&alert);
        let body = &mut packet[ipv6::HEADER_LEN + alert.len()..];
        repr.emit(&mut icmpv6::Packet::new_unchecked(body), src, dst, &self.config.checksums);
        if self.send_ip6(now, dst, packet, None).is_ok() {
            self.counters.icmp6_out_msgs += 1;
            self.counters.icmp6_out_mldv2_reports += 1;
        }
    }

    /// Sends a Parameter Problem about `raw`, a packet from `ip.src_addr` we refused.
    pub(super) fn icmpv6_param_problem(
        &mut self,
        now: Instant,
        code: ext::ProblemCode,
        pointer: u32,
        ip: &ipv6::Repr,
        raw: &[u8],
    ) {
        if self.icmpv6_error(now, ip, icmpv6::Repr::param_problem(code, pointer, raw)) {
            self.counters.icmp6_out_parm_problems += 1;
        }
    }

    /// Sends a destination unreachable about `raw`, a packet from `ip.src_addr` nobody
    /// took.
    pub(super) fn icmpv6_unreachable(
        &mut self,
        now: Instant,
        reason: icmpv6::DstUnreachable,
        ip: &ipv6::Repr,
        raw: &[u8],
    ) {
        if self.icmpv6_error(now, ip, icmpv6::Repr::dst_unreachable(reason, raw)) {
            self.counters.icmp6_out_dest_unreachs += 1;
        }
    }

    /// Sends the error `repr` back to `ip.src_addr`, if the token bucket allows and the
    /// source can take one (RFC 4443 §2.4 (e), (f)); whether it went.
    pub(super) fn icmpv6_error(
        &mut self,
        now: Instant,
        ip: &ipv6::Repr,
        repr: crate::wire::Result<icmpv6::Repr<'_>>,
    ) -> bool {
        let Ok(repr) = repr else { return false };
        if ip.src_addr.is_unspecified() || ip.src_addr.is_multicast() {
            return false;
        }
        let Some(src) = self.v6.as_ref().and_then(|v6| v6.iface.source_for(ip.src_addr)) else {
            return false;
        };
        if !self.icmp_bucket.take(now) {
            self.counters.icmp_out_rate_limited += 1;
            return false;
        }
        let hop_limit = self.hop_limit6();
        let packet = self.icmp6_packet(src, ip.src_addr, hop_limit, &repr);
        if self.send_ip6(now, ip.src_addr, packet, None).is_ok() {
            self.counters.icmp6_out_msgs += 1;
            true
        } else {
            false
        }
    }

    /// An ICMPv6 error about a datagram we sent: a connected UDP socket learns that its
    /// peer refused it or cannot be reached.
    fn icmpv6_error_input(
        &mut self,
        now: Instant,
        header: &ipv6::Repr,
        data: &[u8],
        trouble: Trouble,
    ) {
        if !self.may_send_from(header.src_addr.into()) {
            return;
        }
        // The quoted packet's own extension headers stand between it and the transport.
        let Ok(chain) = ext::walk(header.next_header, data, ipv6::HEADER_LEN, false, false) else {
            return;
        };
        if chain.fragment.is_some_and(|f| f.offset != 0) {
            return;
        }
        let (src, dst) = (IpAddr::V6(header.src_addr), IpAddr::V6(header.dst_addr));
        let quoted = data.get(chain.start..).unwrap_or(&[]);
        self.transport_error(now, chain.protocol, src, dst, quoted, trouble);
    }

    /// An IPv6 packet carrying the ICMPv6 message `repr` from `src` to `dst`.
    fn icmp6_packet(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        repr: &icmpv6::Repr<'_>,
    ) -> Vec<u8> {
        let mut packet = self.ip6_packet(src, dst, Protocol::Icmpv6, repr.buffer_len(), hop_limit);
        let body = &mut packet[ipv6::HEADER_LEN..];
        repr.emit(&mut icmpv6::Packet::new_unchecked(body), src, dst, &self.config.checksums);
        packet
    }

    /// The hop limit of the packets we send.
    pub(super) fn hop_limit6(&self) -> u8 {
        self.v6.as_ref().map_or(64, |v6| v6.config.hop_limit)
    }

    /// Whether our address `addr` is through duplicate address detection.
    pub fn ipv6_address_ready(&self, addr: Ipv6Addr) -> bool {
        self.v6.as_ref().is_some_and(|v6| v6.iface.has_addr(addr))
    }

    /// Our IPv6 addresses that are ready for use, link-local first.
    pub fn ipv6_addresses(&self) -> Vec<Ipv6Addr> {
        let Some(v6) = &self.v6 else { return Vec::new() };
        v6.iface.addresses.iter().filter(|a| a.dad == Dad::Preferred).map(|a| a.cidr.addr).collect()
    }
}

/// A lifetime in seconds from a router, as an instant: `u32::MAX` is for ever.
fn lifetime(now: Instant, secs: u32) -> Option<Instant> {
    (secs != u32::MAX).then(|| now + Duration::from_secs(u64::from(secs)))
}

/// The two hours below which an advertisement cannot shorten an address's valid lifetime
/// (RFC 4862 §5.5.3 (e)), so a forged one cannot take it away at once.
const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

/// A prefix information option of a router advertisement (RFC 4861 §6.3.4, RFC 4862
/// §5.5.3).
fn prefix_info(
    v6: &mut V6,
    now: Instant,
    mac: crate::wire::ethernet::Address,
    info: &icmpv6::PrefixInfo,
) {
    let Some(prefix) = Ipv6Cidr::new(info.prefix, info.prefix_len) else { return };
    let prefix = Ipv6Cidr { addr: prefix.network(), ..prefix };
    // (a) and (b): link-local prefixes are not taken; (c): preferred may not exceed valid.
    if ipv6::is_link_local(prefix.addr) || info.preferred_lifetime > info.valid_lifetime {
        return;
    }
    if info.on_link {
        v6.iface.on_link.retain(|p| p.prefix != prefix);
        if info.valid_lifetime > 0 {
            let until =
                lifetime(now, info.valid_lifetime).unwrap_or(Instant::from_micros(u64::MAX));
            v6.iface.on_link.push(OnLink { prefix, until });
        }
    }
    // Only a /64 makes an address on Ethernet (RFC 4862 §5.5.3 (d), RFC 4291 §2.5.1).
    if !info.autonomous || prefix.prefix_len != 64 {
        return;
    }
    let preferred_until = lifetime(now, info.preferred_lifetime);
    let existing = v6
        .iface
        .addresses
        .iter_mut()
        .find(|a| a.origin == Origin::Slaac && a.cidr.network() == prefix.addr);
    if let Some(a) = existing {
        // (e): the valid lifetime may grow freely, but shrink only to two hours.
        let received = lifetime(now, info.valid_lifetime);
        let remaining = a.valid_until.map(|t| t - now);
        let longer = match (received, a.valid_until) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(r), Some(v)) => r > v,
        };
        if longer || Duration::from_secs(u64::from(info.valid_lifetime)) > TWO_HOURS {
            a.valid_until = received;
        } else if remaining.is_some_and(|r| r > TWO_HOURS) {
            a.valid_until = Some(now + TWO_HOURS);
        }
        a.preferred_until = preferred_until;
        a.deprecated = preferred_until.is_some_and(|t| t <= now);
        return;
    }
    if info.valid_lifetime == 0 {
        return;
    }
    let iid = iface6::stable_iid(&v6.secret, prefix.addr, mac, 0);
    let addr = iface6::with_iid(prefix.addr, iid);
    if v6.iface.addresses.iter().any(|a| a.cidr.addr == addr) {
        return;
    }
    let dad = match v6.config.dad_transmits {
        0 => Dad::Preferred,
        left => Dad::Tentative { left, next: None },
    };
    v6.iface.addresses.push(Address6 {
        cidr: Ipv6Cidr { addr, prefix_len: 64 },
        origin: Origin::Slaac,
        dad,
        conflicts: 0,
        valid_until: lifetime(now, info.valid_lifetime),
        preferred_until,
        deprecated: info.preferred_lifetime == 0,
    });
    v6.report_due = true;
}
