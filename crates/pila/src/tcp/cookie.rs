//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the SYN-ACK carries
//! the connection's state in its initial sequence number instead of a queue entry, and the
//! ACK that returns it rebuilds the connection.
//!
//! The ISN (Bernstein's layout):
//!
//! ```text
//!  31     27 26  24 23                                   0
//! +---------+------+--------------------------------------+
//! | t mod 32| MSS  |  MAC(key; 4-tuple, peer ISN, t, MSS, |
//! |         | index|      TS bits) truncated to 24 bits   |
//! +---------+------+--------------------------------------+
//! ```
//!
//! `t` counts 64-second periods; a cookie is good for the period it was made in and the
//! next one (64 to 128 s). The MSS index points into a table of common MSS values, the
//! largest not above the peer's. When timestamps are negotiated, the low 6 bits of our
//! TSval carry what else the SYN said, as Linux does: bits 0–3 the peer's window scale
//! (15: none), bit 4 SACK-permitted, bit 5 set to mark the encoding; the ACK echoes them in
//! its TSecr, and they are covered by the MAC. Without timestamps there is nowhere to keep
//! them, so the SYN-ACK offers neither window scaling nor SACK.

use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;

use super::state::our_wscale;
use super::{Config, Connection};
use crate::time::Instant;
use crate::wire::tcp::{Flags, Options, Repr, SeqNumber, Timestamp, TsVal};

/// The MSS values a cookie can say, ascending (Linux's table, widened to 3 bits).
const MSS_TABLE: [u16; 8] = [256, 536, 1024, 1220, 1300, 1380, 1440, 1460];
/// Seconds per time counter tick.
const PERIOD_SECS: u64 = 64;
/// TS bits: no window scale.
const NO_WSCALE: u32 = 0xf;
/// TS bits: SACK-permitted.
const SACK_BIT: u32 = 1 << 4;
/// TS bits: the encoding is present.
const MARK_BIT: u32 = 1 << 5;
/// The six TS bits.
const TS_MASK: u32 = 0x3f;

/// The secret that makes and checks cookies.
#[derive(Clone)]
pub(crate) struct CookieJar {
    key: [u8; 16],
}

impl core::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CookieJar { .. }") // never print the secret
    }
}

/// What a valid cookie says about the SYN it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CookieSyn {
    /// The peer's ISN.
    pub(crate) seq: SeqNumber,
    /// The peer's MSS, rounded down to the table.
    pub(crate) mss: u16,
    /// The peer's window scale, if it offered one (timestamps only).
    pub(crate) wscale: Option<u8>,
    /// The peer offered SACK (timestamps only).
    pub(crate) sack: bool,
    /// Timestamps were negotiated: the ACK's TSval.
    pub(crate) tsval: Option<u32>,
}

impl CookieSyn {
    /// The SYN as the cookie remembers it, for [`Connection::accept_cookie`].
    pub(crate) fn syn(&self, local: SocketAddr, remote: SocketAddr) -> Repr<'static> {
        Repr {
            src_port: remote.port(),
            dst_port: local.port(),
            seq_number: self.seq,
            flags: Flags::SYN,
            options: Options {
                mss: Some(self.mss),
                window_scale: self.wscale,
                sack_permitted: self.sack,
                timestamp: self.tsval.map(|tsval| Timestamp { tsval, tsecr: 0 }),
                ..Options::default()
            },
            ..Repr::TEMPLATE
        }
    }
}

impl CookieJar {
    pub(crate) fn new(key: [u8; 16]) -> Self {
        Self { key }
    }

