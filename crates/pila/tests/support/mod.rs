//! Helpers of the stack tests on top of the simulator's `pila::sim::Net` (two stacks on a
//! virtual wire, on a virtual clock): the two hosts' configurations, host indices, frames
//! built by hand, and a router with a smaller MTU.
#![allow(dead_code, unreachable_pub, missing_docs)]

use pila::device::WireConfig;
use pila::sim::Verdict;
pub use pila::sim::{Net, Side};
use pila::stack::Config;
use pila::time::Duration;
use pila::wire::ethernet;

pub const A_IP: &str = "192.0.2.1";
pub const B_IP: &str = "192.0.2.2";
pub const A_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0a]);
pub const B_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0x0b]);

/// Host A (index 0) and host B (index 1).
pub const A: Side = Side::Client;
pub const B: Side = Side::Server;

/// The host with index `i`: 0 is A, 1 is B.
pub fn side(i: usize) -> Side {
    if i == 0 { A } else { B }
}

/// The configuration of host A or B on 192.0.2.0/24.
pub fn config(b: bool) -> Config {
    Config {
        mac: if b { B_MAC } else { A_MAC },
        addresses: vec![format!("{}/24", if b { B_IP } else { A_IP }).parse().unwrap()],
        seed: Some(if b { 2 } else { 1 }),
        ..Config::default()
    }
}

/// A and B with the default configurations on a perfect Ethernet wire.
pub fn two_hosts() -> Net {
    net_with(config(false), config(true), WireConfig::default())
}

/// A configured by `a` and B by `b` on `wire`.
pub fn net_with(a: Config, b: Config, wire: WireConfig) -> Net {
    Net::new(a, b, wire).unwrap()
}

/// The stack tests' way of running a net: a time limit first, then the goal; whether the
/// goal was reached.
pub trait RunWithin {
    fn run_within(&mut self, limit: Duration, done: impl FnMut(&mut Net) -> bool) -> bool;
}

impl RunWithin for Net {
    fn run_within(&mut self, limit: Duration, done: impl FnMut(&mut Self) -> bool) -> bool {
        self.run_until(done, limit).is_ok()
    }
}

/// Every frame captured so far, with the index of the host that sent it.
pub fn sent(net: &Net) -> Vec<(usize, Vec<u8>)> {
    net.captured().iter().map(|f| (usize::from(f.from == B), f.frame.clone())).collect()
}

/// Puts a router with an IP MTU of `mtu` between A and B: a datagram larger than it with DF
/// set does not pass, and its sender gets an ICMP "fragmentation needed" (RFC 1191).
pub fn set_path_mtu(net: &mut Net, mtu: usize) {
    net.set_filter(move |_, frame| too_big(frame, mtu).map_or(Verdict::Pass, Verdict::Reply));
}

/// An Ethernet frame from A's MAC to B's carrying `ethertype` and `payload`.
pub fn eth_frame(
    dst: ethernet::Address,
    ethertype: ethernet::EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let repr = ethernet::Repr { src_addr: A_MAC, dst_addr: dst, ethertype, vlan: None };
    let mut frame = vec![0; repr.buffer_len(payload.len())];
    repr.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
    frame[repr.header_len()..].copy_from_slice(payload);
    frame
}

/// The router's address, on the shared prefix.
pub const ROUTER_IP: &str = "192.0.2.254";
pub const ROUTER_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 0xfe]);

/// If `frame` carries an IPv4 datagram with DF set larger than `mtu`, the ICMP
/// "fragmentation needed" a router would send back (as an Ethernet frame to the sender).
pub fn too_big(frame: &[u8], mtu: usize) -> Option<Vec<u8>> {
    use pila::wire::ipv4;
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::EtherType::Ipv4 {
        return None;
    }
    let datagram = eth.payload();
    let packet = ipv4::Packet::new_checked(datagram).ok()?;
    if datagram.len() <= mtu || !packet.dont_frag() {
        return None;
    }
    Some(frag_needed(datagram, mtu as u16, eth.src_addr()))
}

