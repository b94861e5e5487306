//! The stack-wide memory budget (DESIGN.md, "Buffers and memory").
//!
//! Everything a peer can make the stack hold is charged to one budget,
//! [`Config::memory_limit`](super::Config::memory_limit): each connection (its slot, and the
//! storage its send and receive buffers and out-of-order ranges hold at the moment), the
//! datagrams queued on UDP sockets, the fragments under reassembly, and the datagrams
//! waiting for a neighbour to resolve. Each of those is bounded on its own too (a buffer by
//! the TCP configuration, a UDP queue by `udp_recv_queue`, reassembly by
//! `reassembly_memory`, a neighbour's queue by `arp_pending_limit`); the budget bounds their
//! sum, which per-object bounds cannot: ten thousand connections of 4 MiB buffers each
//! would be 80 GB.
//!
//! What the stack holds moves the budget between three levels, with hysteresis so that
//! hovering at a threshold does not flap:
//!
//! | level | from | back when below | what the stack does |
//! |---|---|---|---|
//! | normal | — | — | buffers grow as far as their configuration lets them |
//! | pressure | ¾ of the limit | ½ | no buffer grows beyond the storage it holds, or one page for one that holds none: windows stay where they are and new or idle connections still move data, in small windows |
//! | exhausted | the limit | ⅞ | nothing new: no buffer grows at all, SYNs and cookie ACKs are dropped (the peer retries), so are UDP datagrams and fragments |
//!
//! Each entry into pressure and into exhaustion, each connection refused and each datagram
//! dropped is counted (`mem_*` in [`Counters`](super::Counters)). The limit is checked
//! after each call that can charge memory, so what the stack holds may pass it by what one
//! call added: at most one buffer's growth step, or the bytes one application write put in
//! a send buffer that was below its limit.

use super::Stack;

/// How close the stack is to its memory limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MemoryLevel {
    /// Below ¾ of the limit (or, coming down, ½): buffers grow as configured.
    #[default]
    Normal,
    /// From ¾ of the limit: no buffer grows beyond what it holds (or one page).
    Pressure,
    /// At the limit: nothing new is taken.
    Exhausted,
}

impl MemoryLevel {
    /// How far each connection buffer may grow at this level
    /// ([`Connection::set_buffer_limit`](crate::tcp::Connection::set_buffer_limit)).
    pub(crate) const fn buffer_limit(self) -> usize {
        match self {
            Self::Normal => usize::MAX,
            Self::Pressure => PAGE,
            Self::Exhausted => 0,
        }
    }
}

/// What a buffer with no storage may still take under pressure: one page, the ring's
/// first allocation.
const PAGE: usize = 4096;

/// What the stack holds, charged to its memory budget ([`Stack::memory`](super::Stack::memory)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUse {
    /// The budget: [`Config::memory_limit`](super::Config::memory_limit).
    pub limit: usize,
    /// Everything below together.
    pub used: usize,
    /// Connections: their slots and the storage of their buffers.
    pub tcp: usize,
    /// Datagrams queued on UDP sockets.
    pub udp: usize,
    /// Fragments under reassembly.
    pub reassembly: usize,
    /// Datagrams waiting for a neighbour to resolve (ARP and NDP).
    pub neighbors: usize,
    /// The level `used` put the budget at.
    pub level: MemoryLevel,
}

/// The budget's level, moved by what the stack holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit: usize,
    level: MemoryLevel,
}

impl Budget {
    pub(crate) const fn new(limit: usize) -> Self {
        Self { limit, level: MemoryLevel::Normal }
    }

    pub(crate) const fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) const fn level(&self) -> MemoryLevel {
        self.level
    }

    /// Whether `more` bytes may be taken on top of `used` for something a peer sent.
    pub(crate) const fn allows(&self, used: usize, more: usize) -> bool {
        !matches!(self.level, MemoryLevel::Exhausted) && used.saturating_add(more) <= self.limit
    }

    /// Moves the level for `used` bytes held; the new level when it changed.
    pub(crate) fn update(&mut self, used: usize) -> Option<MemoryLevel> {
        use MemoryLevel::*;
        let at = |num: usize, den: usize| used >= self.limit / den * num;
        let level = match self.level {
            _ if used >= self.limit => Exhausted,
            Exhausted if at(7, 8) => Exhausted,
            Normal if !at(3, 4) => Normal,
            Pressure | Exhausted if !at(1, 2) => Normal,
            _ => Pressure,
        };
        if level == self.level {
            return None;
        }
        self.level = level;
        Some(level)
    }
}

impl Stack {
    /// What the stack holds now, charged to its memory budget.
    pub fn memory(&self) -> MemoryUse {
        let neighbors = self.neighbors.pending_bytes()
            + self.v6.as_ref().map_or(0, |v6| v6.neighbors.pending_bytes());
        let (tcp, udp, reassembly) = (self.tcp.memory(), self.udp.memory(), self.reasm.memory());
        MemoryUse {
            limit: self.budget.limit(),
            used: tcp + udp + reassembly + neighbors,
            tcp,
            udp,
            reassembly,
            neighbors,
            level: self.budget.level(),
        }
    }

    /// Whether `more` bytes may be taken for something a peer sent: a datagram, a fragment,
    /// a connection. Never while the budget is exhausted.
    pub(crate) fn memory_allows(&self, more: usize) -> bool {
        self.budget.allows(self.memory().used, more)
    }

    /// After anything charged or released memory: moves the budget's level, counts the
    /// change, and gives every connection the buffer limit of the new level.
    pub(crate) fn memory_changed(&mut self) {
        let Some(level) = self.budget.update(self.memory().used) else { return };
        match level {
            MemoryLevel::Pressure => self.counters.mem_pressure += 1,
            MemoryLevel::Exhausted => self.counters.mem_exhausted += 1,
            MemoryLevel::Normal => {}
        }
        self.tcp.set_buffer_limits(level.buffer_limit());
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryLevel::*;
    use super::*;

    #[test]
    fn levels_rise_at_three_quarters_and_the_limit_and_fall_with_hysteresis() {
        let mut b = Budget::new(800);
        assert_eq!(b.update(599), None);
        assert_eq!(b.update(600), Some(Pressure));
        assert_eq!(b.update(500), None, "pressure holds down to a half");
        assert_eq!(b.update(800), Some(Exhausted));
        assert!(!b.allows(0, 1), "nothing new while exhausted");
        assert_eq!(b.update(700), None, "exhaustion holds down to seven eighths");
        assert_eq!(b.update(699), Some(Pressure));
        assert!(b.allows(699, 101) && !b.allows(699, 102));
        assert_eq!(b.update(399), Some(Normal));
        // From normal straight to exhausted, and down to normal in one step.
        assert_eq!(b.update(900), Some(Exhausted));
        assert_eq!(b.update(10), Some(Normal));
    }

    #[test]
    fn each_level_limits_buffer_growth_its_way() {
        assert_eq!(Normal.buffer_limit(), usize::MAX);
        assert_eq!(Pressure.buffer_limit(), PAGE);
        assert_eq!(Exhausted.buffer_limit(), 0);
    }
}
