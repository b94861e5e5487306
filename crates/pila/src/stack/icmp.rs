//! ICMP bookkeeping: the token bucket that limits the errors we send (RFC 1812 §4.3.2.8,
//! RFC 1122 §3.2.2), and the echo replies waiting for the ping API.

use std::collections::{HashMap, VecDeque};

use core::net::Ipv4Addr;

use crate::time::Instant;

/// Echo replies kept per identifier before the oldest is dropped.
const MAX_REPLIES: usize = 64;

/// An echo reply that arrived for [`Stack::ping_send`](super::Stack::ping_send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingReply {
    /// Who answered.
    pub from: Ipv4Addr,
    /// The sequence number it echoed.
    pub seq: u16,
    /// When the reply arrived.
    pub at: Instant,
    /// The length of the echoed data.
    pub data_len: usize,
}

/// A token bucket: `rate` tokens a second, holding at most `rate`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: u64,
    /// Tokens times one million, so refills are exact in microseconds.
    micro_tokens: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate: u32) -> Self {
        let rate = u64::from(rate);
        Self { rate, micro_tokens: rate * 1_000_000, last: Instant::ZERO }
    }

    /// Takes a token if one is there.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let elapsed = (now - self.last).total_micros();
        self.last = self.last.max(now);
        let cap = self.rate * 1_000_000;
        self.micro_tokens =
            self.micro_tokens.saturating_add(elapsed.saturating_mul(self.rate)).min(cap);
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

/// Echo replies by identifier, for identifiers a ping was sent with.
#[derive(Debug, Default)]
pub(crate) struct Pings {
    replies: HashMap<u16, VecDeque<PingReply>>,
}

impl Pings {
    /// Starts listening for replies with `ident`.
    pub(crate) fn register(&mut self, ident: u16) {
        self.replies.entry(ident).or_default();
    }

    /// Records a reply; replies for identifiers nobody pinged with are ignored.
    pub(crate) fn record(&mut self, ident: u16, reply: PingReply) -> bool {
        let Some(queue) = self.replies.get_mut(&ident) else { return false };
        if queue.len() >= MAX_REPLIES {
            queue.pop_front();
        }
        queue.push_back(reply);
        true
    }

    /// The oldest reply for `ident`.
    pub(crate) fn poll(&mut self, ident: u16) -> Option<PingReply> {
        self.replies.get_mut(&ident)?.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn bucket_allows_its_rate_and_refills_over_time() {
        let mut b = TokenBucket::new(10);
        let t = Instant::from_secs(100);
        assert_eq!((0..20).filter(|_| b.take(t)).count(), 10);
        assert!(!b.take(t + Duration::from_millis(99)));
        assert!(b.take(t + Duration::from_millis(100)));
        assert_eq!((0..20).filter(|_| b.take(t + Duration::from_secs(10))).count(), 10);
    }

    #[test]
    fn replies_are_kept_only_for_registered_identifiers() {
        let mut p = Pings::default();
        let r = PingReply { from: Ipv4Addr::LOCALHOST, seq: 1, at: Instant::ZERO, data_len: 4 };
        assert!(!p.record(7, r));
        p.register(7);
        assert!(p.record(7, r));
        assert_eq!(p.poll(7), Some(r));
        assert_eq!(p.poll(7), None);
        assert_eq!(p.poll(8), None);
    }
}
