//! [`Connection`]: the public surface of one TCP connection and the glue between its parts.
//!
//! The calling order (quinn-proto style): feed segments with [`Connection::handle_segment`],
//! drain [`Connection::poll_transmit`] until `None`, call [`Connection::handle_timeout`] at
//! [`Connection::poll_timeout`], drain [`Connection::poll_event`]. Nothing here reads a clock,
//! does I/O or draws randomness: the ISN is an argument.

use core::fmt;
use core::net::SocketAddr;
use std::sync::Arc;

use super::Config;
use super::isn::IsnGenerator;
use super::recv::Receiver;
use super::send::{self, Expiry, Sender};
use super::state::State;
use super::timers::{Timer, Timers};
use crate::time::{Duration, Instant};
use crate::wire::tcp::Flags;
use crate::wire::tcp::{Repr, SeqNumber};

/// What the application should learn, from [`Connection::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The three-way handshake completed: the connection is ESTABLISHED.
    Connected,
    /// The peer sent FIN: after the buffered data, [`Connection::recv`] returns `Ok(0)`.
    PeerClosed,
    /// The connection reached CLOSED; always the last event.
    Closed,
    /// The connection failed; [`Event::Closed`] follows.
    Error(Error),
}

/// Events not yet polled, in order, without allocating. Each kind comes at most once in a
/// connection's life ([`Event::Connected`], [`Event::PeerClosed`], [`Event::Error`],
/// [`Event::Closed`]), so four slots hold them all: the connection's own queue, and the copy
/// the stack keeps for the application ([`crate::stack::TcpSocket::poll_event`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Events {
    slots: [Option<Event>; 4],
    head: u8,
    len: u8,
}

impl Events {
    pub(crate) fn push(&mut self, event: Event) {
        debug_assert!(self.len < 4, "a fifth event: {event:?}");
        if let Some(slot) = self.slots.get_mut(usize::from((self.head + self.len) % 4)) {
            if self.len < 4 {
                *slot = Some(event);
                self.len += 1;
            }
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let event = self.slots[usize::from(self.head)].take();
        self.head = (self.head + 1) % 4;
        self.len -= 1;
        event
    }
}

/// Why a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered our SYN with RST.
    Refused,
    /// The peer reset the established connection.
    Reset,
    /// Retransmissions, keepalive probes or the user timeout ran out.
    TimedOut,
    /// We aborted the connection ([`Connection::abort`], or `close` with unread data).
    Aborted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Refused => "connection refused",
            Self::Reset => "connection reset by peer",
            Self::TimedOut => "connection timed out",
            Self::Aborted => "connection aborted",
        })
    }
}

impl std::error::Error for Error {}

/// Why [`Connection::send`] took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendError {
    /// The send buffer is full (or the connection is not yet open for sending): try later.
    WouldBlock,
    /// The sending direction was closed by [`Connection::shutdown_write`] or `close`.
    Closed,
    /// The connection failed.
    Error(Error),
}

/// Why [`Connection::recv`] returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// No data yet: try later.
    WouldBlock,
    /// The connection failed.
    Error(Error),
}

