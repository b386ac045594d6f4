//! warden-mcp: warden as an MCP server. Any MCP client (Claude Desktop, IDEs, agent SDKs)
//! lists and calls warden's sandboxed tools over stdio or Streamable HTTP.
//!
//! ```text
//! McpServer::new(executor, components, |tool| policy)   tools fixed, policy fixed per tool
//!   .serve_stdio() / .serve_io(r, w)                    newline-delimited JSON-RPC, lines capped
//!   http::serve(server, listener, HttpOptions, stop)    POST /mcp, bearer token, Host checks
//! ```
//!
//! Invariant: the operator decides everything. The tool set and each tool's policy are
//! fixed when the server is built; a client only picks a tool and its arguments, which the
//! executor validates and runs under that policy. Nothing a client sends (arguments,
//! `_meta`, headers) can widen a grant or a limit, and no tool can change policy. A tool
//! error is a result with `isError: true` and the model-facing message, never a JSON-RPC
//! error the client would hide.

#![deny(missing_docs)]

mod handler;
pub mod http;
mod result;

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::model::Tool;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncRead, AsyncWrite};
use warden_sandbox::{Executor, ToolPolicy, ToolSet};

/// The longest JSON-RPC message (one line) accepted over stdio; longer lines are dropped
/// with an error response and the connection stays open.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// A loaded component to serve, with the name the operator gave it (its path or
/// `builtin:…`), used in error messages.
#[derive(Debug, Clone)]
pub struct ServedComponent {
    /// How the operator named the component.
    pub label: String,
    /// Its tools.
    pub set: Arc<ToolSet>,
}

/// Building or running the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Two served components have a tool of the same name.
    #[error(
        "the tool {name:?} is offered by both {first} and {second}; serve them from separate \
         servers (tool names must be unique per server)"
    )]
    ToolNameCollision {
        /// The shared name.
        name: String,
        /// One component.
        first: String,
        /// The other.
        second: String,
    },
    /// No tools to serve.
    #[error("no tools to serve: name at least one component")]
    NoTools,
    /// The policy for a tool could not be resolved.
    #[error("the policy for tool {tool:?}: {message}")]
    Policy {
        /// The tool.
        tool: String,
        /// What is wrong.
        message: String,
    },
    /// An HTTP bind that the options do not allow.
    #[error("{0}")]
    Bind(String),
    /// The transport failed.
    #[error("the MCP transport failed: {message}")]
    Transport {
        /// What failed.
        message: String,
    },
}

/// One served tool: where it lives, the operator's policy for it, its MCP description.
pub(crate) struct Served {
    pub(crate) set: Arc<ToolSet>,
    pub(crate) policy: ToolPolicy,
    pub(crate) listed: Tool,
    /// The output is not an object: `structuredContent` wraps it as `{"result": …}`.
    pub(crate) wrap_output: bool,
}

pub(crate) struct Inner {
    pub(crate) executor: Executor,
    pub(crate) tools: Vec<Served>,
    pub(crate) by_name: HashMap<String, usize>,
}

/// warden's MCP server: a fixed set of sandboxed tools, each with the operator's policy.
/// Cheap to clone (every client session gets a clone).
#[derive(Clone)]
pub struct McpServer {
    pub(crate) inner: Arc<Inner>,
}

impl McpServer {
    /// Serves the tools of `components`, each call under `policy(tool_name)`, resolved once
    /// here. Tool names must be unique across the components.
    pub fn new<E: std::fmt::Display>(
        executor: Executor,
        components: Vec<ServedComponent>,
        mut policy: impl FnMut(&str) -> Result<ToolPolicy, E>,
    ) -> Result<Self, ServeError> {
        let mut tools = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut owner: HashMap<String, String> = HashMap::new();
        for component in &components {
            for info in component.set.tools() {
                if let Some(first) = owner.insert(info.name.clone(), component.label.clone()) {
                    return Err(ServeError::ToolNameCollision {
                        name: info.name.clone(),
                        first,
                        second: component.label.clone(),
                    });
                }
                let policy = policy(&info.name).map_err(|e| ServeError::Policy {
                    tool: info.name.clone(),
                    message: e.to_string(),
                })?;
                let (listed, wrap_output) = result::listed_tool(info);
                by_name.insert(info.name.clone(), tools.len());
                tools.push(Served {
                    set: component.set.clone(),
                    policy,
                    listed,
                    wrap_output,
                });
            }
        }
        if tools.is_empty() {
            return Err(ServeError::NoTools);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                executor,
                tools,
                by_name,
            }),
        })
    }

    /// The tools as MCP lists them.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner.tools.iter().map(|t| t.listed.clone()).collect()
    }

    /// Serves one client over this process's stdin and stdout until it disconnects.
    pub async fn serve_stdio(self) -> Result<(), ServeError> {
        let (read, write) = rmcp::transport::io::stdio_pipes();
        self.serve_io(read, write).await
    }

    /// Serves one client over a byte stream pair (newline-delimited JSON-RPC) until it
    /// closes. Lines over [`MAX_MESSAGE_BYTES`] are refused without ending the session.
    pub async fn serve_io<R, W>(self, read: R, write: W) -> Result<(), ServeError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let transport =
            AsyncRwTransport::new_server(read, write).with_max_line_length(MAX_MESSAGE_BYTES);
        let running = self
            .serve(transport)
            .await
            .map_err(|e| ServeError::Transport {
                message: e.to_string(),
            })?;
        running
            .waiting()
            .await
            .map(|_| ())
            .map_err(|e| ServeError::Transport {
                message: e.to_string(),
            })
    }
}
