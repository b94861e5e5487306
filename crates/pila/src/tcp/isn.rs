//! Initial sequence numbers (RFC 6528).
//!
//! ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a clock that
//! ticks every 4 µs (RFC 9293 §3.4.1) and F is SipHash-2-4 keyed with a secret, so an off-path
//! attacker can neither guess the ISN of a connection nor learn it from another one.

use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;

use crate::time::Instant;
use crate::wire::tcp::SeqNumber;

/// Generates RFC 6528 initial sequence numbers from a secret key.
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u8; 16],
}

impl core::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnGenerator { .. }") // never print the secret
    }
}

impl IsnGenerator {
    /// A generator keyed with `key`, which must be secret and unpredictable (e.g. drawn once
    /// from the stack's seeded generator with an unpredictable seed).
    pub fn new(key: [u8; 16]) -> Self {
        Self { key }
    }

    /// The ISN for a connection from `local` to `remote` at `now` (RFC 6528 §3).
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNumber {
        // M: a 4 µs timer (RFC 9293 §3.4.1), mod 2^32.
        let m = (now.total_micros() / 4) as u32;
        let mut h = SipHasher24::new_with_key(&self.key);
        for addr in [local, remote] {
            match addr.ip() {
                IpAddr::V4(ip) => h.write(&ip.octets()),
                IpAddr::V6(ip) => h.write(&ip.octets()),
            }
            h.write(&addr.port().to_be_bytes());
        }
        // F: the low 32 bits of the keyed hash.
        SeqNumber(m.wrapping_add(h.finish() as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn isn_follows_the_4us_clock_for_one_tuple() {
        let g = IsnGenerator::new([7; 16]);
        let (l, r) = (addr("192.0.2.1:1000"), addr("198.51.100.2:80"));
        let a = g.isn(Instant::from_micros(1_000), l, r);
        let b = g.isn(Instant::from_micros(1_400), l, r);
        assert_eq!(b.wrapping_sub(a), 100);
    }

    #[test]
    fn isn_depends_on_tuple_and_key() {
        let t = Instant::from_secs(3);
        let g = IsnGenerator::new([7; 16]);
        let (l, r) = (addr("192.0.2.1:1000"), addr("198.51.100.2:80"));
        let base = g.isn(t, l, r);
        assert_ne!(base, g.isn(t, addr("192.0.2.1:1001"), r));
        assert_ne!(base, g.isn(t, l, addr("198.51.100.3:80")));
        assert_ne!(base, g.isn(t, r, l));
        assert_ne!(base, IsnGenerator::new([8; 16]).isn(t, l, r));
        assert_eq!(base, IsnGenerator::new([7; 16]).isn(t, l, r));
    }

    #[test]
    fn clock_wraps_mod_2_32() {
        let g = IsnGenerator::new([1; 16]);
        let (l, r) = (addr("192.0.2.1:1"), addr("192.0.2.2:2"));
        let t = Instant::from_micros(u64::from(u32::MAX) * 4);
        let a = g.isn(t, l, r);
        let b = g.isn(t + crate::time::Duration::from_micros(8), l, r);
        assert_eq!(b.wrapping_sub(a), 2);
    }
}