/// A snapshot of a connection's state and statistics, like Linux's `tcp_info`.
///
/// Byte counts are exact. Counts of segments and events are kept in 32 bits, as Linux keeps
/// `tcpi_segs_out` and its kin, and wrap after 2^32 (`retransmitted_segments` is exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// The RFC 9293 state.
    pub state: State,
    /// Smoothed RTT (zero before the first sample).
    pub srtt: Duration,
    /// RTT variation.
    pub rttvar: Duration,
    /// Current retransmission timeout, backoff included.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Slow-start threshold in bytes (`usize::MAX` before the first loss).
    pub ssthresh: usize,
    /// Effective send MSS (payload bytes per full segment).
    pub snd_mss: usize,
    /// The peer's window, scaled, in bytes.
    pub snd_wnd: usize,
    /// The window we advertised last, in bytes.
    pub rcv_wnd: usize,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments sent.
    pub segments_sent: u64,
    /// Segments received.
    pub segments_received: u64,
    /// Segments retransmitted (by timeout, fast retransmit or SACK recovery).
    pub retransmitted_segments: u64,
    /// Fast recoveries entered.
    pub fast_recoveries: u64,
    /// Retransmission timeouts.
    pub rto_expiries: u64,
    /// Fast recoveries and timeouts found spurious (D-SACK, RFC 3708; timestamps, RFC 3522)
    /// and undone.
    pub spurious_recoveries: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// D-SACK blocks received (RFC 2883).
    pub dsacks_received: u64,
    /// D-SACK blocks sent for duplicate segments (RFC 2883).
    pub dsacks_sent: u64,
    /// Segments RACK marked lost (RFC 8985 §6.2), retransmitted ones included.
    pub rack_lost: u64,
    /// Whether SACK was negotiated.
    pub sack_enabled: bool,
    /// Whether timestamps were negotiated.
    pub timestamps_enabled: bool,
    /// Shift applied to the peer's window.
    pub snd_wscale: u8,
    /// Shift applied to our window.
    pub rcv_wscale: u8,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks_sent: u64,
    /// Segments dropped by PAWS (RFC 7323 §5).
    pub paws_dropped: u64,
    /// Zero-window probes sent.
    pub zero_window_probes: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// Bytes queued in the send buffer (unacknowledged or unsent).
    pub send_queued: usize,
    /// Bytes waiting in the receive buffer.
    pub recv_queued: usize,
    /// Congestion controller name.
    pub congestion: &'static str,
}

/// Counters kept for [`TcpInfo`] beyond the send side's own ([`send::SendStats`]).
///
/// Byte counts are 64 bits; counts of segments and events are 32 bits and wrap, as the
/// `tcpi_segs_out` and their kin of Linux's `tcp_info` do: a connection keeps ten of them,
/// and at a million segments a second they wrap after an hour and more.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    pub(super) bytes_received: u64,
    pub(super) segments_sent: u32,
    pub(super) segments_received: u32,
    pub(super) dsacks_sent: u32,
    pub(super) challenge_acks_sent: u32,
    pub(super) paws_dropped: u32,
    pub(super) keepalive_probes: u32,
}

/// Adds one to an event counter, wrapping as [`Stats`] says.
pub(super) fn bump(counter: &mut u32) {
    *counter = counter.wrapping_add(1);
}

/// How the connection was opened; decides what RST in SYN-RECEIVED does (RFC 9293 §3.10.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// `connect`: active open.
    Active,
    /// `listen`: passive open that returns to LISTEN on RST.
    Listen,
    /// `accept`: created from a SYN by a listener.
    Accepted,
}

/// One TCP connection: the RFC 9293 state machine with its buffers, timers and
/// congestion control. See the [module documentation](super) for the calling order.
#[derive(Debug)]
pub struct Connection {
    pub(super) state: State,
    pub(super) origin: Origin,
    pub(super) local: SocketAddr,
    pub(super) remote: Option<SocketAddr>,
    /// The settings, shared by every connection of a stack (a stack makes one `Arc`).
    pub(super) config: Arc<Config>,
    pub(super) snd: Sender,
    pub(super) rcv: Receiver,
    pub(super) timers: Timers,
    pub(super) events: Events,
    pub(super) error: Option<Error>,
    pub(super) stats: Stats,
    /// SACK negotiated (both SYNs carried SACK-permitted).
    pub(super) sack_ok: bool,
    /// Timestamps negotiated (both SYNs carried TSopt).
    pub(super) ts_ok: bool,
    /// The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) must be (re)sent.
    pub(super) syn_pending: bool,
    /// An RST to send: (SEQ, ACK).
    pub(super) rst_pending: Option<(SeqNumber, Option<SeqNumber>)>,
    /// Port an RST from LISTEN goes to (no remote is known there).
    pub(super) rst_port: Option<u16>,
    /// RFC 5961 §7 rate limit: start of the current one-second window and ACKs sent in it.
    pub(super) challenge_window: (Instant, u32),
    /// A keepalive probe is due.
    pub(super) keepalive_pending: bool,
    /// Keepalive probes sent since the peer was last heard.
    pub(super) keepalive_sent: u32,
    /// Generator for the ISN of a passive open from [`Connection::listen`], boxed: a
    /// connection a stack made has none.
    pub(super) isn_gen: Option<Box<IsnGenerator>>,
    /// The user called `shutdown_write` or `close`.
    pub(super) write_closed: bool,
    /// The trace, when on ([`Config::trace`]).
    pub(super) trace: Option<Box<super::trace::Tracer>>,
}