    /// The SYN-ACK answering `syn` from `remote` to `local` with a cookie; `config` is
    /// the listener's (our MSS, window scaling, SACK, timestamps).
    pub(crate) fn syn_ack(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &Repr<'_>,
        config: &Config,
    ) -> Repr<'static> {
        let peer_mss = syn.options.mss.unwrap_or(super::default_peer_mss(local) as u16);
        let index = MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0);
        let ts = syn.options.timestamp.filter(|_| config.timestamps);
        let wscale = syn.options.window_scale.filter(|_| config.window_scaling && ts.is_some());
        let sack = syn.options.sack_permitted && config.sack && ts.is_some();
        let bits = ts.map_or(0, |_| {
            MARK_BIT
                | wscale.map_or(NO_WSCALE, |w| u32::from(w.min(14)))
                | if sack { SACK_BIT } else { 0 }
        });
        let t = counter(now);
        let mac = self.mac(local, remote, syn.seq_number, t, index as u32, bits);
        let isn = SeqNumber(((t & 31) << 27) | ((index as u32) << 24) | (mac & 0x00ff_ffff));
        let timestamp = ts.map(|peer| {
            // Our TSval on the clock the rebuilt connection will use, rounded down so that
            // its later TSvals never go backwards (PAWS at the peer, RFC 7323 §5).
            let clock = Connection::timestamp_at(isn, now);
            let mut tsval = (clock & !TS_MASK) | bits;
            if TsVal(tsval) > TsVal(clock) {
                tsval = tsval.wrapping_sub(TS_MASK + 1);
            }
            Timestamp { tsval, tsecr: peer.tsval }
        });
        Repr {
            src_port: local.port(),
            dst_port: remote.port(),
            seq_number: isn,
            ack_number: Some(syn.seq_number.plus(1)),
            flags: Flags::SYN,
            window_len: u16::try_from(config.recv_buffer).unwrap_or(u16::MAX),
            options: Options {
                mss: Some(super::advertised_mss(config, local)),
                window_scale: wscale.map(|_| our_wscale(config)),
                sack_permitted: sack,
                timestamp,
                ..Options::default()
            },
            ..Repr::TEMPLATE
        }
    }

    /// Checks the cookie an ACK (no SYN, no RST) returns: `None` if it is not one we made
    /// in the last two periods for this 4-tuple.
    pub(crate) fn check(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ack: &Repr<'_>,
        config: &Config,
    ) -> Option<CookieSyn> {
        let cookie = ack.ack_number?.0.wrapping_sub(1);
        let seq = SeqNumber(ack.seq_number.0.wrapping_sub(1));
        let now_t = counter(now);
        let age = now_t.wrapping_sub(cookie >> 27) & 31;
        if age > 1 {
            return None;
        }
        let t = now_t.wrapping_sub(age);
        let index = (cookie >> 24) & 7;
        let ts = ack.options.timestamp.filter(|_| config.timestamps);
        let bits = ts.map_or(0, |ts| ts.tsecr & TS_MASK);
        if ts.is_some() && bits & MARK_BIT == 0 {
            return None;
        }
        let mac = self.mac(local, remote, seq, t, index, bits);
        if mac & 0x00ff_ffff != cookie & 0x00ff_ffff {
            return None;
        }
        let wscale = bits & 0xf;
        Some(CookieSyn {
            seq,
            mss: MSS_TABLE.get(index as usize).copied().unwrap_or(536),
            wscale: (ts.is_some() && wscale != NO_WSCALE).then_some(wscale as u8),
            sack: bits & SACK_BIT != 0,
            tsval: ts.map(|ts| ts.tsval),
        })
    }

    fn mac(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        seq: SeqNumber,
        t: u32,
        index: u32,
        bits: u32,
    ) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        for addr in [local, remote] {
            match addr.ip() {
                IpAddr::V4(ip) => h.write(&ip.octets()),
                IpAddr::V6(ip) => h.write(&ip.octets()),
            }
            h.write(&addr.port().to_be_bytes());
        }
        h.write(&seq.0.to_be_bytes());
        h.write(&t.to_be_bytes());
        h.write(&[index as u8, bits as u8]);
        h.finish() as u32
    }
}

