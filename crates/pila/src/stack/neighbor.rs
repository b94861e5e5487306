//! The neighbour cache: a next hop's IP address to its MAC address, for IPv4 (ARP, RFC
//! 826, RFC 1122 §2.3.2) and IPv6 (Neighbor Discovery, RFC 4861 §7.3) alike, with the
//! datagrams that wait for a resolution.
//!
//! One state machine serves both families, RFC 4861's neighbour unreachability detection
//! (NUD), which Linux also runs for ARP:
//!
//! ```text
//!              request/solicitation answered            reachable time passes
//! INCOMPLETE ─────────────────────────────> REACHABLE ──────────────────────> STALE
//!   │ (multicast, `retries` times)              ^                    used │
//!   │ silence: fail the waiting datagrams       │ confirmed              v
//!   v                                           ├────────────────────── DELAY
//! (gone)  <── silence ── PROBE <── `delay_first_probe` passes ───────────┘
//!                        (unicast, `retries` times)
//! ```
//!
//! An unknown neighbour gets an `Incomplete` entry holding up to `pending_limit` datagrams;
//! a request goes out at once and again every `retry_interval`, `retries` times in all. The
//! answer releases the queue; silence fails it, and the stack tells each datagram's socket
//! that the host is unreachable. A confirmed entry is `Reachable` for `reachable_time`,
//! then `Stale`: still used, and the first use sends nothing at once but moves it to
//! `Delay`, giving an upper layer `delay_first_probe` to confirm it (RFC 4861 §7.3.3), after
//! which unicast probes go out and silence forgets the entry. ARP uses no delay: an entry
//! used after its time is probed at once. Information a neighbour sends unasked (an NS's
//! source link-layer address, an unsolicited NA) makes or updates an entry as `Stale`, never
//! `Reachable` (RFC 4861 §7.2.3, §7.2.5). A static entry (`Config::neighbors`) is never
//! resolved, refreshed, replaced or forgotten.

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
    /// The whole IP datagram.
    pub(crate) packet: Vec<u8>,
    /// The socket that sent it, told when resolution fails.
    pub(crate) owner: Option<SocketHandle>,
}

impl Pending {
    /// The memory it holds: its bytes and itself.
    fn cost(&self) -> usize {
        self.packet.capacity() + size_of::<Self>()
    }
}

/// The memory a queue of datagrams holds.
fn queue_cost(queue: &VecDeque<Pending>) -> usize {
    queue.iter().map(Pending::cost).sum()
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
        until: Instant,
    },
    Stale {
        mac: Address,
    },
    Delay {
        mac: Address,
        until: Instant,
    },
    Probe {
        mac: Address,
        attempts: u32,
        next: Instant,
    },
    /// Configured, not learned (like `ip neigh add .. nud permanent`).
    Static {
        mac: Address,
    },
}

/// Timings and bounds of the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NudConfig {
    /// How long a confirmed entry is `Reachable`.
    pub(crate) reachable_time: Duration,
    /// Requests sent for one resolution, and probes for one stale entry.
    pub(crate) retries: u32,
    /// The time between two of them.
    pub(crate) retry_interval: Duration,
    /// How long a used `Stale` entry waits in `Delay` before the first probe (zero: probe at
    /// once, as ARP does).
    pub(crate) delay_first_probe: Duration,
    /// The most datagrams waiting for one neighbour.
    pub(crate) pending_limit: usize,
}

/// Where a datagram for a next hop goes ([`Neighbors::resolve`]).
#[derive(Debug)]
pub(crate) enum Route {
    /// The neighbour is known: send the datagram to its MAC now.
    Send(Address, Vec<u8>),
    /// It waits in the neighbour's queue for the resolution.
    Queued,
    /// The neighbour's queue (or the cache) is full: dropped.
    Dropped,
}

/// What became of a datagram handed to [`Neighbors::enqueue`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Waiting for the reply.
    Queued,
    /// The neighbour's queue (or the cache) is full: dropped.
    Dropped,
}

/// The neighbour cache of one address family.
#[derive(Debug)]
pub(crate) struct Neighbors<A = Ipv4Addr> {
    /// Ordered by address: `handle_timeout` walks it and its order reaches the wire, so a
    /// randomly keyed hash map would make the same seed send different frames.
    entries: BTreeMap<A, Entry>,
    /// Requests to send: target address and, for a probe, the MAC to unicast to.
    requests: VecDeque<(A, Option<Address>)>,
    config: NudConfig,
    /// The earliest retry, probe or failure deadline of any entry: lowered when one is set,
    /// recomputed when one goes, so a driver loop need not scan the cache.
    next_deadline: Option<Instant>,
    /// Bytes the datagrams waiting for a resolution hold (charged to the stack's memory
    /// budget).
    pending_bytes: usize,
}

