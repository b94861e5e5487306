//! The neighbour cache (RFC 826, RFC 1122 §2.3.2): IPv4 address to MAC address, with
//! expiry and refresh, and the datagrams that wait for a resolution.
//!
//! An unknown neighbour gets an `Incomplete` entry holding up to `pending_limit` datagrams;
//! a request goes out at once and again every `retry_interval`, `retries` times in all.
//! The reply releases the queue; silence fails it, and the stack tells each datagram's
//! socket that the host is unreachable. A resolved entry lives `ttl`; used after that, it
//! is still used while unicast requests refresh it, and dropped if they go unanswered.
//! A static entry (`Config::neighbors`) is never resolved, refreshed, replaced or forgotten.

use std::collections::{BTreeMap, VecDeque};

use core::net::Ipv4Addr;

use super::SocketHandle;
use crate::time::{Duration, Instant};
use crate::wire::ethernet::Address;

/// The most neighbours remembered at once.
const MAX_ENTRIES: usize = 1024;

/// A datagram waiting for its next hop to be resolved.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The whole IPv4 datagram.
    pub(crate) packet: Vec<u8>,
    /// The socket that sent it, told when resolution fails.
    pub(crate) owner: Option<SocketHandle>,
}

#[derive(Debug)]
enum Entry {
    Incomplete {
        attempts: u32,
        next: Instant,
        queue: VecDeque<Pending>,
    },
    Reachable {
        mac: Address,
        expires: Instant,
        refresh: Option<(u32, Instant)>,
    },
    /// Configured, not learned (like `ip neigh add .. nud permanent`).
    Static {
        mac: Address,
    },
}

/// Timings and bounds of the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArpConfig {
    pub(crate) ttl: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_interval: Duration,
    pub(crate) pending_limit: usize,
}

/// What became of a datagram handed to [`Neighbors::enqueue`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Waiting for the reply.
    Queued,
    /// The neighbour's queue (or the cache) is full: dropped.
    Dropped,
}

/// The neighbour cache.
#[derive(Debug)]
pub(crate) struct Neighbors {
    /// Ordered by address: `handle_timeout` walks it and its order reaches the wire, so a
    /// randomly keyed hash map would make the same seed send different frames.
    entries: BTreeMap<Ipv4Addr, Entry>,
    /// Requests to send: target address and, for a refresh, the MAC to unicast to.
    requests: VecDeque<(Ipv4Addr, Option<Address>)>,
    config: ArpConfig,
    /// The earliest retry or failure deadline of any entry: lowered when one is set,
    /// recomputed when one goes, so a driver loop need not scan the cache.
    next_deadline: Option<Instant>,
}

impl Neighbors {
    pub(crate) fn new(config: ArpConfig) -> Self {
        Self { entries: BTreeMap::new(), requests: VecDeque::new(), config, next_deadline: None }
    }

    /// Records that `ip` is at `mac` for good: no request is ever sent for it, and what
    /// ARP packets say about it is ignored. Replaces any entry `ip` had; datagrams that
    /// waited for it are returned.
    pub(crate) fn insert_static(&mut self, ip: Ipv4Addr, mac: Address) -> VecDeque<Pending> {
        let old = self.entries.insert(ip, Entry::Static { mac });
        if old.as_ref().and_then(deadline).is_some() {
            self.recompute_deadline();
        }
        match old {
            Some(Entry::Incomplete { queue, .. }) => queue,
            _ => VecDeque::new(),
        }
    }

    /// The MAC address of `ip`, if known. An expired entry is still answered while a
    /// refresh is under way.
    pub(crate) fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Option<Address> {
        let cfg = self.config;
        match self.entries.get_mut(&ip)? {
            Entry::Incomplete { .. } => None,
            Entry::Static { mac } => Some(*mac),
            Entry::Reachable { mac, expires, refresh } => {
                if now >= *expires && refresh.is_none() {
                    let next = now + cfg.retry_interval;
                    *refresh = Some((1, next));
                    self.requests.push_back((ip, Some(*mac)));
                    lower(&mut self.next_deadline, next);
                }
                Some(*mac)
            }
        }
    }

    /// Queues `pending` until `ip` is resolved, sending the first request if this is a new
    /// resolution.
    pub(crate) fn enqueue(&mut self, now: Instant, ip: Ipv4Addr, pending: Pending) -> Enqueued {
        if !self.entries.contains_key(&ip) && !self.make_room(now) {
            return Enqueued::Dropped;
        }
        let cfg = self.config;
        let entry = self.entries.entry(ip).or_insert_with(|| Entry::Incomplete {
            attempts: 0,
            next: now,
            queue: VecDeque::new(),
        });
        match entry {
            Entry::Incomplete { attempts, next, queue } => {
                if *attempts == 0 {
                    *attempts = 1;
                    *next = now + cfg.retry_interval;
                    self.requests.push_back((ip, None));
                    lower(&mut self.next_deadline, *next);
                }
                if queue.len() >= cfg.pending_limit {
                    return Enqueued::Dropped;
                }
                queue.push_back(pending);
                Enqueued::Queued
            }
            // Resolved meanwhile; the caller looked up first, so this is rare. Queue anyway
            // is wrong: report it dropped and let the transport retry.
            Entry::Reachable { .. } | Entry::Static { .. } => Enqueued::Dropped,
        }
    }

