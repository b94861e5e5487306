//! TCP tables, for IPv4 and IPv6 alike: connections by 4-tuple in a hash table (O(1)
//! demultiplexing), listeners by (address, port) with the wildcards, the queue of
//! connections with something to send, and a timer heap of (deadline, connection) with lazy
//! deletion.
//!
//! A listener on `[::]` is dual-stack, as Linux's are by default: it accepts IPv4
//! connections too, whose sockets see both ends at their IPv4-mapped addresses
//! (`::ffff:192.0.2.1`), unless it was made for IPv6 only
//! ([`Stack::tcp_listen_v6_only`]). Inside the stack an IPv4 connection always has IPv4
//! addresses: the mapped form is only what its socket is shown.
//!
//! A connection is polled only when marked ready — a segment arrived, the application
//! touched it, or its timer fired — so neither `poll_transmit` nor `handle_timeout` walks
//! every socket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use core::hash::Hasher as _;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use hashbrown::HashTable;
use siphasher::sip::SipHasher13;

use super::icmp::Trouble;
use super::ipv4::bump_ident;
use super::slab::{Key, Slab};
use super::udp::canonical;
use super::{Error, Event, EventKind, ListenerHandle, SocketHandle, Stack, TTL, TcpHandle};
use super::{Medium, Offloads};
use crate::tcp::cookie::CookieJar;
use crate::tcp::listener::Listener;
use crate::tcp::{self, Connection, IsnGenerator, State};
use crate::time::{Duration, Instant};
use crate::wire::ip::Protocol;
use crate::wire::tcp::{Flags, Packet, Repr, SeqNumber};
use crate::wire::{self, Checksum, Checksums, checksum, ethernet, ipv4, ipv6, virtio};

/// A connection's 4-tuple: local, remote, of one family; an IPv4 connection's are IPv4
/// addresses, never mapped ones.
pub(crate) type Tuple = (SocketAddr, SocketAddr);

const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// One connection with the stack's bookkeeping around it.
#[derive(Debug)]
pub(crate) struct TcpSlot {
    pub(crate) conn: TcpSocket,
    /// The listener that holds it until `accept`.
    pub(crate) listener: Option<Key>,
    /// The application let go of it: free it once closed.
    pub(crate) released: bool,
    /// In the ready queue.
    pub(crate) queued: bool,
    /// The deadline last pushed on the timer heap.
    pub(crate) deadline: Option<Instant>,
    /// Reached ESTABLISHED (counted in `tcp_curr_estab` until closed).
    pub(crate) established: bool,
    /// An error the stack learned for it (ICMP, ARP), for `tcp_take_error`.
    pub(crate) error: Option<Error>,
    /// What the failure event should say when the stack aborted the connection itself.
    pub(crate) abort_kind: Option<EventKind>,
    /// Retransmissions already added to the counters, modulo 2^32: only the difference
    /// from the connection's own count is ever used.
    pub(crate) retrans: u32,
    /// Emit no more events (a TIME-WAIT connection replaced by a new SYN).
    pub(crate) silent: bool,
    /// An IPv4 connection of an IPv6 socket (accepted by a dual-stack listener, or made
    /// to an IPv4-mapped address): its socket sees mapped addresses.
    pub(crate) mapped: bool,
    /// The flow label of its IPv6 packets (RFC 6437), hashed once (0 over IPv4).
    pub(crate) flow_label: u32,
    /// The memory last charged for it to the stack's budget: [`SLOT_COST`] and its
    /// buffers' storage.
    pub(crate) charged: u32,
}

/// What a connection costs the stack beside its buffers: its boxed slot, the slab's
/// pointer to it and its entry in the 4-tuple table.
pub(crate) const SLOT_COST: usize = size_of::<TcpSlot>() + 2 * size_of::<usize>();

impl TcpSlot {
    /// The connection's 4-tuple. The stack makes its connections with their peer
    /// (connect, accept), so the remote address is always there.
    pub(crate) fn tuple(&self) -> Tuple {
        let c = &self.conn.0;
        (c.local(), c.remote().unwrap_or(c.local()))
    }

    /// The 4-tuple as the connection's socket names it.
    fn as_seen(&self) -> Tuple {
        let (local, remote) = self.tuple();
        if self.mapped { (mapped(local), mapped(remote)) } else { (local, remote) }
    }
}

/// An IPv4 socket address as its IPv4-mapped IPv6 one; an IPv6 one as it is.
fn mapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        SocketAddr::V6(_) => addr,
    }
}

/// The hash of a 4-tuple, keyed with the stack's secret so that a peer cannot choose
/// tuples that share a bucket.
fn hash_tuple(key: &[u8; 16], (local, remote): &Tuple) -> u64 {
    let mut h = SipHasher13::new_with_key(key);
    for addr in [local, remote] {
        match addr.ip() {
            IpAddr::V4(ip) => h.write(&ip.octets()),
            IpAddr::V6(ip) => h.write(&ip.octets()),
        }
        h.write_u16(addr.port());
    }
    h.finish()
}

/// What a listener takes on its port, per family, for the clash rules of
/// [`TcpTable::listen_in_use`]: `[IPv4, IPv6]`.
fn families(ip: IpAddr, v6_only: bool) -> [u32; 2] {
    match ip {
        IpAddr::V4(_) => [1, 0],
        IpAddr::V6(a) if a.is_unspecified() && !v6_only => [1, 1],
        IpAddr::V6(_) => [0, 1],
    }
}

/// A connection as its application sees it ([`Stack::tcp_mut`]): the calls a socket makes
/// — send, receive, shut down, abort, tune — and the figures it reads. What the stack does
/// to a connection itself (segments in and out, timers) is not here, so no application call
/// can go around the stack's bookkeeping.
#[derive(Debug)]
pub struct TcpSocket(pub(super) Connection, tcp::Events);

impl TcpSocket {
    fn new(conn: Connection) -> Self {
        Self(conn, tcp::Events::default())
    }

    /// The connection's next event ([`tcp::Event`]: connected, peer closed, failed,
    /// closed), oldest first. The stack turns the same events into its own
    /// ([`Stack::poll_event`]), which name the connection but do not say when the peer
    /// closed; a connection has at most four in its life, so they are kept for the
    /// application without allocating.
    pub fn poll_event(&mut self) -> Option<tcp::Event> {
        self.1.pop()
    }

    /// Closes both directions: a FIN follows the queued data, or, with received data left
    /// unread, the connection is reset, as Linux does ([`Connection::close`]). Unlike
    /// [`Stack::tcp_release`] the connection stays in the table, its handle valid, until
    /// released.
    pub fn close(&mut self) {
        self.0.close();
    }

