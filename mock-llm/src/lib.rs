//! A mock LLM server speaking the OpenAI Chat Completions and Anthropic Messages wire
//! formats, streaming and not — the one sanctioned fake of warden's test suite.
//!
//! It validates requests as strictly as the real APIs (answering 400 with their error
//! shape), answers from a script ([`Behaviour`]), injects faults per request ([`Fault`],
//! from a queue or the `x-mock-fault` header) and counts what it served ([`StatsSnapshot`],
//! also at `GET /stats`). Invariant: the answer to a request depends only on the request,
//! the behaviour and the fault it drew, so retried requests are answered alike.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mock_llm::{Behaviour, MockConfig, MockServer, Turn};
//! let mock = MockServer::start(MockConfig {
//!     behaviour: Behaviour::Script { turns: vec![Turn::call("add", r#"{"a":1}"#), Turn::text("2")] },
//!     ..MockConfig::default()
//! })
//! .await?;
//! mock.push_faults(["status:429:retry-after-ms=10".parse().unwrap()]);
//! println!("{} {:?}", mock.openai_base_url(), mock.stats());
//! # Ok(()) }
//! ```

mod body;
mod complete;
pub mod fault;
mod gzip;
mod render;
pub mod script;
mod server;
mod stats;
mod validate;

pub use fault::{Fault, FaultParseError};
pub use script::{Behaviour, ScriptCall, ScriptUsage, Turn};
pub use server::{MockConfig, MockHandle, MockServer, RecordedRequest, router};
pub use stats::StatsSnapshot;
