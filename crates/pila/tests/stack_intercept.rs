//! Transparent mode in the simulator: B is A's router and intercepts the far prefix
//! 198.51.100.0/24 (over IPv6 its twin 2001:db8:1::/64). Connections and datagrams A sends
//! to any far address end in B, which sees their original destinations and answers from
//! them; what B does not intercept it still drops; its own addresses keep their sockets.
//!
//! Every scenario runs over IPv4 (`v4::`) and IPv6 (`v6::`), written once with IPv4
//! addresses (`support::Family`).

mod support;

mod v4 {
    const FAMILY: super::support::Family = super::support::Family::V4;
    include!("stack_intercept/scenarios.rs");
}

mod v6 {
    const FAMILY: super::support::Family = super::support::Family::V6;
    include!("stack_intercept/scenarios.rs");
}

use pila::stack::IpCidr;
use pila::tcp::State;
use pila::time::Duration;
use support::*;

/// An ICMP error about an intercepted connection, addressed to the far address it stands
/// for, reaches that connection: a router's "fragmentation needed" lowers its path MTU,
/// and what did not pass goes through in smaller segments.
#[test]
fn an_icmp_error_about_an_intercepted_connection_reaches_it() {
    let a = pila::stack::Config { gateway: Some(B_IP.parse().unwrap()), ..config(false) };
    let mut net = net_with(a, config(true), pila::device::WireConfig::default());
    let far: IpCidr = "198.51.100.0/24".parse().unwrap();
    let l = net.b().tcp_intercept(&[far], 4).unwrap();
    let now = net.now();
    let c = net.a().tcp_connect(now, "198.51.100.7:80".parse().unwrap(), None).unwrap();
    let mut s = None;
    assert!(net.run_within(Duration::from_secs(5), |n| {
        s = s.or_else(|| n.b().tcp_accept(l).ok());
        s.is_some() && n.a().tcp(c).is_some_and(|c| c.state() == State::Established)
    }));
    let s = s.unwrap();
    set_path_mtu(&mut net, 1000);
    let data = vec![0x5a; 20_000];
    net.b().tcp_mut(s).unwrap().send(&data).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    assert!(net.run_within(Duration::from_secs(10), |n| {
        while let Ok(k) = n.a().tcp_mut(c).unwrap().recv(&mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        got.len() == data.len()
    }));
    assert_eq!(got, data);
    assert!(net.b().tcp(s).unwrap().mss() <= 1000 - 40, "the path MTU was not lowered");
    assert!(net.b().counters().icmp_in_dest_unreachs > 0);
}