    /// Frees a slot when the cache is full by forgetting expired entries.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.entries.len() < MAX_ENTRIES {
            return true;
        }
        self.entries
            .retain(|_, e| !matches!(e, Entry::Reachable { expires, .. } if *expires <= now));
        self.recompute_deadline();
        self.entries.len() < MAX_ENTRIES
    }

    /// Records that `ip` is at `mac` (from an ARP packet). A new entry is made only when
    /// `create` (we were the target, RFC 826 "merge"); otherwise only a known one is updated.
    /// Returns the datagrams that waited for it.
    pub(crate) fn learn(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: Address,
        create: bool,
    ) -> VecDeque<Pending> {
        let expires = now + self.config.ttl;
        let fresh = Entry::Reachable { mac, expires, refresh: None };
        match self.entries.get_mut(&ip) {
            Some(Entry::Static { .. }) => VecDeque::new(),
            Some(entry) => {
                let old = std::mem::replace(entry, fresh);
                if deadline(&old).is_some() {
                    self.recompute_deadline();
                }
                match old {
                    Entry::Incomplete { queue, .. } => queue,
                    Entry::Reachable { .. } | Entry::Static { .. } => VecDeque::new(),
                }
            }
            None => {
                if create && self.make_room(now) {
                    self.entries.insert(ip, fresh);
                }
                VecDeque::new()
            }
        }
    }

    /// The next ARP request to send: target address, and the MAC to unicast it to.
    pub(crate) fn pop_request(&mut self) -> Option<(Ipv4Addr, Option<Address>)> {
        self.requests.pop_front()
    }

    /// Whether a request waits to be sent.
    pub(crate) fn has_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// Retries and failures due at `now`; returns the resolutions that failed, with the
    /// datagrams that waited for them.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<(Ipv4Addr, VecDeque<Pending>)> {
        if self.next_deadline.is_none_or(|d| d > now) {
            return Vec::new();
        }
        let cfg = self.config;
        let mut failed = Vec::new();
        let mut forget = Vec::new();
        for (&ip, entry) in &mut self.entries {
            match entry {
                Entry::Incomplete { attempts, next, queue } if *next <= now => {
                    if *attempts < cfg.retries {
                        *attempts += 1;
                        *next = now + cfg.retry_interval;
                        self.requests.push_back((ip, None));
                    } else {
                        failed.push((ip, std::mem::take(queue)));
                        forget.push(ip);
                    }
                }
                Entry::Reachable { mac, refresh: Some((attempts, next)), .. } if *next <= now => {
                    if *attempts < cfg.retries {
                        *attempts += 1;
                        *next = now + cfg.retry_interval;
                        self.requests.push_back((ip, Some(*mac)));
                    } else {
                        forget.push(ip);
                    }
                }
                _ => {}
            }
        }
        for ip in forget {
            self.entries.remove(&ip);
        }
        self.recompute_deadline();
        failed
    }

    /// The next retry or failure deadline.
    pub(crate) fn poll_at(&self) -> Option<Instant> {
        self.next_deadline
    }

    /// A deadline went or moved later: find the earliest anew.
    fn recompute_deadline(&mut self) {
        self.next_deadline = self.entries.values().filter_map(deadline).min();
    }
}

/// A deadline `at` was set: the earliest may now be earlier.
fn lower(earliest: &mut Option<Instant>, at: Instant) {
    *earliest = Some(earliest.map_or(at, |d| d.min(at)));
}

