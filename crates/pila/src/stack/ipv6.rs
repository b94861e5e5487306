//! IPv6: packets in (validated, filtered by destination, walked down their extension
//! headers, handed to ICMPv6) and out (routed, queued behind neighbour discovery when the
//! next hop is unresolved), and the state the family keeps: its addresses and their
//! duplicate address detection, its neighbour cache, the groups it reports.

use core::net::{IpAddr, Ipv6Addr};

use super::iface6::{self, Address6, Dad, Interface6, Origin};
use super::neighbor::{Neighbors, NudConfig, Route};
use super::{Error, Ipv6Config, Medium, SocketHandle, Stack};
use crate::time::{Duration, Instant};
use crate::wire::ethernet;
use crate::wire::ip::Protocol;
use crate::wire::ipv6::{self, ext};

/// The most a first duplicate address detection waits before its solicitation (RFC 4862
/// §5.4.2, MAX_RTR_SOLICITATION_DELAY): nodes that start together do not all speak at once.
const MAX_FIRST_DAD_DELAY_MS: u64 = 1_000;

/// The time between router solicitations (RFC 4861 §10, RTR_SOLICITATION_INTERVAL).
const RTR_SOLICITATION_INTERVAL: Duration = Duration::from_secs(4);

/// The IPv6 state of a stack.
#[derive(Debug)]
pub(crate) struct V6 {
    pub(crate) config: Ipv6Config,
    pub(crate) iface: Interface6,
    pub(crate) neighbors: Neighbors<Ipv6Addr>,
    /// The key of the stable link-local address (RFC 7217).
    pub(crate) secret: [u8; 16],
    /// The groups changed: an MLDv2 report is due.
    pub(crate) report_due: bool,
    /// The groups the last MLD report said we listen to: one no longer joined is left in
    /// the next.
    pub(crate) reported: Vec<Ipv6Addr>,
    /// Router solicitations still to send, and when the next goes (`None`: not started).
    pub(crate) solicit: (u32, Option<Instant>),
    /// The link MTU a router advertised, if below ours.
    pub(crate) mtu: Option<usize>,
    /// Fragmented packets sent: the counter in their identification (RFC 7739).
    pub(crate) fragmented: u32,
    /// Path MTUs smaller than the link's that Packet Too Big messages reported, per
    /// destination (RFC 8201 §5.2), each until it expires (§4: ten minutes, after which
    /// the larger MTU is tried again). At most [`PMTU_ENTRIES`].
    pub(crate) path_mtus: std::collections::HashMap<Ipv6Addr, (usize, Instant)>,
}

/// The most destinations whose path MTU is kept: a flood of forged Packet Too Bigs can
/// only replace entries, never grow the table.
pub(crate) const PMTU_ENTRIES: usize = 1024;
/// How long a learned path MTU holds (RFC 8201 §4 suggests ten minutes).
const PMTU_LIFETIME: Duration = Duration::from_secs(600);

impl V6 {
    /// The path MTU to `dst` as far as a Packet Too Big said, if it said anything.
    pub(crate) fn path_mtu(&self, dst: Ipv6Addr) -> Option<usize> {
        self.path_mtus.get(&dst).map(|&(mtu, _)| mtu)
    }

    /// A Packet Too Big said the path to `dst` takes `mtu` bytes (already at least 1280):
    /// kept if smaller than what is known.
    pub(crate) fn learn_path_mtu(&mut self, now: Instant, dst: Ipv6Addr, mtu: usize) {
        if self.path_mtu(dst).is_some_and(|known| known <= mtu) {
            return;
        }
        if self.path_mtus.len() >= PMTU_ENTRIES && !self.path_mtus.contains_key(&dst) {
            // Full: the entry closest to expiring makes way.
            let oldest =
                self.path_mtus.iter().min_by_key(|(_, (_, until))| *until).map(|(&a, _)| a);
            if let Some(oldest) = oldest {
                self.path_mtus.remove(&oldest);
            }
        }
        self.path_mtus.insert(dst, (mtu, now + PMTU_LIFETIME));
    }
}

