//! The library half of the `warden` command: the offline demo, shared by `warden demo`, the
//! bench binary and the end-to-end tests. The command line itself (clap, the terminal
//! console, chat) lives in the binary.

#![deny(missing_docs)]

pub mod demo;
