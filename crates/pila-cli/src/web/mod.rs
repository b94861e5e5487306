//! HTTP over pila, through hyper on `pila::tokio` streams: the static site `pila serve
//! --http` answers with, its server loop, and the client of `pila get` and the demo.

pub(crate) mod client;
pub(crate) mod server;
pub(crate) mod site;