impl V6 {
    /// The IPv6 side of an interface with MAC `mac`, every address tentative.
    pub(crate) fn new(config: &Ipv6Config, mac: ethernet::Address, secret: [u8; 16]) -> Self {
        let dad = |config: &Ipv6Config| {
            if config.dad_transmits == 0 {
                Dad::Preferred
            } else {
                Dad::Tentative { left: config.dad_transmits, next: None }
            }
        };
        let mut addresses = vec![Address6 {
            cidr: iface6::link_local(&secret, mac, 0),
            origin: Origin::LinkLocal,
            dad: dad(config),
            conflicts: 0,
            valid_until: None,
            preferred_until: None,
            deprecated: false,
        }];
        addresses.extend(config.addresses.iter().map(|&cidr| Address6 {
            cidr,
            origin: Origin::Static,
            dad: dad(config),
            conflicts: 0,
            valid_until: None,
            preferred_until: None,
            deprecated: false,
        }));
        let mut neighbors = Neighbors::new(NudConfig {
            reachable_time: config.reachable_time,
            retries: 3,
            retry_interval: config.retrans_timer,
            delay_first_probe: Duration::from_secs(5),
            pending_limit: 16,
        });
        for &(ip, mac) in &config.neighbors {
            neighbors.insert_static(ip, mac);
        }
        Self {
            config: config.clone(),
            iface: Interface6 { addresses, gateway: config.gateway, ..Default::default() },
            neighbors,
            secret,
            report_due: true,
            reported: Vec::new(),
            solicit: (config.router_solicitations, None),
            mtu: None,
            fragmented: 0,
            path_mtus: std::collections::HashMap::new(),
        }
    }

    /// [`Stack::flow_label`] of this side's secret.
    pub(crate) fn flow_label(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        protocol: Protocol,
        ports: (u16, u16),
    ) -> u32 {
        use core::hash::Hasher as _;
        let mut h = siphasher::sip::SipHasher13::new_with_key(&self.secret);
        h.write_u8(b'f');
        h.write(&src.octets());
        h.write(&dst.octets());
        h.write_u8(protocol.into());
        h.write_u16(ports.0);
        h.write_u16(ports.1);
        (h.finish() as u32) & 0x000f_ffff
    }

    /// The next duplicate address detection step or neighbour deadline. An address whose
    /// detection has not begun, or a report to send, is due at once: the stack gets its
    /// `now` from the call.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        let dad = self.iface.addresses.iter().filter_map(|a| match a.dad {
            Dad::Tentative { next, .. } => Some(next.unwrap_or(Instant::ZERO)),
            _ => None,
        });
        let report = self.report_due.then_some(Instant::ZERO);
        let solicit = match self.solicit {
            (0, _) => None,
            (_, next) => Some(next.unwrap_or(Instant::ZERO)),
        };
        let lifetimes = self.iface.addresses.iter().flat_map(|a| {
            let preferred = a.preferred_until.filter(|_| !a.deprecated);
            a.valid_until.into_iter().chain(preferred)
        });
        let routes = self.iface.routers.iter().map(|r| r.until);
        let prefixes = self.iface.on_link.iter().map(|p| p.until);
        dad.chain(self.neighbors.poll_at())
            .chain(report)
            .chain(solicit)
            .chain(lifetimes)
            .chain(routes)
            .chain(prefixes)
            .chain(self.path_mtus.values().map(|&(_, until)| until))
            .min()
    }
}

