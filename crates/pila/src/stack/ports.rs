//! Ephemeral ports, RFC 6056 Algorithm 3 ("simple hash-based"): the search for a free
//! port starts at an offset keyed-hashed from the connection's addresses, plus a counter
//! that moves on with every allocation. Ports for different peers are unpredictable to an
//! outsider, while consecutive connections to one peer do not collide.

use core::hash::Hasher;
use core::net::IpAddr;

use siphasher::sip::SipHasher13;

/// The ephemeral port allocator.
#[derive(Debug)]
pub(crate) struct Ports {
    key: [u8; 16],
    counter: u32,
    min: u16,
    max: u16,
}

impl Ports {
    pub(crate) fn new(key: [u8; 16], counter: u32, (min, max): (u16, u16)) -> Self {
        Self { key, counter, min, max }
    }

    /// A port for a socket at `local` talking to `remote` (`None` for an unconnected bind,
    /// where `salt` should be random), the first for which `free` holds; `None` when every
    /// port in the range is taken.
    pub(crate) fn allocate(
        &mut self,
        local: IpAddr,
        remote: Option<(IpAddr, u16)>,
        salt: u32,
        mut free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let num = u32::from(self.max - self.min) + 1;
        let mut h = SipHasher13::new_with_key(&self.key);
        write_ip(&mut h, local);
        if let Some((ip, port)) = remote {
            write_ip(&mut h, ip);
            h.write_u16(port);
        }
        let offset = (h.finish() as u32).wrapping_add(salt);
        for _ in 0..num {
            let pick = self.counter.wrapping_add(offset) % num;
            self.counter = self.counter.wrapping_add(1);
            // `pick < num <= 65536`, and `min + pick <= max`.
            let port = self.min + pick as u16;
            if free(port) {
                return Some(port);
            }
        }
        None
    }
}

/// Feeds an address to the hash: four bytes for IPv4, sixteen for IPv6.
fn write_ip(h: &mut SipHasher13, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => h.write(&ip.octets()),
        IpAddr::V6(ip) => h.write(&ip.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use std::collections::HashSet;

    const L: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const R: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn ports_stay_in_range_skip_taken_ones_and_run_out() {
        let mut p = Ports::new([7; 16], 0, (50000, 50009));
        let mut taken = HashSet::new();
        for _ in 0..10 {
            let port = p
                .allocate(L.into(), Some((R.into(), 80)), 0, |port| !taken.contains(&port))
                .unwrap();
            assert!((50000..=50009).contains(&port));
            assert!(taken.insert(port));
        }
        assert_eq!(
            p.allocate(L.into(), Some((R.into(), 80)), 0, |port| !taken.contains(&port)),
            None
        );
    }

    #[test]
    fn different_peers_and_keys_start_elsewhere() {
        let first = |key: u8, port: u16| {
            Ports::new([key; 16], 0, (49152, 65535)).allocate(
                L.into(),
                Some((R.into(), port)),
                0,
                |_| true,
            )
        };
        assert_ne!(first(1, 80), first(2, 80));
        assert_ne!(first(1, 80), first(1, 443));
        // One peer: consecutive allocations are consecutive ports (no collisions).
        let mut p = Ports::new([1; 16], 0, (49152, 65535));
        let a = p.allocate(L.into(), Some((R.into(), 80)), 0, |_| true).unwrap();
        let b = p.allocate(L.into(), Some((R.into(), 80)), 0, |_| true).unwrap();
        assert_eq!(u32::from(b), (u32::from(a) - 49152 + 1) % 16384 + 49152);
    }
}