/// The coarse time counter: 64-second periods.
fn counter(now: Instant) -> u32 {
    (now.total_millis() / 1000 / PERIOD_SECS) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn addrs() -> (SocketAddr, SocketAddr) {
        ("192.0.2.2:80".parse().unwrap(), "192.0.2.1:50000".parse().unwrap())
    }

    fn syn(mss: u16, ts: bool, wscale: Option<u8>, sack: bool) -> Repr<'static> {
        Repr {
            src_port: 50000,
            dst_port: 80,
            seq_number: SeqNumber(1000),
            flags: Flags::SYN,
            window_len: 64240,
            options: Options {
                mss: Some(mss),
                window_scale: wscale,
                sack_permitted: sack,
                timestamp: ts.then_some(Timestamp { tsval: 777, tsecr: 0 }),
                ..Options::default()
            },
            ..Repr::TEMPLATE
        }
    }

    /// The ACK a client sends for `syn_ack`.
    fn ack_for(syn_ack: &Repr<'_>) -> Repr<'static> {
        Repr {
            src_port: 50000,
            dst_port: 80,
            seq_number: SeqNumber(1001),
            ack_number: Some(syn_ack.seq_number.plus(1)),
            window_len: 502,
            options: Options {
                timestamp: syn_ack
                    .options
                    .timestamp
                    .map(|t| Timestamp { tsval: 778, tsecr: t.tsval }),
                ..Options::default()
            },
            ..Repr::TEMPLATE
        }
    }

    #[test]
    fn a_cookie_carries_the_syn_and_comes_back() {
        let jar = CookieJar::new([7; 16]);
        let (l, r) = addrs();
        let config = Config::default();
        let now = Instant::ZERO + Duration::from_secs(1000);
        let sa = jar.syn_ack(now, l, r, &syn(1400, true, Some(7), true), &config);
        assert_eq!(sa.ack_number, Some(SeqNumber(1001)));
        assert_eq!(sa.options.timestamp.unwrap().tsecr, 777);
        assert!(sa.options.sack_permitted && sa.options.window_scale.is_some());
        let tsval = sa.options.timestamp.unwrap().tsval;
        assert!(TsVal(tsval) <= TsVal(Connection::timestamp_at(sa.seq_number, now)));
        let got = jar.check(now + Duration::from_secs(70), l, r, &ack_for(&sa), &config).unwrap();
        assert_eq!(
            got,
            CookieSyn {
                seq: SeqNumber(1000),
                mss: 1380,
                wscale: Some(7),
                sack: true,
                tsval: Some(778)
            }
        );
    }

    #[test]
    fn without_timestamps_only_the_mss_survives() {
        let jar = CookieJar::new([7; 16]);
        let (l, r) = addrs();
        let config = Config::default();
        let sa = jar.syn_ack(Instant::ZERO, l, r, &syn(1460, false, Some(7), true), &config);
        assert!(!sa.options.sack_permitted && sa.options.window_scale.is_none());
        assert!(sa.options.timestamp.is_none());
        let got = jar.check(Instant::ZERO, l, r, &ack_for(&sa), &config).unwrap();
        assert_eq!((got.mss, got.wscale, got.sack, got.tsval), (1460, None, false, None));
    }

    #[test]
    fn forged_stale_or_misplaced_cookies_fail() {
        let jar = CookieJar::new([7; 16]);
        let (l, r) = addrs();
        let config = Config::default();
        let now = Instant::ZERO + Duration::from_secs(100);
        let sa = jar.syn_ack(now, l, r, &syn(1460, true, Some(2), false), &config);
        let ack = ack_for(&sa);
        assert!(jar.check(now, l, r, &ack, &config).is_some());
        // Too old: two periods later.
        assert!(jar.check(now + Duration::from_secs(2 * 64), l, r, &ack, &config).is_none());
        // Another 4-tuple.
        let other: SocketAddr = "192.0.2.1:50001".parse().unwrap();
        assert!(jar.check(now, l, other, &ack, &config).is_none());
        // Another key.
        assert!(CookieJar::new([8; 16]).check(now, l, r, &ack, &config).is_none());
        // A flipped bit in the cookie, the peer's ISN or the echoed options.
        for flip in [1u32 << 3, 1 << 25, 1 << 30] {
            let bad = Repr { ack_number: ack.ack_number.map(|a| SeqNumber(a.0 ^ flip)), ..ack };
            assert!(jar.check(now, l, r, &bad, &config).is_none(), "{flip:#x}");
        }
        let bad = Repr { seq_number: SeqNumber(5000), ..ack };
        assert!(jar.check(now, l, r, &bad, &config).is_none());
        let mut opts = ack.options;
        opts.timestamp = opts.timestamp.map(|t| Timestamp { tsecr: t.tsecr ^ 0x10, ..t });
        assert!(jar.check(now, l, r, &Repr { options: opts, ..ack }, &config).is_none());
    }

    #[test]
    fn the_rebuilt_connection_is_established_by_the_ack() {
        let jar = CookieJar::new([7; 16]);
        let (l, r) = addrs();
        let config = Config::default();
        let now = Instant::ZERO + Duration::from_secs(5);
        let sa = jar.syn_ack(now, l, r, &syn(1460, true, Some(7), true), &config);
        let ack = ack_for(&sa);
        let later = now + Duration::from_millis(30);
        let got = jar.check(later, l, r, &ack, &config).unwrap();
        let (lo, re) = (l, r);
        let mut c =
            Connection::accept_cookie(later, lo, re, &got.syn(l, r), sa.seq_number, &config);
        c.handle_segment(later, re, &ack);
        assert_eq!(c.state(), super::super::State::Established);
        let info = c.info();
        assert!(info.sack_enabled && info.timestamps_enabled);
        assert_eq!((info.snd_wscale, info.snd_mss), (7, 1460 - 12));
        assert_eq!((c.snd_una(), c.snd_nxt()), (sa.seq_number.plus(1), sa.seq_number.plus(1)));
        // Nothing to send: the SYN-ACK is not repeated.
        let mut scratch = vec![0; 1 << 16];
        assert!(c.poll_transmit(later, &mut scratch).is_none());
    }
}
