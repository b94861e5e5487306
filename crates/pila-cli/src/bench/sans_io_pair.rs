//! Two Sans-IO `pila::stack::Stack`s in one thread, joined in memory. Also used by
//! `pila-bench-idle`.

use super::measure::STALL;
use pila::stack::{Config, ListenerHandle, Stack, TcpHandle};
use pila::time::Instant;
use pila::wire::ethernet;
use std::net::SocketAddr;

/// Two Sans-IO stacks in one thread: frames go from one `poll_transmit` straight into the
/// other's `receive`, on the real clock, with no wire and no delay between them.
pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    frame: Vec<u8>,
    epoch: std::time::Instant,
}

impl Pair {
    pub(crate) fn new(mtu: usize) -> Result<Self, String> {
        let host = |mac: u8, cidr: &str, seed| {
            let addresses = vec![cidr.parse().map_err(|_| format!("bad address {cidr}"))?];
            let config = Config {
                mac: ethernet::Address([2, 0, 0, 0, 0, mac]),
                addresses,
                mtu,
                seed: Some(seed),
                ephemeral_ports: (1024, 65535),
                ..Config::default()
            };
            Stack::new(config).map_err(|e| format!("cannot build a stack: {e}"))
        };
        Ok(Self {
            a: host(0x0a, "192.0.2.1/24", 1)?,
            b: host(0x0b, "192.0.2.2/24", 2)?,
            frame: vec![0; mtu + 18],
            epoch: std::time::Instant::now(),
        })
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_std(std::time::Instant::now(), self.epoch)
    }

    /// Runs the timers, hands every frame each stack has to the other, and drains both
    /// stacks' events and wake-ups; whether a frame moved.
    pub(crate) fn pump(&mut self) -> bool {
        let now = self.now();
        let mut moved = false;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        while let Some(n) = self.a.poll_transmit(now, &mut self.frame) {
            self.b.receive(now, self.frame.get(..n).unwrap_or_default());
            moved = true;
        }
        while let Some(n) = self.b.poll_transmit(now, &mut self.frame) {
            self.a.receive(now, self.frame.get(..n).unwrap_or_default());
            moved = true;
        }
        for s in [&mut self.a, &mut self.b] {
            while s.poll_event().is_some() {}
            while s.poll_wake().is_some() {}
        }
        moved
    }

    /// Sleeps until the next timer when nothing moved (at most 10 ms).
    pub(crate) fn idle(&self) {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()].into_iter().flatten().min();
        if let Some(wait) = next.map(|t| t.saturating_duration_since(self.now())) {
            std::thread::sleep(wait.to_std().min(std::time::Duration::from_millis(10)));
        }
    }

    /// Opens a connection from A to B's `listener` and pumps until B has accepted it.
    pub(crate) fn connect(
        &mut self,
        listener: ListenerHandle,
        to: SocketAddr,
    ) -> Result<(TcpHandle, TcpHandle), String> {
        let tx = self.a.tcp_connect(self.now(), to, None).map_err(|e| format!("connect: {e:?}"))?;
        let t = std::time::Instant::now();
        loop {
            self.pump();
            if let Ok(rx) = self.b.tcp_accept(listener) {
                return Ok((tx, rx));
            }
            if t.elapsed() > STALL {
                return Err("the connection was never accepted".into());
            }
        }
    }
}