impl Stack {
    /// An IPv6 packet arrived: validated, filtered by destination, its extension headers
    /// walked, and delivered.
    pub(super) fn ipv6_input(&mut self, now: Instant, data: &[u8]) {
        self.counters.ip6_in_receives += 1;
        let Some(v6) = &self.v6 else {
            self.counters.ip6_in_addr_errors += 1;
            return;
        };
        let Ok(packet) = ipv6::Packet::new_checked(data) else {
            self.counters.ip6_in_hdr_errors += 1;
            return;
        };
        let Ok(repr) = ipv6::Repr::parse(&packet) else {
            self.counters.ip6_in_hdr_errors += 1;
            return;
        };
        // RFC 4291 §2.7: a multicast source is never legal.
        if repr.src_addr.is_multicast() {
            self.counters.ip6_in_hdr_errors += 1;
            return;
        }
        let multicast = repr.dst_addr.is_multicast();
        let for_us = if multicast {
            v6.iface.listens_to(repr.dst_addr)
        } else {
            // A tentative address takes neighbour discovery only: ICMPv6 sorts that out.
            // Transparent mode takes what it intercepts, whatever is inside (the header
            // chain is walked before the protocol is known).
            v6.iface.find(repr.dst_addr).is_some() || self.intercepts.covers(repr.dst_addr.into())
        };
        if !for_us {
            self.counters.ip6_in_addr_errors += 1;
            return;
        }
        self.ipv6_deliver(now, &repr, &data[..repr.buffer_len()], multicast);
    }

    /// An IPv6 packet for us, `raw` as received (or as rebuilt from its fragments): its
    /// extension headers walked, then to its upper layer, or to reassembly.
    pub(super) fn ipv6_deliver(
        &mut self,
        now: Instant,
        repr: &ipv6::Repr,
        raw: &[u8],
        multicast: bool,
    ) {
        let repr = *repr;
        let payload = raw.get(ipv6::HEADER_LEN..).unwrap_or_default();
        let chain = match ext::walk(repr.next_header, payload, ipv6::HEADER_LEN, true, multicast) {
            Ok(chain) => chain,
            Err(refusal) => {
                self.counters.ip6_in_hdr_errors += 1;
                if let ext::Refusal::Problem { code, pointer } = refusal {
                    self.icmpv6_param_problem(now, code, pointer, &repr, raw);
                }
                return;
            }
        };
        if let Some(fragment) = chain.fragment.filter(|f| !f.is_atomic()) {
            self.fragment6_input(now, &repr, raw, &chain, fragment, multicast);
            return;
        }
        let upper = &payload[chain.start..];
        match chain.protocol {
            Protocol::Icmpv6 => {
                self.counters.ip6_in_delivers += 1;
                self.icmpv6_input(now, &repr, upper);
            }
            // A tentative address takes neighbour discovery only (RFC 4862 §5.4.3); one not
            // ours at all reached here only if it is intercepted, for some protocol.
            p @ (Protocol::Udp | Protocol::Tcp)
                if !multicast
                    && !self.ipv6_address_ready(repr.dst_addr)
                    && (!self.intercepts.takes(p, repr.dst_addr.into())
                        || self
                            .v6
                            .as_ref()
                            .is_some_and(|v6| v6.iface.find(repr.dst_addr).is_some())) =>
            {
                self.counters.ip6_in_addr_errors += 1;
            }
            // TCP is unicast only.
            Protocol::Tcp if multicast => self.counters.ip6_in_addr_errors += 1,
            Protocol::Tcp => {
                self.counters.ip6_in_delivers += 1;
                let (src, dst) = (IpAddr::V6(repr.src_addr), IpAddr::V6(repr.dst_addr));
                self.tcp_input(now, src, dst, upper);
            }
            Protocol::Udp => {
                self.counters.ip6_in_delivers += 1;
                let (src, dst) = (IpAddr::V6(repr.src_addr), IpAddr::V6(repr.dst_addr));
                let arrival = super::udp::Arrival::V6(&repr, raw, multicast);
                self.udp_input(now, src, dst, upper, arrival);
            }
            Protocol::Unknown(ext::NO_NEXT_HEADER) => {}
            _ => {
                self.counters.ip6_in_unknown_protos += 1;
                if !multicast {
                    let code = ext::ProblemCode::UnrecognizedNextHeader;
                    self.icmpv6_param_problem(now, code, chain.pointer, &repr, raw);
                }
            }
        }
    }