/// The entry's next retry or failure deadline, if it has one.
fn deadline(entry: &Entry) -> Option<Instant> {
    match entry {
        Entry::Incomplete { next, .. } => Some(*next),
        Entry::Reachable { refresh, .. } => refresh.map(|(_, next)| next),
        Entry::Static { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
    const MAC: Address = Address([2, 0, 0, 0, 0, 9]);

    fn cache() -> Neighbors {
        Neighbors::new(ArpConfig {
            ttl: Duration::from_secs(60),
            retries: 3,
            retry_interval: Duration::from_secs(1),
            pending_limit: 2,
        })
    }

    fn pending(n: u8) -> Pending {
        Pending { packet: vec![n], owner: None }
    }

    #[test]
    fn queue_is_bounded_and_released_by_the_reply() {
        let mut n = cache();
        let t = Instant::from_secs(5);
        assert_eq!(n.lookup(t, IP), None);
        assert_eq!(n.enqueue(t, IP, pending(1)), Enqueued::Queued);
        assert_eq!(n.enqueue(t, IP, pending(2)), Enqueued::Queued);
        assert_eq!(n.enqueue(t, IP, pending(3)), Enqueued::Dropped);
        assert_eq!(n.pop_request(), Some((IP, None)));
        assert_eq!(n.pop_request(), None, "one request per resolution, not per datagram");
        let released = n.learn(t, IP, MAC, false);
        assert_eq!(released.iter().map(|p| p.packet[0]).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(n.lookup(t, IP), Some(MAC));
        assert_eq!(n.poll_at(), None);
    }

    #[test]
    fn retries_then_fails_with_the_waiting_datagrams() {
        let mut n = cache();
        let mut t = Instant::ZERO;
        n.enqueue(t, IP, pending(1));
        let mut requests = 0;
        loop {
            while n.pop_request().is_some() {
                requests += 1;
            }
            t = n.poll_at().unwrap();
            let failed = n.handle_timeout(t);
            if !failed.is_empty() {
                assert_eq!(failed[0].0, IP);
                assert_eq!(failed[0].1.len(), 1);
                break;
            }
        }
        assert_eq!(requests, 3);
        assert_eq!(t, Instant::from_secs(3));
        assert_eq!(n.poll_at(), None);
        assert_eq!(n.lookup(t, IP), None);
    }

    #[test]
    fn expired_entries_are_refreshed_by_unicast_and_forgotten_when_silent() {
        let mut n = cache();
        assert!(n.learn(Instant::ZERO, IP, MAC, true).is_empty());
        assert_eq!(n.lookup(Instant::from_secs(59), IP), Some(MAC));
        assert_eq!(n.pop_request(), None);
        let t = Instant::from_secs(61);
        assert_eq!(n.lookup(t, IP), Some(MAC), "still used while refreshing");
        assert_eq!(n.pop_request(), Some((IP, Some(MAC))));
        // A reply renews it.
        n.learn(t, IP, MAC, false);
        assert_eq!(n.poll_at(), None);
        // Without a reply it goes away after the retries.
        let t = Instant::from_secs(200);
        n.lookup(t, IP);
        for s in 1..=3 {
            n.handle_timeout(t + Duration::from_secs(s));
        }
        assert_eq!(n.lookup(t + Duration::from_secs(4), IP), None);
    }

    #[test]
    fn static_entries_never_ask_never_expire_and_ignore_arp() {
        let mut n = cache();
        n.enqueue(Instant::ZERO, IP, pending(1));
        while n.pop_request().is_some() {}
        let released = n.insert_static(IP, MAC);
        assert_eq!(released.len(), 1, "what waited for it goes out");
        assert_eq!(n.poll_at(), None);
        let later = Instant::from_secs(3600);
        assert_eq!(n.lookup(later, IP), Some(MAC));
        assert_eq!(n.pop_request(), None, "no refresh either");
        let other = Address([2, 0, 0, 0, 0, 0x77]);
        assert!(n.learn(later, IP, other, true).is_empty());
        assert_eq!(n.lookup(later, IP), Some(MAC), "ARP does not replace it");
        assert!(n.handle_timeout(later).is_empty());
    }

    #[test]
    fn unsolicited_replies_do_not_create_entries() {
        let mut n = cache();
        n.learn(Instant::ZERO, IP, MAC, false);
        assert_eq!(n.lookup(Instant::ZERO, IP), None);
    }

    #[test]
    fn the_cached_deadline_follows_the_entries() {
        let mut n = cache();
        let other = Ipv4Addr::new(192, 0, 2, 10);
        n.enqueue(Instant::ZERO, IP, pending(1));
        n.enqueue(Instant::from_millis(500), other, pending(2));
        assert_eq!(n.poll_at(), Some(Instant::from_secs(1)));
        // Nothing is due before it.
        assert!(n.handle_timeout(Instant::from_millis(900)).is_empty());
        while n.pop_request().is_some() {}
        n.handle_timeout(Instant::from_millis(900));
        assert_eq!(n.pop_request(), None);
        // Resolving the earlier one leaves the other's deadline.
        n.learn(Instant::from_millis(900), IP, MAC, false);
        assert_eq!(n.poll_at(), Some(Instant::from_millis(1500)));
        // Its retry moves it a retry interval later.
        n.handle_timeout(Instant::from_millis(1500));
        assert_eq!(n.pop_request(), Some((other, None)));
        assert_eq!(n.poll_at(), Some(Instant::from_millis(2500)));
    }
}