/// An ICMP "fragmentation needed" from the router about `datagram` (whole, or its header
/// and first bytes), announcing `mtu`, in an Ethernet frame to `to`.
pub fn frag_needed(datagram: &[u8], mtu: u16, to: ethernet::Address) -> Vec<u8> {
    use pila::wire::{Checksums, icmpv4, ip::Protocol, ipv4};
    let (quoted, _) = ipv4::Repr::parse_quoted(datagram).unwrap();
    let repr = icmpv4::Repr::frag_required(mtu, datagram).unwrap();
    let ip = ipv4::Repr {
        src_addr: ROUTER_IP.parse().unwrap(),
        dst_addr: quoted.src_addr,
        protocol: Protocol::Icmp,
        payload_len: repr.buffer_len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut bytes = vec![0; ip.buffer_len()];
    let (h, body) = bytes.split_at_mut(ipv4::HEADER_LEN);
    ip.emit(&mut ipv4::Packet::new_unchecked(h), &Checksums::SOFTWARE);
    repr.emit(&mut icmpv4::Packet::new_unchecked(body), &Checksums::SOFTWARE);
    let e = ethernet::Repr {
        src_addr: ROUTER_MAC,
        dst_addr: to,
        ethertype: ethernet::EtherType::Ipv4,
        vlan: None,
    };
    let mut out = vec![0; e.buffer_len(bytes.len())];
    e.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
    out[e.header_len()..].copy_from_slice(&bytes);
    out
}

/// The IP version a scenario runs over. Scenarios are written with IPv4 literals; over
/// IPv6 each address maps to its twin ([`Family::twin`]), and the hosts have both families
/// with their IPv6 addresses through duplicate address detection before the scenario
/// begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The twin of an IPv4 address over IPv6: 192.0.2.0/24 is 2001:db8::/64 (A's
    /// 2001:db8::1, B's 2001:db8::2), 198.51.100.0/24 is 2001:db8:1::/64, 203.0.113.0/24 is
    /// 2001:db8:2::/64, and 0.0.0.0 is `::`. Over IPv4, the address itself.
    pub fn twin(self, ip: core::net::IpAddr) -> core::net::IpAddr {
        use core::net::{IpAddr, Ipv6Addr};
        let IpAddr::V4(v4) = ip else { return ip };
        if self == Self::V4 {
            return ip;
        }
        let [a, b, c, host] = v4.octets();
        let net = match [a, b, c] {
            [0, 0, 0] if host == 0 => return IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            [192, 0, 2] => 0,
            [198, 51, 100] => 1,
            [203, 0, 113] => 2,
            _ => panic!("{v4} has no IPv6 twin"),
        };
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, u16::from(host)))
    }

    /// `addr`, written as an IPv4 socket address (or an IPv6 one, kept), in this family.
    pub fn sa(self, addr: &str) -> core::net::SocketAddr {
        let addr: core::net::SocketAddr = addr.parse().unwrap();
        core::net::SocketAddr::new(self.twin(addr.ip()), addr.port())
    }

    /// Host A's or B's configuration: [`config`], and over IPv6 its twin address too.
    pub fn config(self, b: bool) -> Config {
        let mut config = config(b);
        if self == Self::V6 {
            let ip = self.twin(if b { B_IP } else { A_IP }.parse().unwrap());
            config.ipv6 = Some(pila::stack::Ipv6Config {
                addresses: vec![format!("{ip}/64").parse().unwrap()],
                stable_secret: Some([if b { 0xbb } else { 0xaa }; 16]),
                router_solicitations: 0,
                ..pila::stack::Ipv6Config::default()
            });
        }
        config
    }

    /// A configured by `a` and B by `b` on `wire`, once their addresses are usable.
    pub fn net_with(self, a: Config, b: Config, wire: WireConfig) -> Net {
        let mut net = net_with(a, b, wire);
        if self == Self::V6 {
            let ready = net.run_within(Duration::from_secs(5), |n| {
                n.a().ipv6_addresses().len() == 2 && n.b().ipv6_addresses().len() == 2
            });
            assert!(ready, "IPv6 addresses still tentative");
        }
        net
    }

    /// [`two_hosts`] in this family.
    pub fn two_hosts(self) -> Net {
        self.net_with(self.config(false), self.config(true), WireConfig::default())
    }
}
