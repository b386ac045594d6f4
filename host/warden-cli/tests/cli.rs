//! The real `warden` binary end to end: `warden run` and `warden chat` spawned as processes
//! against the in-repo mock LLM server (started in this test process on a loopback port,
//! answering from a script) with the real guest components. Each test writes its agent file
//! into a temporary folder and checks the exit code, what went to stdout and stderr, and
//! what the mock received. Bad agent files must fail before the first model call: the mock's
//! request count stays 0.
//!
//! One test binary (the binary is only built for this package's own integration tests):
//! `run` (answers, events, exit codes, Ctrl-C, paths), `setup` (bad agent files), `chat`,
//! `pty` (the binary in a pseudo-terminal, as a person uses it), `sandbox` (the executor
//! under the process's own limits) and `cache` (warden's own state).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "cli/agents.rs"]
mod agents;
#[path = "cli/approval.rs"]
mod approval;
#[path = "cli/approval_policy.rs"]
mod approval_policy;
#[path = "cli/author.rs"]
mod author;
#[path = "cli/cache.rs"]
mod cache;
#[path = "cli/chat.rs"]
mod chat;
#[path = "cli/durable.rs"]
mod durable;
#[path = "cli/exactly_once.rs"]
mod exactly_once;
#[path = "cli/handoff.rs"]
mod handoff;
#[path = "cli/mcp.rs"]
mod mcp;
#[path = "cli/mcp_pack.rs"]
mod mcp_pack;
#[path = "cli/nested_json.rs"]
mod nested_json;
#[path = "cli/oci.rs"]
mod oci;
#[path = "cli/oci_creds.rs"]
mod oci_creds;
#[path = "../../../tests/e2e/oci_registry.rs"]
mod oci_registry;
#[path = "cli/output.rs"]
mod output;
#[path = "cli/pack.rs"]
mod pack;
#[path = "cli/pack_build_env.rs"]
mod pack_build_env;
#[path = "cli/pack_typed.rs"]
mod pack_typed;
#[path = "cli/pty.rs"]
mod pty;
#[path = "cli/pty_approval.rs"]
mod pty_approval;
#[path = "cli/replay.rs"]
mod replay;
#[path = "cli/replay_team.rs"]
mod replay_team;
#[path = "cli/run.rs"]
mod run;
#[path = "cli/sandbox.rs"]
mod sandbox;
#[path = "cli/setup.rs"]
mod setup;
#[path = "cli/support.rs"]
mod support;
#[path = "cli/trace.rs"]
mod trace;
#[path = "cli/trace_parallel.rs"]
mod trace_parallel;
#[path = "cli/trace_store.rs"]
mod trace_store;
#[path = "cli/trace_team.rs"]
mod trace_team;
#[path = "cli/wit.rs"]
mod wit;
