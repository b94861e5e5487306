//! `Stack::ping`, the counters and the driver's life: two stacks on a `VirtualWire`.

mod net_util;

use net_util::{IP_B, pair, within};
use std::io::ErrorKind;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn ping_measures_a_round_trip() {
    within(LIMIT, || {
        let (a, b) = pair();
        for _ in 0..3 {
            let rtt = a.ping(IP_B, Duration::from_secs(5)).unwrap();
            assert!(rtt < Duration::from_secs(1), "{rtt:?}");
        }
        assert_eq!(b.counters().icmp_in_echos, 3);
        assert_eq!(a.counters().icmp_in_echo_reps, 3);
        // Nobody at .9: the request times out.
        let err = a
            .ping(pila::wire::Ipv4Addr::new(192, 0, 2, 9), Duration::from_millis(200))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    });
}

#[test]
fn dropping_the_last_handle_stops_the_driver() {
    within(LIMIT, || {
        let (a, b) = pair();
        let events = a.events();
        let clone = a.clone();
        a.ping(IP_B, Duration::from_secs(5)).unwrap();
        drop(a);
        // A clone keeps the driver running.
        clone.ping(IP_B, Duration::from_secs(5)).unwrap();
        assert!(events.try_next().is_none());
        drop(clone);
        drop(b);
        // The driver has been joined and its event streams closed: iteration ends at once.
        assert_eq!(events.count(), 0);
    });
}