impl Connection {
    fn new(
        state: State,
        origin: Origin,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        iss: SeqNumber,
        config: Arc<Config>,
    ) -> Self {
        Self {
            state,
            origin,
            local,
            remote,
            snd: Sender::new(iss, &config),
            rcv: Receiver::new(&config),
            timers: Timers::default(),
            events: Events::default(),
            error: None,
            stats: Stats::default(),
            sack_ok: false,
            ts_ok: false,
            syn_pending: false,
            rst_pending: None,
            rst_port: None,
            challenge_window: (Instant::ZERO, 0),
            keepalive_pending: false,
            keepalive_sent: 0,
            isn_gen: None,
            write_closed: false,
            trace: config.trace.then(Box::default),
            config,
        }
    }

    /// Active open (RFC 9293 §3.10.1): a connection in SYN-SENT whose SYN, with initial
    /// sequence number `isn`, is the first thing [`Connection::poll_transmit`] returns.
    ///
    /// `config` is a [`Config`] (copied) or an `Arc<Config>` shared with other connections,
    /// as a stack shares one among all of its own.
    pub fn connect(
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        isn: SeqNumber,
        config: impl Into<Arc<Config>>,
    ) -> Self {
        let config = config.into();
        let mut c = Self::new(State::SynSent, Origin::Active, local, Some(remote), isn, config);
        c.syn_pending = true;
        c.snd.open(now);
        c
    }

    /// Passive open (RFC 9293 §3.10.1): a connection in LISTEN that becomes the connection
    /// with the first peer whose SYN arrives. Its ISNs come from a generator keyed with the
    /// local address, which is predictable: a stack uses its listener and
    /// [`Connection::accept`], or [`Connection::listen_with_isn`].
    pub fn listen(local: SocketAddr, config: impl Into<Arc<Config>>) -> Self {
        let mut key = [0x5a; 16];
        if let SocketAddr::V4(a) = local {
            key[..4].copy_from_slice(&a.ip().octets());
        }
        key[4..6].copy_from_slice(&local.port().to_be_bytes());
        Self::listen_with_isn(local, config, IsnGenerator::new(key))
    }

    /// Passive open whose ISN comes from `isn` (RFC 6528).
    pub fn listen_with_isn(
        local: SocketAddr,
        config: impl Into<Arc<Config>>,
        isn: IsnGenerator,
    ) -> Self {
        let config = config.into();
        let mut c = Self::new(State::Listen, Origin::Listen, local, None, SeqNumber(0), config);
        c.isn_gen = Some(Box::new(isn));
        c
    }

    /// A connection in SYN-RECEIVED for the SYN `syn` that `remote` sent to `local` (a
    /// listener calls this); its SYN-ACK, with initial sequence number `isn`, is the first
    /// thing [`Connection::poll_transmit`] returns.
    pub fn accept(
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &Repr<'_>,
        isn: SeqNumber,
        config: impl Into<Arc<Config>>,
    ) -> Self {
        let config = config.into();
        let mut c =
            Self::new(State::SynReceived, Origin::Accepted, local, Some(remote), isn, config);
        c.passive_open(now, syn);
        c
    }

    /// A connection rebuilt from a SYN cookie (RFC 4987 §3.6) when the ACK that returns it
    /// arrives: `syn` is the peer's SYN as the cookie recorded it (its sequence number and
    /// the options: MSS, window scale, SACK-permitted, timestamps) and `isn` the cookie,
    /// our ISN. The SYN-ACK counts as sent, so the connection is in SYN-RECEIVED with
    /// SND.NXT = ISN + 1 and nothing to send; feed it the ACK with
    /// [`Connection::handle_segment`] to reach ESTABLISHED. Its timestamp clock is the one
    /// [`Connection::timestamp_at`] gives for `isn`, which the cookie's TSval came from.
    pub fn accept_cookie(
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &Repr<'_>,
        isn: SeqNumber,
        config: impl Into<Arc<Config>>,
    ) -> Self {
        let mut c = Self::accept(now, local, remote, syn, isn, config);
        c.syn_pending = false;
        c.snd.syn_sent_by_cookie(now, &mut c.timers);
        c
    }