impl<A: Ord + Copy> Neighbors<A> {
    /// The timers a router advertised (RFC 4861 §6.3.4): how long a confirmed entry stays
    /// `Reachable`, and the time between solicitations; for entries armed from now on.
    pub(crate) fn set_timers(&mut self, reachable_time: Duration, retry_interval: Duration) {
        self.config.reachable_time = reachable_time;
        self.config.retry_interval = retry_interval;
    }

    pub(crate) fn new(config: NudConfig) -> Self {
        Self {
            entries: BTreeMap::new(),
            requests: VecDeque::new(),
            config,
            next_deadline: None,
            pending_bytes: 0,
        }
    }

    /// Bytes the datagrams waiting for a resolution hold.
    pub(crate) const fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// A queue leaves its entry: its datagrams no longer count as pending here.
    fn released(&mut self, queue: VecDeque<Pending>) -> VecDeque<Pending> {
        self.pending_bytes -= queue_cost(&queue);
        queue
    }

    /// Records that `ip` is at `mac` for good: no request is ever sent for it, and what
    /// neighbours say about it is ignored. Replaces any entry `ip` had; datagrams that
    /// waited for it are returned.
    pub(crate) fn insert_static(&mut self, ip: A, mac: Address) -> VecDeque<Pending> {
        let old = self.entries.insert(ip, Entry::Static { mac });
        if old.as_ref().and_then(deadline).is_some() {
            self.recompute_deadline();
        }
        match old {
            Some(Entry::Incomplete { queue, .. }) => self.released(queue),
            _ => VecDeque::new(),
        }
    }

    /// The MAC address to send a datagram for `ip` to, if known. Using an entry whose
    /// reachable time has passed starts its check: at once for ARP, after a delay for ND.
    pub(crate) fn lookup(&mut self, now: Instant, ip: A) -> Option<Address> {
        let cfg = self.config;
        let entry = self.entries.get_mut(&ip)?;
        if let Entry::Reachable { mac, until } = *entry {
            if now >= until {
                *entry = Entry::Stale { mac };
            }
        }
        match *entry {
            Entry::Incomplete { .. } => None,
            Entry::Static { mac } | Entry::Reachable { mac, .. } => Some(mac),
            Entry::Delay { mac, .. } | Entry::Probe { mac, .. } => Some(mac),
            Entry::Stale { mac } => {
                if cfg.delay_first_probe == Duration::ZERO {
                    let next = now + cfg.retry_interval;
                    *entry = Entry::Probe { mac, attempts: 1, next };
                    self.requests.push_back((ip, Some(mac)));
                    lower(&mut self.next_deadline, next);
                } else {
                    let until = now + cfg.delay_first_probe;
                    *entry = Entry::Delay { mac, until };
                    lower(&mut self.next_deadline, until);
                }
                Some(mac)
            }
        }
    }

    /// Where `packet` for next hop `ip` goes: to the neighbour's MAC if known, else into
    /// its queue until the resolution this starts (or one under way) ends.
    pub(crate) fn resolve(
        &mut self,
        now: Instant,
        ip: A,
        packet: Vec<u8>,
        owner: Option<SocketHandle>,
    ) -> Route {
        if let Some(mac) = self.lookup(now, ip) {
            return Route::Send(mac, packet);
        }
        match self.enqueue(now, ip, Pending { packet, owner }) {
            Enqueued::Queued => Route::Queued,
            Enqueued::Dropped => Route::Dropped,
        }
    }

