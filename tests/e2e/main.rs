//! warden's end-to-end tests: one integration test binary.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod agent_budget;
mod agent_concurrency;
mod agent_guardrails;
mod agent_loop;
mod agent_setup;
mod agent_stream;
mod agent_support;
mod agent_team_file;
mod agent_tool_args;
mod demo;
mod durable;
mod guest_tools;
mod js_tools;
mod llm_faults;
mod llm_hostile;
mod llm_limits;
mod llm_mock;
mod llm_proxy;
mod llm_request;
mod llm_roundtrip;
mod llm_secrets;
mod llm_wire;
mod mcp_bad_input;
mod mcp_server;
mod mcp_support;
mod multi_handoff;
mod multi_nested;
mod multi_session;
mod multi_support;
mod oci_registry;
mod pack_egress;
mod pack_install;
mod pack_oci;
mod python_tools;
mod sandbox_cache;
mod sandbox_concurrency;
mod sandbox_hostile;
mod sandbox_http_limits;
mod sandbox_load;
mod sandbox_output;
mod sandbox_policy;
mod sandbox_resources;
mod wit_compat;
mod wit_type_docs;
mod wit_typed;

/// This binary serves as its own compiler child (warden compiles components in a child
/// process it can kill at the compile limits), before libtest's `main` runs.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SERVE_COMPILER_CHILD: extern "C" fn() = {
    extern "C" fn serve() {
        warden_sandbox::run_compiler_child_if_requested();
    }
    serve
};
