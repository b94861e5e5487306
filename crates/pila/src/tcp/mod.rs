//! TCP: one connection's RFC 9293 state machine, Sans-IO.
//!
//! A [`Connection`] is driven by its owner (the `Stack`, or a test) through a handful of
//! calls, in the manner of quinn-proto:
//!
//! 1. feed it every segment of its 4-tuple with [`Connection::handle_segment`];
//! 2. drain [`Connection::poll_transmit`] until it returns `None`, sending each segment;
//! 3. ask [`Connection::poll_timeout`] when to come back, and call
//!    [`Connection::handle_timeout`] at (or after) that instant;
//! 4. drain [`Connection::poll_event`] for what the application should learn.
//!
//! The application side is [`Connection::send`], [`Connection::recv`],
//! [`Connection::shutdown_write`], [`Connection::close`] and [`Connection::abort`].
//!
//! The connection is split by concern, and its files depend on each other one way only:
//!
//! - `connection.rs` holds [`Connection`], its constructors, the application calls, the
//!   timers' dispatch and the one `transition` every change of state goes through;
//!   `input.rs` runs RFC 9293 §3.10.7 SEGMENT ARRIVES on it and `output.rs` builds the
//!   segments it sends. These three are the only code that sees the connection whole.
//! - `send.rs` is the `Sender`: the send sequence space and buffer, ACK
//!   processing, RTT sampling, loss recovery and the retransmission and persist timers, with
//!   `send/next.rs` choosing the next data segment; `recv.rs` is the
//!   `Receiver`: the receive sequence space, reassembly, window
//!   advertisement, delayed ACKs and TS.Recent. Each owns its fields; the connection hands
//!   them explicit inputs (the instant, a segment's fields, the timers) and gets back what
//!   happened.
//! - Below them: `rtt.rs` (the RFC 6298 estimator), `rack.rs` (RACK-TLP, RFC 8985), `sack.rs`
//!   (the SACK scoreboard), `buffer.rs`/`assembler.rs` (the byte rings and out-of-order
//!   ranges), [`congestion`], `timers.rs` (the deadlines), `state.rs` (the RFC 9293 states)
//!   and `isn.rs` (RFC 6528 initial sequence numbers).

pub(crate) mod assembler;
pub(crate) mod buffer;
pub mod congestion;
mod connection;
pub(crate) mod cookie;
mod input;
mod isn;
pub(crate) mod listener;
mod output;
mod rack;
mod recv;
mod rtt;
mod sack;
mod send;
mod state;
mod timers;
pub mod trace;

pub(crate) use connection::Events;
pub use connection::{Connection, Error, Event, RecvError, SendError, TcpInfo};
pub use isn::IsnGenerator;
pub use state::{State, reset_for};
pub use timers::Timer;

use core::net::SocketAddr;

use crate::time::Duration;

/// The bytes of IP header in front of each segment of a connection from `local`: 20 over
/// IPv4, 40 over IPv6 (no options, no extension headers).
pub(crate) const fn ip_header_len(local: SocketAddr) -> usize {
    if local.is_ipv6() { 40 } else { 20 }
}

/// The MSS a connection from `local` advertises: [`Config::mss`], less over IPv6 the 20
/// bytes its longer header takes.
pub(crate) fn advertised_mss(config: &Config, local: SocketAddr) -> u16 {
    let extra = ip_header_len(local) - 20;
    config.mss.saturating_sub(extra as u16).max(64)
}

/// The peer's MSS when its SYN carries none: 536 over IPv4 (RFC 9293 §3.7.1), 1220 over
/// IPv6 (RFC 8200 §8.3).
pub(crate) const fn default_peer_mss(local: SocketAddr) -> usize {
    if local.is_ipv6() { 1220 } else { 536 }
}

/// Keepalive probing (RFC 9293 §3.8.4; Linux's `SO_KEEPALIVE` knobs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// How long the connection may be idle before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is declared dead ([`Error::TimedOut`]).
    pub probes: u32,
}

impl Default for Keepalive {
    /// Linux's defaults: 2 h idle, 75 s interval, 9 probes.
    fn default() -> Self {
        Self { idle: Duration::from_secs(7200), interval: Duration::from_secs(75), probes: 9 }
    }
}

/// Which congestion controller a connection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Congestion {
    /// CUBIC (RFC 9438).
    #[default]
    Cubic,
    /// NewReno (RFC 5681, RFC 6582).
    NewReno,
}

/// Settings of one connection. [`Config::default`] is what a serious stack ships.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The MSS we advertise over IPv4 (default 1460); over IPv6, whose header is 20 bytes
    /// longer, a connection advertises 20 less. A stack sets it from its MTU.
    pub mss: u16,
    /// Largest send buffer in bytes (default 4 MiB; allocated lazily).
    pub send_buffer: usize,
    /// Largest receive buffer in bytes (default 4 MiB); the window scale follows from it.
    pub recv_buffer: usize,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// Nagle's algorithm (RFC 9293 §3.7.4); [`Connection::set_nodelay`] switches it off.
    pub nagle: bool,
    /// Delay of a delayed ACK (default 40 ms, at most 200 ms), or `None` to ACK every segment.
    pub delayed_ack: Option<Duration>,
    /// Keepalive probing; off by default.
    pub keepalive: Option<Keepalive>,
    /// Abort with [`Error::TimedOut`] when sent data stays unacknowledged this long (RFC 5482).
    pub user_timeout: Option<Duration>,
    /// How long TIME-WAIT lasts: 2·MSL (default 60 s).
    pub time_wait: Duration,
    /// SYN (or SYN-ACK) retransmissions before [`Error::TimedOut`] (default 6).
    pub syn_retries: u32,
    /// Data retransmissions by timeout before [`Error::TimedOut`] (default 15).
    pub retries: u32,
    /// RTO before any RTT sample (default 1 s, RFC 6298 §2.1).
    pub rto_initial: Duration,
    /// Lower bound of the RTO (default 200 ms).
    pub rto_min: Duration,
    /// Upper bound of the RTO (default 60 s).
    pub rto_max: Duration,
    /// The congestion controller (default CUBIC).
    pub congestion: Congestion,
    /// Initial congestion window in segments (default 10, RFC 6928).
    pub initial_window: u32,
    /// Challenge ACKs per second at most (RFC 5961 §7; default 10).
    pub challenge_ack_limit: u32,
    /// Out-of-order ranges kept for reassembly (default 32).
    pub max_ooo_ranges: usize,
    /// Keep a [trace] of every connection: records of each segment, RTT sample,
    /// timer, congestion change and loss, taken with [`Connection::poll_trace`] (default
    /// off).
    pub trace: bool,
}

/// A copy of the settings for one connection, from a borrowed `Config` (a connection
/// holds them behind an `Arc`; share one `Arc` to give many connections one copy).
impl From<&Config> for std::sync::Arc<Config> {
    fn from(config: &Config) -> Self {
        Self::new(config.clone())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mss: 1460,
            send_buffer: 4 << 20,
            recv_buffer: 4 << 20,
            window_scaling: true,
            sack: true,
            timestamps: true,
            nagle: true,
            delayed_ack: Some(Duration::from_millis(40)),
            keepalive: None,
            user_timeout: None,
            time_wait: Duration::from_secs(60),
            syn_retries: 6,
            retries: 15,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            congestion: Congestion::Cubic,
            initial_window: 10,
            challenge_ack_limit: 10,
            max_ooo_ranges: 32,
            trace: false,
        }
    }
}