    /// Queues `pending` until `ip` is resolved, sending the first request if this is a new
    /// resolution.
    pub(crate) fn enqueue(&mut self, now: Instant, ip: A, pending: Pending) -> Enqueued {
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
                self.pending_bytes += pending.cost();
                queue.push_back(pending);
                Enqueued::Queued
            }
            // Resolved meanwhile; the caller looked up first, so this is rare. Queue anyway
            // is wrong: report it dropped and let the transport retry.
            _ => Enqueued::Dropped,
        }
    }

    /// Frees a slot when the cache is full by forgetting entries not known to be reachable.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.entries.len() < MAX_ENTRIES {
            return true;
        }
        self.entries.retain(|_, e| match e {
            Entry::Reachable { until, .. } => *until > now,
            Entry::Stale { .. } => false,
            _ => true,
        });
        self.recompute_deadline();
        self.entries.len() < MAX_ENTRIES
    }

    /// Records that `ip` is at `mac`, confirmed: an ARP packet, or a solicited neighbour
    /// advertisement (RFC 4861 §7.2.5). The entry becomes `Reachable`. A new entry is made
    /// only when `create` (for ARP: we were the target, RFC 826 "merge"); otherwise only a
    /// known one is updated. Returns the datagrams that waited for it.
    pub(crate) fn learn(
        &mut self,
        now: Instant,
        ip: A,
        mac: Address,
        create: bool,
    ) -> VecDeque<Pending> {
        let fresh = Entry::Reachable { mac, until: now + self.config.reachable_time };
        self.replace(now, ip, create, |_| Some(fresh))
    }

    /// Records what a neighbour said unasked: the source link-layer address of a
    /// solicitation or advertisement, or an unsolicited advertisement that may override
    /// (RFC 4861 §7.2.3, §7.2.5). A new or unresolved entry becomes `Stale` with `mac`; a
    /// known one becomes `Stale` only if `mac` is new, and is otherwise left as it is.
    /// Returns the datagrams that waited for it: a `Stale` entry is used at once.
    pub(crate) fn learn_unconfirmed(
        &mut self,
        now: Instant,
        ip: A,
        mac: Address,
        create: bool,
    ) -> VecDeque<Pending> {
        self.replace(now, ip, create, |old| match old {
            Some(Entry::Reachable { mac: m, .. })
            | Some(Entry::Stale { mac: m })
            | Some(Entry::Delay { mac: m, .. })
            | Some(Entry::Probe { mac: m, .. })
                if *m == mac =>
            {
                None
            }
            _ => Some(Entry::Stale { mac }),
        })
    }

    /// Puts `choose(old)` in `ip`'s entry unless it is static or `choose` keeps the old one,
    /// making it only when `create`; returns what waited in an entry replaced.
    fn replace(
        &mut self,
        now: Instant,
        ip: A,
        create: bool,
        choose: impl FnOnce(Option<&Entry>) -> Option<Entry>,
    ) -> VecDeque<Pending> {
        match self.entries.get_mut(&ip) {
            Some(Entry::Static { .. }) => VecDeque::new(),
            Some(entry) => {
                let Some(fresh) = choose(Some(entry)) else { return VecDeque::new() };
                let old = std::mem::replace(entry, fresh);
                if deadline(&old).is_some() {
                    self.recompute_deadline();
                }
                match old {
                    Entry::Incomplete { queue, .. } => self.released(queue),
                    _ => VecDeque::new(),
                }
            }
            None => {
                if create && self.make_room(now) {
                    if let Some(fresh) = choose(None) {
                        self.entries.insert(ip, fresh);
                    }
                }
                VecDeque::new()
            }
        }
    }

    /// The next request to send: target address, and the MAC to unicast it to.
    pub(crate) fn pop_request(&mut self) -> Option<(A, Option<Address>)> {
        self.requests.pop_front()
    }

    /// Whether a request waits to be sent.
    pub(crate) fn has_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// Retries, probes and failures due at `now`; returns the resolutions that failed,
    /// with the datagrams that waited for them.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<(A, VecDeque<Pending>)> {
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
                        self.pending_bytes -= queue_cost(queue);
                        failed.push((ip, std::mem::take(queue)));
                        forget.push(ip);
                    }
                }
                Entry::Delay { mac, until } if *until <= now => {
                    let mac = *mac;
                    *entry = Entry::Probe { mac, attempts: 1, next: now + cfg.retry_interval };
                    self.requests.push_back((ip, Some(mac)));
                }
                Entry::Probe { mac, attempts, next } if *next <= now => {
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

    /// The next retry, probe or failure deadline.
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

/// The entry's next retry, probe or failure deadline, if it has one. A reachable entry's
/// end needs none: it is noticed when the entry is next used.
fn deadline(entry: &Entry) -> Option<Instant> {
    match entry {
        Entry::Incomplete { next, .. } | Entry::Probe { next, .. } => Some(*next),
        Entry::Delay { until, .. } => Some(*until),
        Entry::Reachable { .. } | Entry::Stale { .. } | Entry::Static { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv6Addr;

    const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
    const MAC: Address = Address([2, 0, 0, 0, 0, 9]);

    fn cache() -> Neighbors {
        Neighbors::new(NudConfig {
            reachable_time: Duration::from_secs(60),
            retries: 3,
            retry_interval: Duration::from_secs(1),
            delay_first_probe: Duration::ZERO,
            pending_limit: 2,
        })
    }

    /// The cache as IPv6 neighbour discovery runs it: RFC 4861 §10's constants.
    fn nd_cache() -> Neighbors<Ipv6Addr> {
        Neighbors::new(NudConfig {
            reachable_time: Duration::from_secs(30),
            retries: 3,
            retry_interval: Duration::from_secs(1),
            delay_first_probe: Duration::from_secs(5),
            pending_limit: 2,
        })
    }

    const IP6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9);

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

    #[test]
    fn a_stale_entry_used_waits_then_probes_by_unicast_and_is_forgotten_when_silent() {
        let mut n = nd_cache();
        n.learn(Instant::ZERO, IP6, MAC, true);
        assert_eq!(n.lookup(Instant::from_secs(29), IP6), Some(MAC));
        // Past its reachable time: still used, nothing sent yet (RFC 4861 §7.3.3).
        let t = Instant::from_secs(40);
        assert_eq!(n.lookup(t, IP6), Some(MAC));
        assert_eq!(n.pop_request(), None, "DELAY sends nothing");
        assert_eq!(n.poll_at(), Some(Instant::from_secs(45)));
        assert_eq!(n.lookup(Instant::from_secs(44), IP6), Some(MAC));
        // The delay passes unconfirmed: unicast probes, then the entry is gone.
        let mut probes = 0;
        let mut t = Instant::from_secs(45);
        while n.lookup(t, IP6).is_some() {
            n.handle_timeout(t);
            while let Some((ip, unicast)) = n.pop_request() {
                assert_eq!((ip, unicast), (IP6, Some(MAC)));
                probes += 1;
            }
            t += Duration::from_secs(1);
        }
        assert_eq!(probes, 3);
        assert_eq!(t, Instant::from_secs(49));
    }

    #[test]
    fn a_confirmation_in_delay_needs_no_probe() {
        let mut n = nd_cache();
        n.learn(Instant::ZERO, IP6, MAC, true);
        n.lookup(Instant::from_secs(31), IP6);
        n.learn(Instant::from_secs(32), IP6, MAC, false);
        assert_eq!(n.poll_at(), None);
        n.handle_timeout(Instant::from_secs(36));
        assert_eq!(n.pop_request(), None);
        assert_eq!(n.lookup(Instant::from_secs(61), IP6), Some(MAC), "reachable until 62 s");
        assert_eq!(n.poll_at(), None);
    }

    #[test]
    fn unasked_information_makes_stale_entries_and_releases_what_waited() {
        let mut n = nd_cache();
        // An NS from a new neighbour: a stale entry, used without a solicitation of ours.
        assert!(n.learn_unconfirmed(Instant::ZERO, IP6, MAC, true).is_empty());
        assert_eq!(n.lookup(Instant::ZERO, IP6), Some(MAC));
        assert_eq!(n.pop_request(), None);
        // A datagram waiting for another neighbour goes out when that one speaks first.
        let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10);
        n.enqueue(Instant::ZERO, other, pending(1));
        while n.pop_request().is_some() {}
        let released = n.learn_unconfirmed(Instant::from_millis(10), other, MAC, false);
        assert_eq!(released.len(), 1);
        assert_eq!(n.lookup(Instant::from_millis(10), other), Some(MAC));
        // The same address again changes nothing; a new one makes the entry stale.
        n.learn(Instant::from_secs(1), IP6, MAC, false);
        assert!(n.learn_unconfirmed(Instant::from_secs(2), IP6, MAC, false).is_empty());
        assert_eq!(n.lookup(Instant::from_secs(2), IP6), Some(MAC));
        assert_eq!(n.poll_at(), Some(Instant::from_millis(5010)), "only the other entry's delay");
        let moved = Address([2, 0, 0, 0, 0, 0x42]);
        n.learn_unconfirmed(Instant::from_secs(3), IP6, moved, false);
        assert_eq!(n.lookup(Instant::from_secs(3), IP6), Some(moved));
        assert_eq!(n.poll_at(), Some(Instant::from_millis(5010)), "the earlier delay still");
        // Unasked information creates nothing when not allowed to.
        let third = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);
        n.learn_unconfirmed(Instant::from_secs(3), third, MAC, false);
        assert_eq!(n.lookup(Instant::from_secs(3), third), None);
    }
}