    /// Queues `data` for sending; how much fit ([`Connection::send`]).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, crate::tcp::SendError> {
        self.0.send(data)
    }

    /// Reads received data into `buf`; `Ok(0)` at end-of-file ([`Connection::recv`]).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, crate::tcp::RecvError> {
        self.0.recv(buf)
    }

    /// Closes the sending direction: a FIN follows the queued data.
    pub fn shutdown_write(&mut self) {
        self.0.shutdown_write();
    }

    /// Resets the connection (RST) and drops what is queued.
    pub fn abort(&mut self) {
        self.0.abort();
    }

    /// Turns the connection's trace on or off ([`Stack::poll_trace`] hands its records out).
    pub fn set_trace(&mut self, on: bool) {
        self.0.set_trace(on);
    }

    /// Turns Nagle's algorithm off (`true`) or back on.
    pub fn set_nodelay(&mut self, on: bool) {
        self.0.set_nodelay(on);
    }

    /// The connection itself, to read its state and figures.
    pub fn connection(&self) -> &Connection {
        &self.0
    }

    /// The RFC 9293 state.
    pub fn state(&self) -> State {
        self.0.state()
    }

    /// A snapshot of the connection's figures, like `TCP_INFO`.
    pub fn info(&self) -> crate::tcp::TcpInfo {
        self.0.info()
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<crate::tcp::Error> {
        self.0.error()
    }
}

/// All TCP state of a stack.
#[derive(Debug)]
pub(crate) struct TcpTable {
    /// Boxed: a slab grows by doubling, and its free slots then cost a pointer each rather
    /// than a whole connection.
    pub(crate) conns: Slab<Box<TcpSlot>>,
    /// The connections in `conns` by 4-tuple: each entry is a key, 4 bytes, and the tuple
    /// it is compared with is the connection's own. Every entry names a live connection.
    by_tuple: HashTable<Key>,
    /// The secret `by_tuple` hashes with.
    demux_key: [u8; 16],
    pub(crate) listeners: Slab<Listener<Key>>,
    pub(crate) listen_map: HashMap<(IpAddr, u16), Key>,
    /// Listeners per port and family, `[IPv4, IPv6]`; a dual-stack `[::]` counts in both.
    pub(crate) listen_ports: HashMap<u16, [u32; 2]>,
    pub(crate) ready: VecDeque<Key>,
    pub(crate) timers: BinaryHeap<Reverse<(Instant, Key)>>,
    pub(crate) isn: IsnGenerator,
    /// Listeners whose connections start at a fixed ISN ([`Stack::tcp_listen_with_isn`]).
    pub(crate) fixed_isn: HashMap<Key, SeqNumber>,
    pub(crate) cookies: CookieJar,
    pub(crate) scratch: Vec<u8>,
    /// The settings every connection shares: one copy for the whole table.
    pub(crate) config: std::sync::Arc<crate::tcp::Config>,
    /// The memory every connection's slot and buffers hold, as last charged.
    memory: usize,
    /// How far connection buffers may grow for now (the memory budget's level).
    buffer_limit: usize,
}

