//! Two Sans-IO `pila::stack::Stack`s in one thread, joined in memory. Also used by
//! `pila-bench-idle`.

use super::measure::STALL;
use pila::stack::{Config, Ipv4Cidr, Ipv6Cidr, Ipv6Config, ListenerHandle, Stack, TcpHandle};
use pila::time::Instant;
use pila::wire::ethernet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Two Sans-IO stacks in one thread: frames go from one `poll_transmit` straight into the
/// other's `receive`, on the real clock, with no wire and no delay between them.
pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    frame: Vec<u8>,
    epoch: std::time::Instant,
}

impl Pair {
    /// 192.0.2.1 (A) and .2 (B), and with `v6` 2001:db8::1 and ::2 as well, usable at once.
    pub(crate) fn new(mtu: usize, v6: bool) -> Result<Self, String> {
        // Host `n`: MAC 02:00:00:00:00:0(9+n), 192.0.2.n, 2001:db8::n, seed n.
        let host = |n: u8| {
            let addresses = Ipv4Cidr::new(Ipv4Addr::new(192, 0, 2, n), 24).into_iter().collect();
            let host6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n.into());
            let ipv6 = v6.then(|| Ipv6Config {
                addresses: Ipv6Cidr::new(host6, 64).into_iter().collect(),
                dad_transmits: 0,
                router_solicitations: 0,
                ..Ipv6Config::default()
            });
            let config = Config {
                ipv6,
                mac: ethernet::Address([2, 0, 0, 0, 0, 9 + n]),
                addresses,
                mtu,
                seed: Some(n.into()),
                ephemeral_ports: (1024, 65535),
                ..Config::default()
            };
            Stack::new(config).map_err(|e| format!("cannot build a stack: {e}"))
        };
        Ok(Self {
            a: host(1)?,
            b: host(2)?,
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
