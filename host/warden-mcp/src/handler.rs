//! The MCP request handler: `tools/list` and `tools/call` on [`McpServer`]. rmcp answers
//! `initialize`, `server/discover`, `ping` and unknown methods (`-32601`) itself.
//!
//! Invariant: a call runs under the policy fixed for its tool at start; the client's
//! cancellation (a `notifications/cancelled`, or an HTTP client going away) drops the call,
//! which stops the guest and frees its instance slot.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::McpServer;
use super::result::call_result;

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("warden", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "warden's tools run in WebAssembly sandboxes under the operator's policy \
                 (fuel, deadline, memory, output caps, granted files and hosts only).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(&index) = self.inner.by_name.get(request.name.as_ref()) else {
            // A tool error the model can act on, not an opaque protocol error.
            let names: Vec<&str> = self
                .inner
                .tools
                .iter()
                .map(|t| t.listed.name.as_ref())
                .collect();
            let text = format!(
                "there is no tool named `{}`; use one of: {}",
                request.name,
                names.join(", ")
            );
            return Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into());
        };
        let served = &self.inner.tools[index];
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        let call = self
            .inner
            .executor
            .call(&served.set, &request.name, &args, &served.policy);
        tokio::select! {
            outcome = call => Ok(call_result(&outcome, served.wrap_output).into()),
            () = context.ct.cancelled() => {
                tracing::debug!(tool = %request.name, "the client cancelled the call; stopped");
                Err(ErrorData::internal_error("the call was cancelled", None))
            }
        }
    }
}