impl TcpTable {
    pub(crate) fn new(
        isn_key: [u8; 16],
        cookie_key: [u8; 16],
        config: &crate::tcp::Config,
    ) -> Self {
        // The table's secret comes from the ISN one, through a one-way function, so the
        // stack draws no more from its generator than it did.
        let mut demux_key = [0; 16];
        for (i, half) in demux_key.chunks_exact_mut(8).enumerate() {
            let mut h = SipHasher13::new_with_key(&isn_key);
            h.write(b"4-tuple table");
            h.write_u8(i as u8);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        Self {
            config: Arc::new(config.clone()),
            conns: Slab::default(),
            by_tuple: HashTable::new(),
            demux_key,
            listeners: Slab::default(),
            listen_map: HashMap::new(),
            listen_ports: HashMap::new(),
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            isn: IsnGenerator::new(isn_key),
            fixed_isn: HashMap::new(),
            cookies: CookieJar::new(cookie_key),
            scratch: vec![0; 1 << 16],
            memory: 0,
            buffer_limit: usize::MAX,
        }
    }

    /// The memory the connections hold, as last charged.
    pub(crate) const fn memory(&self) -> usize {
        self.memory
    }

    /// Charges connection `key` for what its buffers hold now; whether that changed
    /// (rarely: buffers grow by doubling, and go when empty).
    fn charge(&mut self, key: Key) -> bool {
        let Some(slot) = self.conns.get_mut(key) else { return false };
        let cost = SLOT_COST + slot.conn.0.buffer_memory();
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        if cost == slot.charged {
            return false;
        }
        self.memory = self.memory + cost as usize - slot.charged as usize;
        slot.charged = cost;
        true
    }

    /// Lets connection `key` go, and the memory charged for it.
    fn remove(&mut self, key: Key) {
        if let Some(slot) = self.conns.remove(key) {
            self.memory -= slot.charged as usize;
        }
    }

    /// Gives every connection, and those to come, buffers that grow to `limit` at most.
    pub(crate) fn set_buffer_limits(&mut self, limit: usize) {
        self.buffer_limit = limit;
        for slot in self.conns.values_mut() {
            slot.conn.0.set_buffer_limit(limit);
        }
    }

    /// A listener for [`Stack::tcp_intercept`]: on `[::]:0`, in no map of bound ones.
    pub(crate) fn intercept_listener(&mut self, backlog: usize, max_syn: usize) -> ListenerHandle {
        let any = SocketAddr::new(ANY6, 0);
        ListenerHandle(self.listeners.insert(Listener::new(any, backlog, max_syn)))
    }

    /// The connection with this 4-tuple.
    pub(crate) fn find(&self, tuple: &Tuple) -> Option<Key> {
        let hash = hash_tuple(&self.demux_key, tuple);
        let same = |&k: &Key| self.conns.get(k).is_some_and(|s| s.tuple() == *tuple);
        self.by_tuple.find(hash, same).copied()
    }

    /// Files the connection `key`, already in `conns`, by its 4-tuple.
    fn file(&mut self, key: Key) {
        let Self { conns, by_tuple, demux_key, .. } = self;
        let Some(slot) = conns.get(key) else { return };
        let hash = hash_tuple(demux_key, &slot.tuple());
        let rehash = |&k: &Key| conns.get(k).map_or(0, |s| hash_tuple(demux_key, &s.tuple()));
        by_tuple.insert_unique(hash, key, rehash);
    }

    /// Takes the connection `key` out of the 4-tuple table, if it is there; before it
    /// leaves `conns`.
    fn unfile(&mut self, key: Key) {
        let Some(slot) = self.conns.get(key) else { return };
        let hash = hash_tuple(&self.demux_key, &slot.tuple());
        if let Ok(entry) = self.by_tuple.find_entry(hash, |&k| k == key) {
            entry.remove();
        }
    }

    /// The listener a segment to `local` goes to: bound to its address, or to its
    /// family's wildcard, or, for IPv4, to a dual-stack `[::]`.
    fn listener_for(&self, local: SocketAddr) -> Option<Key> {
        let port = local.port();
        let get = |ip: IpAddr| self.listen_map.get(&(ip, port)).copied();
        match local.ip() {
            ip @ IpAddr::V4(_) => get(ip).or_else(|| get(ANY4)).or_else(|| {
                get(ANY6).filter(|&k| self.listeners.get(k).is_some_and(|l| !l.v6_only))
            }),
            ip @ IpAddr::V6(_) => get(ip).or_else(|| get(ANY6)),
        }
    }

    /// Whether a listener on `local` would clash with one already there: the same address
    /// and port, or a wildcard that covers the other (`[::]` covers IPv4 too unless one of
    /// the two is IPv6-only).
    fn listen_in_use(&self, local: SocketAddr, v6_only: bool) -> bool {
        let (ip, port) = (local.ip(), local.port());
        let [v4, v6] = self.listen_ports.get(&port).copied().unwrap_or_default();
        if ip.is_unspecified() {
            let [want4, want6] = families(ip, v6_only);
            return (want4 > 0 && v4 > 0) || (want6 > 0 && v6 > 0);
        }
        let taken = |ip: IpAddr| self.listen_map.contains_key(&(ip, port));
        match ip {
            IpAddr::V4(_) => {
                taken(ip)
                    || taken(ANY4)
                    || self
                        .listen_map
                        .get(&(ANY6, port))
                        .and_then(|&k| self.listeners.get(k))
                        .is_some_and(|l| !l.v6_only)
            }
            IpAddr::V6(_) => taken(ip) || taken(ANY6),
        }
    }

    fn mark_ready(&mut self, key: Key) {
        if let Some(slot) = self.conns.get_mut(key) {
            if !slot.queued {
                slot.queued = true;
                self.ready.push_back(key);
            }
        }
    }

    pub(crate) fn poll_at(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Files `key`'s new earliest deadline.
    ///
    /// The entry of its old deadline stays behind: a heap cannot move an entry. Stale
    /// entries are dropped when they reach the top (so `poll_at` stays exact), and once
    /// they could outnumber the live ones the heap is rebuilt from the connections' own
    /// deadlines, so it holds O(connections) entries however often a peer moves them
    /// (each segment re-arms a keepalive) — at O(1) amortised per change.
    fn schedule(&mut self, key: Key, deadline: Instant) {
        self.timers.push(Reverse((deadline, key)));
        if self.timers.len() > 2 * self.conns.len() + 64 {
            self.timers = self
                .conns
                .iter()
                .filter_map(|(key, slot)| slot.deadline.map(|d| Reverse((d, key))))
                .collect();
        }
        self.drop_stale_timers();
    }

    /// Pops the entries at the top of the heap whose connection is gone or has another
    /// deadline now.
    fn drop_stale_timers(&mut self) {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if self.conns.get(key).is_some_and(|slot| slot.deadline == Some(at)) {
                break;
            }
            self.timers.pop();
        }
        self.shrink_timers();
    }

    /// Gives back the heap's storage once it is three-quarters empty, keeping room for
    /// twice what it holds: a burst of connections that went idle leaves no table behind,
    /// and a heap that shrank must double its entries before it shrinks again.
    fn shrink_timers(&mut self) {
        let len = self.timers.len();
        if self.timers.capacity() > 4 * len.max(16) {
            self.timers.shrink_to(2 * len);
        }
    }

    /// How many entries the timer heap holds, stale ones included.
    pub(crate) fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}

/// What became of one polled segment.
enum Out {
    /// Written into the caller's buffer behind `link` bytes of link header, for `mac`.
    Frame { link: usize, len: usize, mac: ethernet::Address },
    /// Written into the caller's buffer behind `link` bytes; the next hop is unresolved,
    /// so the datagram waits for ARP.
    Pending { link: usize, len: usize },
    /// The buffer is too small.
    Dropped,
    /// No route to the peer.
    Unrouted,
}

/// What goes in the IP header of a segment besides its addresses.
#[derive(Clone, Copy, Debug)]
enum IpHead {
    V4 { ident: u16 },
    V6 { hop_limit: u8, flow_label: u32 },
}

/// Writes an IP datagram carrying `seg` from `local` to `remote` at the front of `buf`; its
/// length, or `None` when `buf` is too small, `head` is not of the addresses' family, or
/// the segment cannot be written.
fn write_tcp_ip(
    buf: &mut [u8],
    head: IpHead,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &Repr<'_>,
    checksums: &Checksums,
) -> Option<usize> {
    let payload_len = seg.buffer_len();
    let header_len = match (head, local.ip(), remote.ip()) {
        (IpHead::V4 { ident }, IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
            let ip = ipv4::Repr {
                src_addr,
                dst_addr,
                protocol: Protocol::Tcp,
                payload_len,
                ttl: TTL,
                tos: 0,
                ident,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            let header = buf.get_mut(..ipv4::HEADER_LEN)?;
            ip.emit(&mut ipv4::Packet::new_unchecked(header), checksums);
            ipv4::HEADER_LEN
        }
        (IpHead::V6 { hop_limit, flow_label }, IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
            let ip = ipv6::Repr {
                src_addr,
                dst_addr,
                next_header: Protocol::Tcp,
                payload_len,
                hop_limit,
                traffic_class: 0,
                flow_label,
            };
            let header = buf.get_mut(..ipv6::HEADER_LEN)?;
            ip.emit(&mut ipv6::Packet::new_unchecked(header));
            ipv6::HEADER_LEN
        }
        _ => return None,
    };
    let len = header_len + payload_len;
    let body = buf.get_mut(header_len..len)?;
    seg.emit(&mut Packet::new_unchecked(body), local.ip(), remote.ip(), checksums).ok()?;
    Some(len)
}

/// The virtio-net header of `seg`, to be written after a link header of `link` bytes and
/// an IP header of `ip_len` (`v6` for IPv6's), for a connection whose full segments carry
/// `mss` payload bytes: the device fills in the TCP checksum and, when the payload is longer
/// than one segment's, cuts it into segments of that many bytes (less the SACK blocks this
/// one carries, which every piece repeats).
fn virtio_tcp(link: usize, v6: bool, seg: &Repr<'_>, mss: usize) -> virtio::Repr {
    let ip_len = if v6 { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
    let header = seg.buffer_len() - seg.payload.len();
    let blocks = seg.options.sack_blocks.len();
    let per = mss.saturating_sub(if blocks == 0 { 0 } else { 4 + 8 * blocks }).max(1);
    let large = seg.payload.len() > per;
    let gso = match (large, v6) {
        (false, _) => virtio::Gso::None,
        (true, false) => virtio::Gso::TcpV4,
        (true, true) => virtio::Gso::TcpV6,
    };
    let narrow = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    virtio::Repr {
        flags: virtio::FLAG_NEEDS_CSUM,
        gso,
        ecn: false,
        hdr_len: narrow(link + ip_len + header),
        gso_size: if large { narrow(per) } else { 0 },
        csum_start: narrow(link + ip_len),
        csum_offset: 16,
    }
}

/// Puts the pseudo-header's sum in the TCP checksum field of the datagram of `len` bytes at
/// `link` in `buf`, for a device that adds the rest (`VIRTIO_NET_HDR_F_NEEDS_CSUM`).
fn partial_checksum(
    buf: &mut [u8],
    link: usize,
    len: usize,
    local: SocketAddr,
    remote: SocketAddr,
) {
    let ip_len = if local.is_ipv6() { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
    let Ok(sum) = checksum::pseudo_header(local.ip(), remote.ip(), 6, len - ip_len) else {
        return;
    };
    let at = link + ip_len + 16;
    if let Some(field) = buf.get_mut(at..at + 2) {
        field.copy_from_slice(&sum.to_be_bytes());
    }
}

impl Stack {
    // ---- TCP API ----

    /// Listens on `local` (one of our addresses of either family, or an unspecified
    /// address; port 0 picks an ephemeral one) with an accept queue of `backlog`
    /// connections. `[::]` takes IPv4 connections too, which its sockets see from
    /// IPv4-mapped addresses ([`Stack::tcp_listen_v6_only`] does not).
    pub fn tcp_listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<ListenerHandle, Error> {
        self.listen(local, backlog, false)
    }

    /// [`Stack::tcp_listen`] for IPv6 connections only (`IPV6_V6ONLY`): on `[::]` it
    /// leaves IPv4 to another listener on the same port. [`Error::InvalidInput`] for an
    /// IPv4 address.
    pub fn tcp_listen_v6_only(
        &mut self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<ListenerHandle, Error> {
        self.listen(local, backlog, true)
    }

    /// [`Stack::tcp_listen`], but every connection the listener accepts starts at the
    /// initial sequence number `isn` instead of an RFC 6528 one (a SYN cookie still makes
    /// its own).
    ///
    /// For simulations and tests that must know the sequence numbers in advance
    /// ([`crate::sim`]); never in production, where predictable ISNs let an off-path
    /// attacker inject segments (RFC 6528 §1).
    pub fn tcp_listen_with_isn(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        isn: SeqNumber,
    ) -> Result<ListenerHandle, Error> {
        let l = self.tcp_listen(local, backlog)?;
        self.tcp.fixed_isn.insert(l.0, isn);
        Ok(l)
    }

    /// The address a listener listens on.
    pub fn listener_local_addr(&self, l: ListenerHandle) -> Option<SocketAddr> {
        self.tcp.listeners.get(l.0).map(|l| l.local)
    }

    /// The oldest established connection of the listener; [`Error::WouldBlock`] when none.
    pub fn tcp_accept(&mut self, l: ListenerHandle) -> Result<TcpHandle, Error> {
        let listener = self.tcp.listeners.get_mut(l.0).ok_or(Error::InvalidInput)?;
        let key = listener.accept_queue.pop_front().ok_or(Error::WouldBlock)?;
        if let Some(slot) = self.tcp.conns.get_mut(key) {
            slot.listener = None;
        }
        Ok(TcpHandle(key))
    }

    /// Closes a listener; the connections it holds (half-open or not yet accepted) are reset.
    pub fn listener_close(&mut self, l: ListenerHandle) {
        let Some(mut listener) = self.tcp.listeners.remove(l.0) else { return };
        self.tcp.fixed_isn.remove(&l.0);
        self.intercepts.forget_tcp(l.0);
        let local = listener.local;
        // An intercepting listener is on port 0, where no other is bound.
        if local.port() != 0 {
            self.tcp.listen_map.remove(&(local.ip(), local.port()));
        }
        let counted = self.tcp.listen_ports.get_mut(&local.port()).filter(|_| local.port() != 0);
        if let Some(n) = counted {
            let took = families(local.ip(), listener.v6_only);
            n[0] -= took[0];
            n[1] -= took[1];
            if *n == [0, 0] {
                self.tcp.listen_ports.remove(&local.port());
            }
        }
        for key in listener.drain() {
            if let Some(slot) = self.tcp.conns.get_mut(key) {
                slot.listener = None;
                slot.released = true;
                slot.conn.0.abort();
            }
            self.tcp.mark_ready(key);
        }
    }

    /// Opens a connection to `remote` from `local` (or, if `None` or with port 0, from the
    /// source address for the route and an RFC 6056 ephemeral port). Its SYN comes out of
    /// the next `poll_transmit`; [`Stack::poll_wake`] names it when it connects or fails.
    pub fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<TcpHandle, Error> {
        self.connect(now, remote, local, None)
    }

    /// [`Stack::tcp_connect`] with the initial sequence number `isn` instead of an RFC
    /// 6528 one.
    ///
    /// For simulations and tests that must know the sequence numbers in advance
    /// ([`crate::sim`]); never in production, where predictable ISNs let an off-path
    /// attacker inject segments (RFC 6528 §1).
    pub fn tcp_connect_with_isn(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        isn: SeqNumber,
    ) -> Result<TcpHandle, Error> {
        self.connect(now, remote, local, Some(isn))
    }

    /// The connection, to read its state and figures.
    pub fn tcp(&self, h: TcpHandle) -> Option<&Connection> {
        self.tcp.conns.get(h.0).map(|s| &s.conn.0)
    }

    /// The connection's local and remote addresses as its socket sees them: an IPv4
    /// connection of a dual-stack listener, or made to an IPv4-mapped address, at the
    /// IPv4-mapped addresses; otherwise those of [`Connection::local`] and
    /// [`Connection::remote`].
    pub fn tcp_addrs(&self, h: TcpHandle) -> Option<(SocketAddr, SocketAddr)> {
        self.tcp.conns.get(h.0).map(|s| s.as_seen())
    }

    /// The connection as its application drives it: send, receive, shut down or tune it.
    /// The stack polls it on the next `poll_transmit`, so whatever the call changed goes out.
    pub fn tcp_mut(&mut self, h: TcpHandle) -> Option<&mut TcpSocket> {
        self.tcp.mark_ready(h.0);
        self.tcp.conns.get_mut(h.0).map(|s| &mut s.conn)
    }

    /// An error the stack learned for the connection beyond its own (host unreachable from
    /// ICMP or ARP, connection refused from ICMP), taken once.
    pub fn tcp_take_error(&mut self, h: TcpHandle) -> Option<Error> {
        self.tcp.conns.get_mut(h.0)?.error.take()
    }

    /// The application dropped the connection: close it as Linux does (FIN, or RST when
    /// received data was never read) and free it when it is over, TIME-WAIT included. The
    /// handle is stale from now on.
    pub fn tcp_release(&mut self, h: TcpHandle) {
        let Some(slot) = self.tcp.conns.get_mut(h.0) else { return };
        slot.released = true;
        if slot.conn.0.state() == State::SynSent {
            slot.conn.0.abort();
        } else {
            slot.conn.0.close();
        }
        self.tcp.mark_ready(h.0);
    }

    /// How many connections the stack holds (any state, TIME-WAIT included).
    pub fn tcp_connection_count(&self) -> usize {
        self.tcp.conns.len()
    }

    /// How many entries the TCP timer heap holds, stale ones included: O(connections).
    #[doc(hidden)]
    pub fn tcp_timer_entries(&self) -> usize {
        self.tcp.timer_entries()
    }

    // ---- internals ----

    /// A new listener: [`Stack::tcp_listen`], IPv6-only if `v6_only`.
    fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        v6_only: bool,
    ) -> Result<ListenerHandle, Error> {
        let ip = self.check_local_any(local.ip())?;
        if v6_only && ip.is_ipv4() {
            return Err(Error::InvalidInput);
        }
        let port = if local.port() == 0 {
            let salt = self.rng.next_u32();
            let tcp = &self.tcp;
            self.ports
                .allocate(ip, None, salt, |p| !tcp.listen_in_use(SocketAddr::new(ip, p), v6_only))
                .ok_or(Error::AddrNotAvailable)?
        } else {
            local.port()
        };
        let local = SocketAddr::new(ip, port);
        if self.tcp.listen_in_use(local, v6_only) {
            return Err(Error::AddrInUse);
        }
        let mut listener = Listener::new(local, backlog, self.config.max_syn_backlog);
        listener.v6_only = v6_only;
        let key = self.tcp.listeners.insert(listener);
        self.tcp.listen_map.insert((ip, port), key);
        let n = self.tcp.listen_ports.entry(port).or_default();
        let took = families(ip, v6_only);
        n[0] += took[0];
        n[1] += took[1];
        Ok(ListenerHandle(key))
    }

    /// An active open: [`Stack::tcp_connect`], with a fixed ISN if `isn` is given.
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        isn: Option<SeqNumber>,
    ) -> Result<TcpHandle, Error> {
        // An IPv6 socket's connection to an IPv4-mapped address runs over IPv4.
        let mapped = remote.is_ipv6() && canonical(remote).is_ipv4();
        let remote = Self::check_remote_any(remote)?;
        let any = if remote.is_ipv4() { ANY4 } else { ANY6 };
        let local = local.unwrap_or(SocketAddr::new(any, 0));
        let ip = match (self.check_local_any(local.ip())?, remote.ip()) {
            (IpAddr::V4(_), IpAddr::V6(_)) => return Err(Error::InvalidInput),
            (IpAddr::V6(l), IpAddr::V4(_)) if !l.is_unspecified() => {
                return Err(Error::InvalidInput);
            }
            (l, r) if l.is_unspecified() => self.source_for_any(r)?,
            (l, _) => l,
        };
        let port = if local.port() == 0 {
            let tcp = &self.tcp;
            self.ports
                .allocate(ip, Some((remote.ip(), remote.port())), 0, |p| {
                    let l = SocketAddr::new(ip, p);
                    tcp.find(&(l, remote)).is_none() && !tcp.listen_in_use(l, false)
                })
                .ok_or(Error::AddrNotAvailable)?
        } else {
            let l = SocketAddr::new(ip, local.port());
            if self.tcp.find(&(l, remote)).is_some() || self.tcp.listen_in_use(l, false) {
                return Err(Error::AddrInUse);
            }
            local.port()
        };
        let local = SocketAddr::new(ip, port);
        let isn = isn.unwrap_or_else(|| self.tcp.isn.isn(now, local, remote));
        let conn = Connection::connect(now, local, remote, isn, Arc::clone(&self.tcp.config));
        let key = self.insert_conn(conn, None, mapped);
        self.counters.tcp_active_opens += 1;
        self.after_tcp(now, key);
        Ok(TcpHandle(key))
    }

    /// Files a new connection by its tuple, in its listener's SYN queue if it has one, and
    /// marks it ready. `mapped`: its socket sees IPv4-mapped addresses.
    pub(super) fn insert_conn(
        &mut self,
        conn: Connection,
        listener: Option<Key>,
        mapped: bool,
    ) -> Key {
        let mut conn = conn;
        if let Some(IpAddr::V6(remote)) = conn.remote().map(|r| r.ip()) {
            // A router advertised a smaller MTU for the link, or the path is known to take
            // less (RFC 8201 §5.2).
            let path = self.v6.as_ref().and_then(|v6| v6.path_mtu(remote));
            let mtu = path.map_or(self.mtu6(), |p| p.min(self.mtu6()));
            if mtu < self.config.mtu {
                conn.set_path_mtu(mtu);
            }
        }
        if self.config.offloads.tcp_segmentation > 0 {
            // One IP datagram holds at most 64 KiB, whatever the device said.
            let most = self.config.offloads.tcp_segmentation.min(Offloads::MAX_SEGMENT_PAYLOAD);
            conn.set_segmentation_offload(most);
        }
        let flow_label = match (conn.local(), conn.remote()) {
            (SocketAddr::V6(l), Some(SocketAddr::V6(r))) => {
                self.flow_label(*l.ip(), *r.ip(), Protocol::Tcp, (l.port(), r.port()))
            }
            _ => 0,
        };
        let key = self.tcp.conns.insert(Box::new(TcpSlot {
            flow_label,
            conn: TcpSocket::new(conn),
            listener,
            released: false,
            queued: false,
            deadline: None,
            established: false,
            error: None,
            abort_kind: None,
            retrans: 0,
            silent: false,
            mapped,
            charged: 0,
        }));
        if let Some(slot) = self.tcp.conns.get_mut(key) {
            slot.conn.0.set_buffer_limit(self.tcp.buffer_limit);
        }
        self.tcp.charge(key);
        self.memory_changed();
        self.tcp.file(key);
        // A listener's connection is half-open until its handshake completes.
        if let Some(listener) = listener.and_then(|l| self.tcp.listeners.get_mut(l)) {
            listener.syn_queue.insert(key);
        }
        self.tcp.mark_ready(key);
        key
    }

    /// Files a connection a SYN opened (held by `listener` until accepted), counted as a
    /// passive open.
    pub(super) fn open_passive(
        &mut self,
        conn: Connection,
        listener: Option<Key>,
        mapped: bool,
    ) -> Key {
        self.counters.tcp_passive_opens += 1;
        self.insert_conn(conn, listener, mapped)
    }

    /// A TCP segment from `src` to `dst`, of either family (never a mapped address).
    pub(crate) fn tcp_input(&mut self, now: Instant, src: IpAddr, dst: IpAddr, payload: &[u8]) {
        let Ok(packet) = Packet::new_checked(payload) else {
            self.counters.tcp_in_errs += 1;
            return;
        };
        let seg = match Repr::parse(&packet, src, dst, &self.rx_checksums()) {
            Ok(seg) => seg,
            Err(e) => {
                self.counters.tcp_in_errs += 1;
                self.counters.tcp_in_csum_errors += u64::from(e == wire::Error::BadChecksum);
                return;
            }
        };
        self.counters.tcp_in_segs += 1;
        let local = SocketAddr::new(dst, seg.dst_port);
        let remote = SocketAddr::new(src, seg.src_port);
        if let Some(key) = self.tcp.find(&(local, remote)) {
            if self.tcp.conns.get(key).is_some_and(|slot| slot.conn.0.time_wait_accepts(&seg)) {
                // RFC 6191: a new incarnation replaces the TIME-WAIT connection.
                self.tcp.unfile(key);
                let Some(slot) = self.tcp.conns.get_mut(key) else { return };
                slot.silent = true;
                slot.conn.0.abort();
                self.tcp.mark_ready(key);
            } else {
                let Some(slot) = self.tcp.conns.get_mut(key) else { return };
                slot.conn.0.handle_segment(now, remote, &seg);
                self.tcp.mark_ready(key);
                self.after_tcp(now, key);
                self.wake_conn(key);
                return;
            }
        }
        // A segment to an address not ours reached here only because it is intercepted.
        let listener = if self.intercepts.is_empty() || self.is_own_address(dst) {
            self.tcp.listener_for(local)
        } else {
            self.intercepts.tcp_for(dst)
        };
        match listener {
            Some(l) => self.listener_input(now, l, local, remote, &seg),
            None => self.closed_port(now, local, remote, &seg),
        }
    }

    /// A segment for a listener (RFC 9293 §3.10.7.2).
    fn listener_input(
        &mut self,
        now: Instant,
        l: Key,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) {
        if seg.flags.contains(Flags::RST) {
            return;
        }
        if seg.ack_number.is_some() {
            if !seg.flags.contains(Flags::SYN) && self.cookie_ack(now, l, local, remote, seg) {
                return;
            }
            self.send_reset(now, local, remote, seg);
            return;
        }
        if !seg.flags.contains(Flags::SYN) {
            return;
        }
        if self.hold_syn(now, l, local, remote, seg) {
            // An intercepting listener that leaves the answer to the application.
            return;
        }
        let Some(listener) = self.tcp.listeners.get(l) else { return };
        if listener.accept_full() {
            self.counters.tcp_listen_overflows += 1;
            return;
        }
        if listener.syn_full() {
            self.send_cookie(now, l, local, remote, seg);
            return;
        }
        let mapped = sees_mapped(listener, local);
        if !self.memory_allows(SLOT_COST) {
            self.counters.mem_refused += 1;
            return;
        }
        let isn = match self.tcp.fixed_isn.get(&l) {
            Some(&isn) => isn,
            None => self.tcp.isn.isn(now, local, remote),
        };
        let conn = Connection::accept(now, local, remote, seg, isn, Arc::clone(&self.tcp.config));
        let key = self.open_passive(conn, Some(l), mapped);
        self.after_tcp(now, key);
    }

    /// A segment to a port nobody listens on: RST (RFC 9293 §3.10.7.1), and a SYN is
    /// recorded as a refused connection.
    fn closed_port(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, seg: &Repr<'_>) {
        if seg.flags.contains(Flags::SYN) && seg.ack_number.is_none() {
            self.push_event(Event {
                at: now,
                kind: EventKind::Refused,
                local,
                remote,
                bytes_sent: 0,
                bytes_received: 0,
                retransmissions: 0,
            });
        }
        self.send_reset(now, local, remote, seg);
    }

    pub(super) fn send_reset(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) {
        if let Some(rst) = tcp::reset_for(seg) {
            if self.send_segment(now, local, remote, &rst).is_ok() {
                self.counters.tcp_out_rsts += 1;
            }
        }
    }

    /// Sends a segment that belongs to no connection through the control queue.
    pub(crate) fn send_segment(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) -> Result<(), Error> {
        let mut packet = vec![0; ipv6::HEADER_LEN + seg.buffer_len()];
        let head = self.ip_head(local, remote);
        let len = write_tcp_ip(&mut packet, head, local, remote, seg, &self.config.checksums)
            .ok_or(Error::InvalidInput)?;
        packet.truncate(len);
        match remote.ip() {
            IpAddr::V4(dst) => self.send_ip(now, dst, packet, None)?,
            IpAddr::V6(dst) => self.send_ip6(now, dst, packet, None)?,
        }
        self.counters.tcp_out_segs += 1;
        Ok(())
    }

    /// The IP header fields of the next segment from `local` to `remote`: over IPv4 the
    /// next identification, over IPv6 the hop limit and the flow's label.
    fn ip_head(&mut self, local: SocketAddr, remote: SocketAddr) -> IpHead {
        match (local.ip(), remote.ip()) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => IpHead::V6 {
                hop_limit: self.hop_limit6(),
                flow_label: self.flow_label(src, dst, Protocol::Tcp, (local.port(), remote.port())),
            },
            _ => IpHead::V4 { ident: self.next_ident() },
        }
    }

    fn wake_conn(&mut self, key: Key) {
        let Some(slot) = self.tcp.conns.get(key) else { return };
        match slot.listener {
            Some(l) => self.wake(SocketHandle::Listener(ListenerHandle(l))),
            None if !slot.released => self.wake(SocketHandle::Tcp(TcpHandle(key))),
            None => {}
        }
    }

    /// After anything touched a connection: turn its events into the stack's, count,
    /// re-arm its timer, and free it when it is over and nobody holds it.
    pub(crate) fn after_tcp(&mut self, now: Instant, key: Key) {
        if self.tcp.charge(key) {
            self.memory_changed();
        }
        self.take_trace(key);
        let Some(slot) = self.tcp.conns.get_mut(key) else { return };
        let mut events = Vec::new();
        while let Some(e) = slot.conn.0.poll_event() {
            slot.conn.1.push(e);
            events.push(e);
        }
        let retrans = slot.conn.0.retransmitted_segments();
        let counted = retrans as u32;
        self.counters.tcp_retrans_segs += u64::from(counted.wrapping_sub(slot.retrans));
        slot.retrans = counted;
        let (local, remote) = slot.tuple();
        let silent = slot.silent;
        let listener = slot.listener;
        let wake = !events.is_empty();
        // The figures every event carries; a snapshot only when there is an event.
        let (bytes_sent, bytes_received) = if wake {
            let info = slot.conn.0.info();
            (info.bytes_sent, info.bytes_received)
        } else {
            (0, 0)
        };
        let deadline = slot.conn.0.poll_timeout();
        if deadline != slot.deadline {
            slot.deadline = deadline;
            match deadline {
                Some(d) => self.tcp.schedule(key, d),
                None => self.tcp.drop_stale_timers(),
            }
        }
        let event = |kind| Event {
            at: now,
            kind,
            local,
            remote,
            bytes_sent,
            bytes_received,
            retransmissions: retrans,
        };
        for e in events {
            let Some(slot) = self.tcp.conns.get_mut(key) else { return };
            let kind = match e {
                tcp::Event::Connected => {
                    slot.established = true;
                    self.counters.tcp_curr_estab += 1;
                    if let Some(l) = listener.and_then(|l| self.tcp.listeners.get_mut(l)) {
                        l.established(key);
                    }
                    EventKind::Established
                }
                tcp::Event::PeerClosed => continue,
                tcp::Event::Error(err) => {
                    let kind = slot.abort_kind.take().unwrap_or(match err {
                        tcp::Error::Refused => EventKind::Refused,
                        tcp::Error::TimedOut => EventKind::TimedOut,
                        _ => EventKind::Reset,
                    });
                    if !slot.established {
                        self.counters.tcp_attempt_fails += 1;
                    } else if kind == EventKind::Reset {
                        self.counters.tcp_estab_resets += 1;
                    }
                    kind
                }
                tcp::Event::Closed => {
                    if let Some(kind) = slot.abort_kind.take() {
                        // Aborted by the stack (ICMP, ARP): say why before saying closed.
                        if !slot.established {
                            self.counters.tcp_attempt_fails += 1;
                        }
                        if !silent {
                            self.push_event(event(kind));
                        }
                    }
                    let Some(slot) = self.tcp.conns.get_mut(key) else { return };
                    if slot.established {
                        slot.established = false;
                        self.counters.tcp_curr_estab -= 1;
                    }
                    EventKind::Closed
                }
            };
            if !silent {
                self.push_event(event(kind));
            }
        }
        let Some(slot) = self.tcp.conns.get_mut(key) else { return };
        if slot.conn.0.is_closed() {
            let half_open = slot.listener.is_some() && !slot.established;
            let accepted_queue = slot.listener;
            // `is_closed` holds, so the state is Closed: a half-open one is freed too.
            let free = slot.released || half_open;
            self.tcp.unfile(key);
            if free {
                if let Some(l) = accepted_queue.and_then(|l| self.tcp.listeners.get_mut(l)) {
                    l.forget(key);
                }
                self.tcp.remove(key);
                self.tcp.drop_stale_timers();
                self.memory_changed();
                return;
            }
        }
        if wake {
            self.wake_conn(key);
        }
    }

    /// Runs the connection timers due at `now`.
    pub(crate) fn tcp_handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(&Reverse((at, key))) = self.tcp.timers.peek() {
            if at > now {
                break;
            }
            self.tcp.timers.pop();
            due.push((at, key));
        }
        self.tcp.shrink_timers();
        for (at, key) in due {
            let Some(slot) = self.tcp.conns.get_mut(key) else { continue };
            if slot.deadline != Some(at) {
                continue;
            }
            slot.deadline = None;
            slot.conn.0.handle_timeout(now);
            self.tcp.mark_ready(key);
            self.after_tcp(now, key);
            self.wake_conn(key);
        }
    }

    /// The next segment of a ready connection, written as a whole frame into `buf`.
    pub(crate) fn tcp_poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        while let Some(&key) = self.tcp.ready.front() {
            let TcpTable { conns, scratch, .. } = &mut self.tcp;
            let Some(slot) = conns.get_mut(key) else {
                self.tcp.ready.pop_front();
                continue;
            };
            let (local, remote) = slot.tuple();
            let flow_label = slot.flow_label;
            let mss = slot.conn.0.mss();
            let Some(seg) = slot.conn.0.poll_transmit(now, scratch) else {
                slot.queued = false;
                self.tcp.ready.pop_front();
                self.after_tcp(now, key);
                continue;
            };
            let rst = seg.flags.contains(Flags::RST);
            // The link header's length once routed, and the next hop's address if known.
            let (link, mac) = match (self.config.medium, remote.ip()) {
                (Medium::Ip, _) => (Some(0), Some(ethernet::Address::BROADCAST)),
                (Medium::Ethernet, IpAddr::V4(dst)) => match self.iface.next_hop(dst) {
                    Some(hop) => (Some(ethernet::HEADER_LEN), self.neighbors.lookup(now, hop)),
                    None => (None, None),
                },
                (Medium::Ethernet, IpAddr::V6(dst)) => {
                    let v6 = self.v6.as_mut();
                    match v6.and_then(|v6| Some((v6.iface.next_hop(dst)?, &mut v6.neighbors))) {
                        Some((hop, cache)) => (Some(ethernet::HEADER_LEN), cache.lookup(now, hop)),
                        None => (None, None),
                    }
                }
            };
            let out = match link {
                None => Out::Unrouted,
                Some(link) => {
                    let head = match (remote.ip(), self.v6.as_ref()) {
                        (IpAddr::V6(_), Some(v6)) => {
                            IpHead::V6 { hop_limit: v6.config.hop_limit, flow_label }
                        }
                        _ => IpHead::V4 { ident: bump_ident(&mut self.ip_ident) },
                    };
                    // A frame that leaves now with a virtio-net header leaves its TCP
                    // checksum (and, for a large segment, its cutting) to the device.
                    let offload = (self.config.offloads.virtio_header && mac.is_some())
                        .then(|| virtio_tcp(link, local.is_ipv6(), &seg, mss));
                    let mut checksums = self.config.checksums;
                    if offload.is_some() {
                        checksums.tcp = Checksum::Rx;
                    }
                    let written = buf
                        .get_mut(link..)
                        .and_then(|b| write_tcp_ip(b, head, local, remote, &seg, &checksums));
                    if let (Some(len), Some(header)) = (written, offload) {
                        partial_checksum(buf, link, len, local, remote);
                        self.tx_virtio = Some(header);
                    }
                    match (written, mac) {
                        (Some(len), Some(mac)) => Out::Frame { link, len, mac },
                        (Some(len), None) => Out::Pending { link, len },
                        (None, _) => Out::Dropped,
                    }
                }
            };
            // Round robin: the connection goes to the back, still marked.
            self.tcp.ready.pop_front();
            self.tcp.ready.push_back(key);
            self.counters.tcp_out_segs += 1;
            if rst {
                self.counters.tcp_out_rsts += 1;
            }
            self.after_tcp(now, key);
            match out {
                Out::Frame { link, len, mac } => {
                    let ethertype = match remote {
                        SocketAddr::V4(_) => {
                            self.counters.ip_out_requests += 1;
                            ethernet::EtherType::Ipv4
                        }
                        SocketAddr::V6(_) => {
                            self.counters.ip6_out_requests += 1;
                            ethernet::EtherType::Ipv6
                        }
                    };
                    if self.link_header(buf, mac, ethertype, len) == Some(link) {
                        return Some(link + len);
                    }
                    self.count_out_discard(remote.ip());
                }
                Out::Pending { link, len } => {
                    // Counted as an output request by `send_ip`.
                    if let Some(packet) = buf.get(link..link + len) {
                        let owner = Some(SocketHandle::Tcp(TcpHandle(key)));
                        let packet = packet.to_vec();
                        let _ = match remote.ip() {
                            IpAddr::V4(dst) => self.send_ip(now, dst, packet, owner),
                            IpAddr::V6(dst) => self.send_ip6(now, dst, packet, owner),
                        };
                    }
                }
                Out::Dropped => self.count_out_discard(remote.ip()),
                Out::Unrouted => match remote {
                    SocketAddr::V4(_) => {
                        self.counters.ip_out_requests += 1;
                        self.counters.ip_out_no_routes += 1;
                    }
                    SocketAddr::V6(_) => {
                        self.counters.ip6_out_requests += 1;
                        self.counters.ip6_out_no_routes += 1;
                    }
                },
            }
        }
        None
    }