    /// The TSval (RFC 7323) a connection with initial sequence number `isn` sends at
    /// `now`: a millisecond clock with a per-connection offset.
    pub fn timestamp_at(isn: SeqNumber, now: Instant) -> u32 {
        send::ts_at(now, send::ts_offset_for(isn))
    }

    /// Feeds a segment of this connection (ports and addresses already matched; `remote`
    /// matters only in LISTEN). Runs RFC 9293 §3.10.7 SEGMENT ARRIVES.
    pub fn handle_segment(&mut self, now: Instant, remote: SocketAddr, seg: &Repr<'_>) {
        bump(&mut self.stats.segments_received);
        if self.trace.is_some() {
            self.trace_received(now, seg);
            self.segment_arrives(now, remote, seg);
            self.trace_changes(now);
            return;
        }
        self.segment_arrives(now, remote, seg);
    }

    /// The earliest instant at which [`Connection::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.timers.take_expired(now) {
            if self.trace.is_some() {
                self.trace_timer(now, t);
            }
            match t {
                Timer::TimeWait => self.enter_closed(None),
                Timer::User => self.on_user_timeout(now),
                Timer::Retransmit => self.on_retransmit_timeout(now),
                Timer::Persist => {
                    self.snd.on_persist_timeout(now, self.state, &mut self.timers, &self.config);
                }
                Timer::Keepalive => self.on_keepalive_timeout(now),
                Timer::DelayedAck => self.rcv.request_ack(),
                Timer::Reorder => self.snd.on_reorder_timeout(now, self.state, &mut self.timers),
                Timer::Probe => self.snd.on_probe_timeout(self.state),
            }
        }
        if self.trace.is_some() {
            self.trace_changes(now);
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Queues `data` for sending; returns how much fit in the send buffer.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Error(e));
        }
        if self.write_closed {
            return Err(SendError::Closed);
        }
        match self.state {
            State::Closed | State::TimeWait | State::Closing | State::LastAck => {
                return Err(SendError::Closed);
            }
            State::Listen => return Err(SendError::WouldBlock),
            _ => {}
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.snd.write(data) {
            0 => Err(SendError::WouldBlock),
            n => Ok(n),
        }
    }

    /// Reads received data into `buf`; `Ok(0)` means the peer closed (EOF).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        if self.rcv.queued() > 0 {
            return Ok(self.rcv.read(buf));
        }
        if self.rcv.fin_received() {
            return Ok(0);
        }
        if let Some(e) = self.error {
            return Err(RecvError::Error(e));
        }
        match self.state {
            State::Closed => Ok(0),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Closes the sending direction: FIN follows the queued data (RFC 9293 §3.10.4 CLOSE).
    pub fn shutdown_write(&mut self) {
        if self.write_closed {
            return;
        }
        match self.state {
            State::Closed | State::Listen => {}
            // RFC 9293 §3.10.4: in SYN-SENT, CLOSE deletes the TCB — but a half-close keeps
            // the connection going: the FIN follows once established.
            State::SynSent | State::SynReceived => {
                self.write_closed = true;
                self.snd.queue_fin();
            }
            State::Established => {
                self.write_closed = true;
                self.snd.queue_fin();
                self.transition(State::FinWait1);
            }
            State::CloseWait => {
                self.write_closed = true;
                self.snd.queue_fin();
                self.transition(State::LastAck);
            }
            _ => self.write_closed = true,
        }
    }

    /// Closes both directions. With unread received data the connection is reset instead,
    /// as Linux does (RFC 2525 §2.17).
    pub fn close(&mut self) {
        match self.state {
            State::Closed => {}
            // RFC 9293 §3.10.4: CLOSE in LISTEN or SYN-SENT deletes the TCB.
            State::Listen | State::SynSent => self.enter_closed(None),
            _ if self.rcv.queued() > 0 => self.abort(),
            _ => {
                self.rcv.close_read();
                self.shutdown_write();
            }
        }
    }

    /// Resets the connection now (RFC 9293 §3.10.5 ABORT): RST if synchronized, then CLOSED.
    pub fn abort(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if self.state.is_synchronized() && self.state != State::TimeWait {
            self.rst_pending = Some((self.snd.nxt(), None));
        }
        self.error = Some(Error::Aborted);
        self.enter_closed(None);
    }

    /// Bytes of storage the connection's buffers hold now (send and receive buffers,
    /// out-of-order ranges): what it costs beside its fixed size.
    pub fn buffer_memory(&self) -> usize {
        self.snd.allocated() + self.rcv.allocated()
    }

    /// Lets each of the connection's buffers grow to `limit` bytes at most from now on
    /// (`usize::MAX`: as far as [`Config`](super::Config) allows), keeping the storage they
    /// hold: the send buffer takes no more than fits, and the window offered stops there.
    /// The stack lowers it while its memory budget is under pressure.
    pub fn set_buffer_limit(&mut self, limit: usize) {
        self.snd.set_buffer_limit(limit);
        self.rcv.set_buffer_limit(limit);
    }

    /// Turns Nagle's algorithm off (`true`, like `TCP_NODELAY`) or on.
    pub fn set_nodelay(&mut self, on: bool) {
        self.snd.set_nagle(!on);
    }

    /// Lowers the send MSS to fit a path MTU of `mtu` bytes (40 bytes of headers over
    /// IPv4, 60 over IPv6), for path MTU discovery. Never raises it above what the handshake agreed.
    pub fn set_path_mtu(&mut self, mtu: usize) {
        self.clamp_mss(mtu.saturating_sub(super::ip_header_len(self.local) + 20));
    }

    /// Lets the connection send new data in segments of up to `max` payload bytes, for a
    /// device that cuts them into segments of [`mss`](Self::mss) bytes (TCP segmentation
    /// offload); 0 turns it off. Retransmissions and probes stay one MSS long.
    pub fn set_segmentation_offload(&mut self, max: usize) {
        self.snd.set_segmentation_offload(max);
    }

    /// The effective send MSS: the payload bytes of a full segment (before SACK blocks).
    pub fn mss(&self) -> usize {
        self.snd.mss()
    }

    /// Lowers the maximum segment size (TCP payload plus options) to `mss`, minimum 64.
    pub fn clamp_mss(&mut self, mss: usize) {
        let opts = if self.ts_ok { 12 } else { 0 };
        self.snd.lower_mss(mss.max(64).saturating_sub(opts));
    }

    /// SND.UNA: the oldest sequence number not yet acknowledged (RFC 9293 §3.3.1).
    pub fn snd_una(&self) -> SeqNumber {
        self.snd.una()
    }

    /// SND.NXT: the next sequence number to send (RFC 9293 §3.3.1).
    pub fn snd_nxt(&self) -> SeqNumber {
        self.snd.nxt()
    }

    /// Why the connection failed (reset, refused, timed out, aborted), if it did; the same
    /// error [`Connection::send`] reports.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// The RFC 9293 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The local address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The remote address (`None` while listening).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// How many bytes [`Connection::send`] would take now.
    pub fn send_capacity(&self) -> usize {
        if self.write_closed || self.error.is_some() { 0 } else { self.snd.free() }
    }

    /// How many received bytes wait to be read.
    pub fn recv_available(&self) -> usize {
        self.rcv.queued()
    }

    /// CLOSED with nothing left to send: the owner may free the connection.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed && self.rst_pending.is_none()
    }

    /// RFC 9293 §3.6.1, RFC 6191: whether `syn` may reopen this connection in TIME-WAIT —
    /// its timestamp is newer than TS.Recent or, without timestamps, its sequence number is
    /// above RCV.NXT. The owner then frees this connection and accepts the SYN anew.
    pub fn time_wait_accepts(&self, syn: &Repr<'_>) -> bool {
        use crate::wire::tcp::Flags;
        if self.state != State::TimeWait
            || !syn.flags.contains(Flags::SYN)
            || syn.ack_number.is_some()
            || syn.flags.contains(Flags::RST)
        {
            return false;
        }
        match (self.ts_ok, syn.options.timestamp) {
            // RFC 6191 §2: timestamps on both: the SYN's TSval must be newer.
            (true, Some(ts)) => self.rcv.newer_than_recent(ts.tsval),
            // RFC 9293 §3.6.1 / RFC 1122 §4.2.2.13: the SYN's ISN must be above RCV.NXT.
            _ => syn.seq_number > self.rcv.rcv_nxt(),
        }
    }

    /// Segments retransmitted so far (the `retransmitted_segments` of [`Self::info`]).
    pub fn retransmitted_segments(&self) -> u64 {
        self.snd.stats().retransmitted_segments
    }

    /// A snapshot of the connection's figures.
    pub fn info(&self) -> TcpInfo {
        let (rtt, cc, sent) = (self.snd.rtt(), self.snd.congestion(), self.snd.stats());
        TcpInfo {
            state: self.state,
            srtt: rtt.srtt(),
            rttvar: rtt.rttvar(),
            rto: rtt.rto(),
            cwnd: cc.cwnd(),
            ssthresh: cc.ssthresh(),
            snd_mss: self.snd.mss(),
            snd_wnd: self.snd.window(),
            rcv_wnd: self.rcv.rcv_wnd(),
            bytes_sent: sent.bytes_sent,
            bytes_acked: sent.bytes_acked,
            bytes_received: self.stats.bytes_received,
            segments_sent: u64::from(self.stats.segments_sent),
            segments_received: u64::from(self.stats.segments_received),
            retransmitted_segments: sent.retransmitted_segments,
            fast_recoveries: u64::from(sent.fast_recoveries),
            rto_expiries: u64::from(sent.rto_expiries),
            spurious_recoveries: u64::from(sent.spurious_recoveries),
            tlp_probes: u64::from(sent.tlp_probes),
            dsacks_received: u64::from(sent.dsacks_received),
            dsacks_sent: u64::from(self.stats.dsacks_sent),
            rack_lost: u64::from(sent.rack_lost),
            sack_enabled: self.sack_ok,
            timestamps_enabled: self.ts_ok,
            snd_wscale: self.snd.wscale(),
            rcv_wscale: self.rcv.wscale(),
            challenge_acks_sent: u64::from(self.stats.challenge_acks_sent),
            paws_dropped: u64::from(self.stats.paws_dropped),
            zero_window_probes: u64::from(sent.zero_window_probes),
            keepalive_probes: u64::from(self.stats.keepalive_probes),
            send_queued: self.snd.queued(),
            recv_queued: self.rcv.queued(),
            congestion: cc.name(),
        }
    }

    /// Every change of state goes through here; a move the state diagram does not allow
    /// ([`State::may_become`]) is a bug, caught in debug builds.
    pub(super) fn transition(&mut self, to: State) {
        debug_assert!(self.state.may_become(to), "no TCP transition from {} to {to}", self.state);
        self.state = to;
    }

    /// Enters CLOSED, reporting `error` if any; then [`Event::Closed`].
    pub(super) fn enter_closed(&mut self, error: Option<Error>) {
        if self.state == State::Closed {
            return;
        }
        self.transition(State::Closed);
        self.timers.clear_all();
        if let Some(e) = error {
            self.error = Some(e);
            self.events.push(Event::Error(e));
            // RFC 9293 §3.10.7.4: a reset flushes queued data both ways.
            self.snd.discard();
            self.rcv.discard();
        }
        self.snd.release_buffer();
        self.events.push(Event::Closed);
    }

    /// Enters TIME-WAIT and starts its 2·MSL timer (RFC 9293 §3.10.7.4).
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.transition(State::TimeWait);
        self.timers.clear_all();
        self.timers.set(Timer::TimeWait, now + self.config.time_wait);
        self.snd.release_buffer();
    }

    /// The handshake completed.
    pub(super) fn enter_established(&mut self, now: Instant) {
        self.transition(if self.snd.fin_queued() { State::FinWait1 } else { State::Established });
        self.events.push(Event::Connected);
        self.snd.on_established(&self.config);
        self.restart_keepalive(now);
    }

    /// Our timestamp clock: milliseconds plus the per-connection offset (RFC 7323 §5.4).
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        self.snd.ts_now(now)
    }

    /// (Re)arms the keepalive timer after hearing from the peer.
    pub(super) fn restart_keepalive(&mut self, now: Instant) {
        self.keepalive_sent = 0;
        match self.config.keepalive {
            Some(k) if self.state.is_synchronized() && self.state != State::TimeWait => {
                self.timers.set(Timer::Keepalive, now + k.idle);
            }
            _ => self.timers.clear(Timer::Keepalive),
        }
    }

    fn on_keepalive_timeout(&mut self, now: Instant) {
        let Some(k) = self.config.keepalive else { return };
        if !matches!(self.state, State::Established | State::CloseWait | State::FinWait2) {
            return;
        }
        // Data in flight or queued: retransmission (not keepalive) judges the peer.
        if !self.snd.is_idle() {
            self.timers.set(Timer::Keepalive, now + k.idle);
            return;
        }
        if self.keepalive_sent >= k.probes {
            self.enter_closed(Some(Error::TimedOut));
            return;
        }
        self.keepalive_sent += 1;
        self.keepalive_pending = true;
        self.timers.set(Timer::Keepalive, now + k.interval);
    }

    fn on_user_timeout(&mut self, now: Instant) {
        let Some(limit) = self.config.user_timeout else { return };
        if self.snd.user_timed_out(now, limit) {
            self.enter_closed(Some(Error::TimedOut));
        }
    }

    /// The retransmission timer fired: the sender backs off and resends, or gives up.
    fn on_retransmit_timeout(&mut self, now: Instant) {
        match self.snd.on_retransmit_timeout(now, self.state, &mut self.timers, &self.config) {
            Expiry::GiveUp => self.enter_closed(Some(Error::TimedOut)),
            Expiry::ResendSyn => self.syn_pending = true,
            Expiry::Resend | Expiry::Idle => {}
        }
    }

    /// Sends a challenge ACK unless the RFC 5961 §7 rate limit says no.
    pub(super) fn challenge_ack(&mut self, now: Instant) {
        if self.ack_budget(now) {
            bump(&mut self.stats.challenge_acks_sent);
            self.rcv.request_ack();
        }
    }

    /// Whether an ACK that answers a segment we drop may go now: at most
    /// `challenge_ack_limit` a second (RFC 5961 §7), shared by challenge ACKs and the ACKs
    /// answering pure ACKs we find unacceptable. Two ends that each find the other's ACKs
    /// unacceptable (desynchronised, or one's TS.Recent poisoned) would otherwise answer
    /// each other without end, an ACK storm; a segment with data is always answered, as its
    /// ACK may carry the D-SACK its sender needs.
    pub(super) fn ack_budget(&mut self, now: Instant) -> bool {
        let (start, count) = self.challenge_window;
        if now - start >= Duration::from_secs(1) {
            self.challenge_window = (now, 0);
        } else if count >= self.config.challenge_ack_limit {
            return false;
        }
        self.challenge_window.1 += 1;
        true
    }

    /// Answers a segment dropped as unacceptable (RFC 9293 §3.10.7.4 first, RFC 7323 §5.3
    /// R1) with an ACK: always for one with data or a SYN, within [`ack_budget`] for a pure
    /// ACK, which is what an ACK storm is made of.
    ///
    /// [`ack_budget`]: Self::ack_budget
    pub(super) fn answer_unacceptable(&mut self, now: Instant, seg: &Repr<'_>) {
        let pure = seg.payload.is_empty() && !seg.flags.intersects(Flags::SYN | Flags::FIN);
        if !pure || self.ack_budget(now) {
            self.rcv.request_ack();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, Event, Events};

    #[test]
    fn events_come_out_in_the_order_they_went_in_around_the_ring() {
        let mut events = Events::default();
        events.push(Event::Connected);
        assert_eq!(events.pop(), Some(Event::Connected));
        // The head has moved: the four kinds still fit, and come out in order.
        let all = [Event::PeerClosed, Event::Error(Error::Reset), Event::Closed, Event::Connected];
        all.iter().for_each(|&e| events.push(e));
        let out: Vec<_> = std::iter::from_fn(|| events.pop()).collect();
        assert_eq!(out, all);
        assert_eq!(events.pop(), None);
    }
}
