//! TCP scenarios in the simulator (`pila::sim`): a connection between two stacks on a
//! virtual wire, every segment as real IPv4 or IPv6 + TCP bytes, under a virtual clock. Each scenario runs under
//! `sim::with_seed`, so a failure names the seed that replays it.
//!
//! Every scenario runs twice, over IPv4 (`v4::`) and over IPv6 (`v6::`): the connection
//! code is the same, only the IP layer under it differs.

mod v4 {
    const FAMILY: pila::sim::Family = pila::sim::Family::V4;
    include!("tcp_sim/scenarios.rs");
}

mod v6 {
    const FAMILY: pila::sim::Family = pila::sim::Family::V6;
    include!("tcp_sim/scenarios.rs");
}