    /// Counts an output request to `dst` that was discarded, in its family's counters.
    fn count_out_discard(&mut self, dst: IpAddr) {
        if dst.is_ipv4() {
            self.counters.ip_out_requests += 1;
            self.counters.ip_out_discards += 1;
        } else {
            self.counters.ip6_out_requests += 1;
            self.counters.ip6_out_discards += 1;
        }
    }

    /// The SYN queue is full: answer with a SYN cookie and keep nothing (RFC 4987 §3.6).
    fn send_cookie(
        &mut self,
        now: Instant,
        l: Key,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) {
        let syn_ack = self.tcp.cookies.syn_ack(now, local, remote, seg, &self.config.tcp);
        if let Some(listener) = self.tcp.listeners.get_mut(l) {
            listener.last_cookie = Some(now);
        }
        // Counted when made, as Linux does, whether or not the next hop is known yet.
        self.counters.tcp_syn_cookies_sent += 1;
        let _ = self.send_segment(now, local, remote, &syn_ack);
    }

    /// An ACK to a listener that has sent cookies lately: if it returns a valid cookie, the
    /// connection is rebuilt and goes to the accept queue. `false` when it is not a
    /// cookie (the caller answers with RST).
    fn cookie_ack(
        &mut self,
        now: Instant,
        l: Key,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &Repr<'_>,
    ) -> bool {
        let Some(listener) = self.tcp.listeners.get(l) else { return false };
        // A cookie lives two periods of 64 s at most.
        let recent = listener.last_cookie.is_some_and(|t| now < t + Duration::from_secs(128));
        if !recent {
            return false;
        }
        let Some(syn) = self.tcp.cookies.check(now, local, remote, seg, &self.config.tcp) else {
            self.counters.tcp_syn_cookies_failed += 1;
            return false;
        };
        self.counters.tcp_syn_cookies_recv += 1;
        if listener.accept_full() {
            // Like Linux: drop it; the peer's retransmission may find room.
            self.counters.tcp_listen_overflows += 1;
            return true;
        }
        let mapped = sees_mapped(listener, local);
        if !self.memory_allows(SLOT_COST) {
            self.counters.mem_refused += 1;
            return true;
        }
        let isn = SeqNumber(seg.ack_number.map_or(0, |a| a.0.wrapping_sub(1)));
        let syn = syn.syn(local, remote);
        let config = Arc::clone(&self.tcp.config);
        let conn = Connection::accept_cookie(now, local, remote, &syn, isn, config);
        let key = self.open_passive(conn, Some(l), mapped);
        if let Some(slot) = self.tcp.conns.get_mut(key) {
            slot.conn.0.handle_segment(now, remote, seg);
        }
        self.after_tcp(now, key);
        self.wake_conn(key);
        true
    }

