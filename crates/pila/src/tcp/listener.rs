//! A listening socket's queues: the SYN queue of half-open connections (bounded by the
//! stack's `max_syn_backlog`) and the accept queue of established ones waiting for the
//! application (bounded by the `listen` backlog). The connections themselves live in the
//! stack's connection table, where segments find them by 4-tuple; the listener holds
//! their keys. When the SYN queue is full, SYNs are answered with cookies
//! ([`super::cookie`]) and hold nothing.

use std::collections::{HashSet, VecDeque};

use core::hash::Hash;
use core::net::SocketAddr;

use crate::time::Instant;

/// A listener's bookkeeping, generic over the key the owner names connections by.
#[derive(Debug)]
pub(crate) struct Listener<K> {
    /// The address listened on (the unspecified address for all of ours).
    pub(crate) local: SocketAddr,
    /// Bound to `[::]` but for IPv6 only: IPv4 connections do not reach it.
    pub(crate) v6_only: bool,
    /// The most established connections waiting for `accept`.
    pub(crate) backlog: usize,
    /// The most half-open connections before SYN cookies are used.
    pub(crate) max_syn: usize,
    /// Half-open connections (SYN-RECEIVED).
    pub(crate) syn_queue: HashSet<K>,
    /// Established connections, oldest first.
    pub(crate) accept_queue: VecDeque<K>,
    /// When the listener last answered a SYN with a cookie: only then is an ACK to the
    /// listener checked as one.
    pub(crate) last_cookie: Option<Instant>,
}

impl<K: Copy + Eq + Hash> Listener<K> {
    pub(crate) fn new(local: SocketAddr, backlog: usize, max_syn: usize) -> Self {
        Self {
            local,
            v6_only: false,
            backlog: backlog.max(1),
            max_syn,
            syn_queue: HashSet::new(),
            accept_queue: VecDeque::new(),
            last_cookie: None,
        }
    }

    /// Whether the accept queue is full: a new SYN is dropped (Linux does the same, so the
    /// peer retransmits it once the application has accepted).
    pub(crate) fn accept_full(&self) -> bool {
        self.accept_queue.len() >= self.backlog
    }

    /// Whether the SYN queue is full: a new SYN gets a SYN cookie instead of state. Like
    /// Linux, the queue holds at most the smaller of the backlog and `max_syn`.
    pub(crate) fn syn_full(&self) -> bool {
        self.syn_queue.len() >= self.max_syn.min(self.backlog)
    }

    /// A half-open connection completed its handshake.
    pub(crate) fn established(&mut self, key: K) {
        if self.syn_queue.remove(&key) {
            self.accept_queue.push_back(key);
        }
    }

    /// A connection died before `accept`: forget it.
    pub(crate) fn forget(&mut self, key: K) {
        self.syn_queue.remove(&key);
        self.accept_queue.retain(|k| *k != key);
    }

    /// Every connection the listener holds, for closing it.
    pub(crate) fn drain(&mut self) -> Vec<K> {
        let mut all: Vec<K> = self.syn_queue.drain().collect();
        all.extend(self.accept_queue.drain(..));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_move_and_bound() {
        let mut l = Listener::new("0.0.0.0:80".parse().unwrap(), 2, 2);
        l.syn_queue.insert(1);
        l.syn_queue.insert(2);
        assert!(l.syn_full());
        l.established(1);
        l.established(9); // not half-open: ignored
        assert_eq!(l.accept_queue, [1]);
        assert!(!l.syn_full());
        assert!(!l.accept_full());
        l.established(2);
        assert!(l.accept_full());
        l.forget(1);
        assert_eq!(l.accept_queue, [2]);
        assert_eq!(l.drain(), [2]);
    }
}
