//! Trace records of traced connections ([`crate::tcp::trace`]), moved from each
//! connection to one bounded queue of the stack, with the connection's addresses, for the
//! application to take.

use core::net::SocketAddr;

use super::Stack;
use super::slab::Key;
use crate::tcp;

/// The most trace records the stack holds for the application to take.
pub const MAX_TRACE_RECORDS: usize = 1 << 16;

/// One record of a traced connection's life, with the connection's addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// The connection's local address.
    pub local: SocketAddr,
    /// Its peer's.
    pub remote: SocketAddr,
    /// What it did.
    pub record: tcp::trace::Record,
}

impl TraceRecord {
    /// The record as one line of JSON, without the newline ([`tcp::trace`] gives the
    /// schema).
    pub fn to_json(&self) -> String {
        let mut line = String::with_capacity(160);
        // Writing to a `String` cannot fail.
        let _ = self.record.write_json(self.local, self.remote, &mut line);
        line
    }
}

impl Stack {
    /// Moves connection `key`'s trace records to the stack's queue, which holds at most
    /// [`MAX_TRACE_RECORDS`]; more are counted in `tcp_trace_dropped`.
    pub(super) fn take_trace(&mut self, key: Key) {
        let Some(slot) = self.tcp.conns.get_mut(key) else { return };
        if !slot.conn.0.is_traced() {
            return;
        }
        let (local, remote) = slot.tuple();
        while let Some(record) = slot.conn.0.poll_trace() {
            if self.traces.len() < MAX_TRACE_RECORDS {
                self.traces.push_back(TraceRecord { local, remote, record });
            } else {
                self.counters.tcp_trace_dropped += 1;
            }
        }
    }

    /// The next record of a traced connection's life ([`tcp::Config::trace`],
    /// [`TcpSocket::set_trace`](super::TcpSocket::set_trace)), oldest first, with the connection's addresses.
    pub fn poll_trace(&mut self) -> Option<TraceRecord> {
        self.traces.pop_front()
    }
}