    /// A packet of `payload_len` zero bytes behind a filled-in IPv6 header.
    pub(super) fn ip6_packet(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: Protocol,
        payload_len: usize,
        hop_limit: u8,
    ) -> Vec<u8> {
        let repr = ipv6::Repr {
            src_addr: src,
            dst_addr: dst,
            next_header,
            payload_len,
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut packet = vec![0; repr.buffer_len()];
        repr.emit(&mut ipv6::Packet::new_unchecked(&mut packet[..]));
        packet
    }

    /// The flow label of the packets of one flow (RFC 6437 §3): the five-tuple hashed with
    /// the stack's secret, the same for every packet of the flow and different, with no
    /// pattern an observer could use, for each other flow. Zero with IPv6 off.
    pub(super) fn flow_label(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        protocol: Protocol,
        ports: (u16, u16),
    ) -> u32 {
        self.v6.as_ref().map_or(0, |v6| v6.flow_label(src, dst, protocol, ports))
    }

    /// Routes a whole IPv6 packet to `dst`: a multicast one to its group's MAC, a unicast
    /// one to its next hop's when known, or to the neighbour's pending queue while neighbour
    /// discovery resolves it.
    pub(super) fn send_ip6(
        &mut self,
        now: Instant,
        dst: Ipv6Addr,
        packet: Vec<u8>,
        owner: Option<SocketHandle>,
    ) -> Result<(), Error> {
        self.counters.ip6_out_requests += 1;
        if self.config.medium == Medium::Ip {
            return self.push_link6(ethernet::Address::BROADCAST, packet);
        }
        if dst.is_multicast() {
            return self.push_link6(ethernet::Address::from_ipv6_multicast(dst), packet);
        }
        let Some(v6) = self.v6.as_mut() else { return Err(Error::InvalidInput) };
        let Some(hop) = v6.iface.next_hop(dst) else {
            self.counters.ip6_out_no_routes += 1;
            return Err(Error::NetworkUnreachable);
        };
        match v6.neighbors.resolve(now, hop, packet, owner) {
            Route::Send(mac, packet) => self.push_link6(mac, packet),
            Route::Queued => Ok(()),
            Route::Dropped => {
                self.counters.ip6_out_discards += 1;
                Err(Error::NoBufferSpace)
            }
        }
    }

    /// The IPv6 MTU: the link's, or the smaller one a router advertised.
    pub(super) fn mtu6(&self) -> usize {
        self.v6.as_ref().and_then(|v6| v6.mtu).unwrap_or(self.config.mtu)
    }

    /// Queues an IPv6 packet for `dst` in the control queue, in fragments if it is larger
    /// than the MTU (RFC 8200 §4.5: the source fragments, never a router).
    pub(super) fn push_link6(
        &mut self,
        dst: ethernet::Address,
        packet: Vec<u8>,
    ) -> Result<(), Error> {
        // The link's MTU, or a smaller one the path to the packet's destination has.
        let to = <[u8; 16]>::try_from(packet.get(24..40).unwrap_or_default()).map(Ipv6Addr::from);
        let path = to.ok().and_then(|to| self.v6.as_ref()?.path_mtu(to));
        let mtu = path.map_or(self.mtu6(), |p| p.min(self.mtu6()));
        if packet.len() > mtu {
            return self.push_fragments6(dst, &packet, mtu);
        }
        if self.push_link(dst, ethernet::EtherType::Ipv6, packet) {
            Ok(())
        } else {
            Err(Error::NoBufferSpace)
        }
    }

    /// Whether a frame to `dst` is one of ours to read: a group we listen to.
    pub(super) fn listens_to_mac(&self, dst: ethernet::Address) -> bool {
        let Some(v6) = &self.v6 else { return false };
        let ours = |group: Ipv6Addr| ethernet::Address::from_ipv6_multicast(group) == dst;
        ours(ipv6::ALL_NODES) || v6.iface.groups().any(ours)
    }

    /// Duplicate address detection and neighbour timers due at `now` (RFC 4862 §5.4).
    pub(super) fn ipv6_timeout(&mut self, now: Instant) {
        let Some(v6) = self.v6.as_mut() else { return };
        v6.path_mtus.retain(|_, &mut (_, until)| until > now);
        let retrans = v6.config.retrans_timer;
        let mut solicit = Vec::new();
        let mut started = false;
        for a in &mut v6.iface.addresses {
            let Dad::Tentative { left, next } = &mut a.dad else { continue };
            match *next {
                None => {
                    // The first solicitation waits a random delay, so that hosts that come
                    // up together do not collide; the group is joined before it.
                    let delay = self.rng.below(MAX_FIRST_DAD_DELAY_MS);
                    *next = Some(now + Duration::from_millis(delay));
                    started = true;
                }
                Some(at) if at <= now => {
                    if *left == 0 {
                        a.dad = Dad::Preferred;
                    } else {
                        *left -= 1;
                        *next = Some(now + retrans);
                        solicit.push(a.cidr.addr);
                    }
                }
                Some(_) => {}
            }
        }
        if started {
            v6.report_due = true;
        }
        // Lifetimes: an address past its valid lifetime goes, one past its preferred one
        // is deprecated (RFC 4862 §5.5.4); routers and on-link prefixes expire.
        let before = v6.iface.addresses.len();
        v6.iface.addresses.retain(|a| a.valid_until.is_none_or(|t| t > now));
        if v6.iface.addresses.len() != before {
            v6.report_due = true;
        }
        for a in &mut v6.iface.addresses {
            if a.preferred_until.is_some_and(|t| t <= now) {
                a.deprecated = true;
            }
        }
        v6.iface.routers.retain(|r| r.until > now);
        v6.iface.on_link.retain(|p| p.until > now);
        let solicit_router = match v6.solicit {
            (0, _) => false,
            (left, None) => {
                let delay = self.rng.below(MAX_FIRST_DAD_DELAY_MS);
                v6.solicit = (left, Some(now + Duration::from_millis(delay)));
                false
            }
            (left, Some(at)) if at <= now => {
                v6.solicit = (left - 1, Some(now + RTR_SOLICITATION_INTERVAL));
                true
            }
            _ => false,
        };
        if std::mem::take(&mut v6.report_due) {
            self.mld_report(now);
        }
        for target in solicit {
            self.dad_solicit(now, target);
        }
        if solicit_router {
            self.router_solicit(now);
        }
        let failed = match self.v6.as_mut() {
            Some(v6) => v6.neighbors.handle_timeout(now),
            None => Vec::new(),
        };
        for (_, queue) in failed {
            self.counters.nd_failed += 1;
            self.counters.ip6_out_discards += self.fail_pending(now, queue);
        }
    }

    /// Another node holds `addr`, which we were checking or using: it is never used again
    /// (RFC 4862 §5.4.5). A stable link-local address is made anew, with the next
    /// conflict counter (RFC 7217 §6), up to [`iface6::IDGEN_RETRIES`] times.
    pub(super) fn dad_conflict(&mut self, addr: Ipv6Addr) {
        let Some(v6) = self.v6.as_mut() else { return };
        let Some(a) = v6.iface.find_mut(addr) else { return };
        self.counters.nd_dad_conflicts += 1;
        a.dad = Dad::Duplicated;
        let (origin, conflicts) = (a.origin, a.conflicts + 1);
        if origin == Origin::LinkLocal && conflicts <= iface6::IDGEN_RETRIES {
            let mac = self.config.mac;
            let fresh = Address6 {
                cidr: iface6::link_local(&v6.secret, mac, conflicts),
                origin,
                dad: Dad::Tentative { left: v6.config.dad_transmits.max(1), next: None },
                conflicts,
                valid_until: None,
                preferred_until: None,
                deprecated: false,
            };
            v6.iface.addresses.push(fresh);
        }
        v6.report_due = true;
    }
}