    /// ARP for a connection's next hop failed: an opening connection fails with host
    /// unreachable; an open one carries on and retransmits (RFC 1122 §4.2.3.9).
    pub(crate) fn tcp_unreachable(&mut self, now: Instant, key: Key) {
        let Some(slot) = self.tcp.conns.get_mut(key) else { return };
        slot.error = Some(Error::HostUnreachable);
        if matches!(slot.conn.0.state(), State::SynSent) {
            slot.abort_kind = Some(EventKind::TimedOut);
            slot.conn.0.abort();
            self.tcp.mark_ready(key);
            self.after_tcp(now, key);
        }
    }

    /// An ICMP or ICMPv6 error about a segment of ours (RFC 1122 §4.2.3.9, RFC 5927): a
    /// smaller path MTU lowers the connection's MSS (RFC 1191, RFC 8201); a hard error
    /// aborts a connection in SYN-SENT; everything else is a soft error kept for
    /// `tcp_take_error`. An error whose quoted sequence number is not in flight (SND.UNA <=
    /// SEQ < SND.NXT) is ignored: an off-path attacker would have to guess it (RFC 5927
    /// §4.1).
    pub(super) fn tcp_icmp_error(
        &mut self,
        now: Instant,
        tuple: Tuple,
        seq: Option<SeqNumber>,
        trouble: Trouble,
    ) {
        let Some(key) = self.tcp.find(&tuple) else { return };
        let own_mtu = if tuple.0.is_ipv6() { self.mtu6() } else { self.config.mtu };
        let Some(slot) = self.tcp.conns.get_mut(key) else { return };
        let (una, nxt) = (slot.conn.0.snd_una(), slot.conn.0.snd_nxt());
        if !seq.is_some_and(|seq| una <= seq && seq < nxt) {
            self.counters.tcp_out_of_window_icmps += 1;
            return;
        }
        let error = match trouble {
            Trouble::PathMtu(mtu) => {
                // Never above our own MTU.
                slot.conn.0.set_path_mtu(mtu.min(own_mtu));
                self.tcp.mark_ready(key);
                return;
            }
            Trouble::Error(error) => error,
        };
        if slot.conn.0.state() == State::SynSent && error == Error::ConnectionRefused {
            slot.error = Some(error);
            slot.abort_kind = Some(EventKind::Refused);
            slot.conn.0.abort();
            self.tcp.mark_ready(key);
            self.after_tcp(now, key);
            self.wake_conn(key);
        } else {
            slot.error = Some(error);
        }
    }
}

/// Whether a connection `listener` took for `local` is seen from IPv4-mapped addresses:
/// an IPv4 one of a dual-stack `[::]` listener. An intercepting listener (port 0, on no
/// address of its own) hands out its connections' real addresses.
fn sees_mapped(listener: &Listener<Key>, local: SocketAddr) -> bool {
    listener.local.is_ipv6() && local.is_ipv4() && listener.local.port() != 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_connection_slot_holds_little_beside_its_connection() {
        // Each idle connection costs its slot: what the stack keeps beside the
        // connection itself (its listener, deadline, flags, flow label, the
        // retransmissions counted and the memory charged for it) stays within 40 bytes.
        let beside = size_of::<super::TcpSlot>() - size_of::<super::TcpSocket>();
        assert!(beside <= 40, "{beside} bytes beside the connection");
        assert_eq!(size_of::<Option<super::Key>>(), size_of::<super::Key>());
    }
}
