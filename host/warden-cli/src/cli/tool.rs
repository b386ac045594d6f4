//! `warden tool list` and `warden tool call`: inspect a component's tools and run one call
//! in the sandbox, printing the output (stdout) and the usage (stderr, or all in `--json`).
//!
//! Exit codes: 0 success, 1 the call or the load failed (the structured error is printed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use warden_sandbox::{CallOutcome, CallUsage, EngineConfig, Executor, ToolSet};

use super::flags::PolicyFlags;

/// `warden tool ...`
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// List the tools of a component with their schemas (without one: the built-in
    /// components and their tools).
    List {
        /// The component (.wasm), or `builtin:<name>` for one compiled into warden
        /// (calc, text, fs, http).
        component: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one tool call in the sandbox.
    Call(Box<CallArgs>),
    /// Write WIT doc comments into a component's `package-docs` section, so warden
    /// describes its typed functions with them.
    EmbedDocs(super::tool_wit::EmbedDocsArgs),
    /// Create a tool crate that uses the SDK: one tool function, a native test, a README,
    /// pack.toml and the size-optimised release profile. It builds as it is.
    New(super::scaffold::NewArgs),
    /// Unpack the SDK this warden carries (if needed) and print the path tool crates use.
    Sdk,
}

/// `warden tool call <component> <tool> [json]`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The component (.wasm), or `builtin:<name>` for one compiled into warden
    /// (calc, text, fs, http).
    component: PathBuf,
    /// The tool to call.
    tool: String,
    /// The arguments as a JSON object.
    #[arg(default_value = "{}")]
    args: String,
    #[command(flatten)]
    policy: PolicyFlags,
    /// Print one JSON object (output or error, plus usage) on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs a tool command on the console's streams.
pub async fn run(cmd: ToolCommand, console: super::Console) -> ExitCode {
    let mut out = console.out_writer();
    let mut err = console.err_writer();
    run_to(cmd, &mut out, &mut err).await
}

/// Runs a tool command, writing to `out` and `err`.
pub async fn run_to(
    cmd: ToolCommand,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> ExitCode {
    let json = match &cmd {
        ToolCommand::List { json, .. } => *json,
        ToolCommand::Call(args) => args.json,
        ToolCommand::EmbedDocs(_) | ToolCommand::New(_) | ToolCommand::Sdk => false,
    };
    let result = match cmd {
        ToolCommand::List {
            component: Some(component),
            json,
        } => list(&component, json, out).await,
        ToolCommand::List {
            component: None,
            json,
        } => list_builtins(json, out).await,
        ToolCommand::Call(args) => call(*args, out, err).await,
        ToolCommand::EmbedDocs(args) => super::tool_wit::embed_docs(&args, out),
        ToolCommand::New(args) => super::scaffold::new_crate(&args).and_then(|dir| {
            write!(out, "{}", super::scaffold::next_steps(&dir, args.name()))?;
            Ok(ExitCode::SUCCESS)
        }),
        ToolCommand::Sdk => super::scaffold::sdk_path().and_then(|path| {
            writeln!(out, "{}", path.display())?;
            Ok(ExitCode::SUCCESS)
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Load, policy and setup failures: structured in --json, one line otherwise.
            let kind = e
                .downcast_ref::<warden_sandbox::LoadError>()
                .map(|l| l.kind())
                .unwrap_or("error");
            if json {
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"ok": false, "error": {"kind": kind, "message": format!("{e:#}")}})
                );
            } else {
                let _ = writeln!(err, "error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn executor() -> Result<Executor> {
    Ok(Executor::new(EngineConfig {
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })?)
}

async fn load(exec: &Executor, component: &std::path::Path) -> Result<std::sync::Arc<ToolSet>> {
    Ok(warden::builtin::load(exec, component).await?)
}

/// The built-in components, each with its tools' names (loading them, so the names are the
/// components' own).
async fn list_builtins(json: bool, out: &mut (dyn Write + Send)) -> Result<ExitCode> {
    let exec = executor()?;
    let mut listed = Vec::new();
    for name in warden::builtin::names() {
        let set = warden::builtin::load_named(&exec, name).await?;
        let tools: Vec<String> = set.tools().iter().map(|t| t.name.clone()).collect();
        let component = format!("{}{name}", warden::builtin::SCHEME);
        listed.push(serde_json::json!({ "component": component, "tools": tools }));
        if !json {
            writeln!(out, "{component:<16} {}", tools.join(", "))?;
        }
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    component: &std::path::Path,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<ExitCode> {
    let exec = executor()?;
    let set = load(&exec, component).await?;
    if json && set.is_typed() {
        // A typed component's listing also says which functions are not tools, and why.
        let listed = json!({"tools": set.tools(), "skipped": set.skipped()});
        writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(set.tools())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for tool in set.tools() {
        writeln!(out, "{}\n  {}", tool.name, tool.description)?;
        let schema = serde_json::to_string_pretty(&tool.args_schema)?;
        writeln!(out, "  arguments: {}", schema.replace('\n', "\n  "))?;
        if let Some(output) = &tool.output_schema {
            let schema = serde_json::to_string_pretty(output)?;
            writeln!(out, "  output: {}", schema.replace('\n', "\n  "))?;
        }
        writeln!(out)?;
    }
    super::tool_wit::write_skipped(&set, out)?;
    Ok(ExitCode::SUCCESS)
}

async fn call(
    args: CallArgs,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<ExitCode> {
    let policy = args.policy.resolve(&args.tool)?;
    let exec = executor()?;
    let set = load(&exec, &args.component).await?;
    let outcome = exec.call(&set, &args.tool, &args.args, &policy).await;
    if args.json {
        writeln!(out, "{}", outcome_json(&outcome))?;
    } else {
        match &outcome.result {
            Ok(output) => {
                let pretty = serde_json::from_str::<Value>(output)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| output.clone());
                writeln!(out, "{pretty}")?;
            }
            Err(e) => writeln!(err, "error ({}): {}", e.kind(), e.message_for_model())?,
        }
        write_usage(&outcome.usage, err)?;
    }
    Ok(if outcome.result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `{"ok": true, "output": ..., "usage": ...}` or `{"ok": false, "error": {...}, "usage": ...}`.
fn outcome_json(outcome: &CallOutcome) -> Value {
    let usage = serde_json::to_value(&outcome.usage).unwrap_or(Value::Null);
    match &outcome.result {
        Ok(output) => {
            let output =
                serde_json::from_str(output).unwrap_or_else(|_| Value::String(output.clone()));
            json!({"ok": true, "output": output, "usage": usage})
        }
        Err(e) => {
            let mut error = serde_json::to_value(e).unwrap_or_else(|_| json!({"kind": e.kind()}));
            if let Value::Object(map) = &mut error {
                map.insert("message".into(), Value::String(e.message_for_model()));
                map.insert("transient".into(), Value::Bool(e.is_transient()));
            }
            json!({"ok": false, "error": error, "usage": usage})
        }
    }
}

fn write_usage(usage: &CallUsage, err: &mut dyn Write) -> Result<()> {
    writeln!(
        err,
        "usage: fuel {} units · {:.2} ms · peak memory {} KiB · in {} B · out {} B · http {} ({} denied, {} B sent, {} B received)",
        usage.fuel_consumed,
        usage.wall_time.as_secs_f64() * 1000.0,
        usage.peak_memory_bytes / 1024,
        usage.bytes_in,
        usage.bytes_out,
        usage.http_requests,
        usage.http_denied,
        usage.http_bytes_sent,
        usage.http_bytes_received,
    )
    .context("writing usage")?;
    for log in &usage.logs {
        writeln!(err, "log [{}] {}", log.level, log.message)?;
    }
    if usage.dropped_logs > 0 {
        writeln!(err, "({} more log messages dropped)", usage.dropped_logs)?;
    }
    for (name, text) in [("stdout", &usage.stdout), ("stderr", &usage.stderr)] {
        if !text.is_empty() {
            writeln!(err, "guest {name}:\n{}", text.trim_end())?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::run_to;

    /// Runs the CLI in-process and returns (exit code is success, stdout, stderr).
    async fn warden(args: &[&str]) -> (bool, String, String) {
        let cli =
            Cli::try_parse_from(std::iter::once("warden").chain(args.iter().copied())).unwrap();
        let Command::Tool(cmd) = cli.command else {
            panic!("not a tool command");
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_to(cmd, &mut out, &mut err).await;
        let ok = code == std::process::ExitCode::SUCCESS;
        (
            ok,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[tokio::test]
    async fn tool_list_prints_names_and_schemas() {
        let (ok, out, _) = warden(&["tool", "list", warden::testing::guests::HOSTILE]).await;
        assert!(ok);
        assert!(
            out.contains("echo\n  Returns its text argument unchanged."),
            "{out}"
        );
        let (ok, out, _) =
            warden(&["tool", "list", "--json", warden::testing::guests::HOSTILE]).await;
        assert!(ok);
        let tools: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(tools[0]["name"], "echo");
        assert_eq!(tools[0]["args_schema"]["type"], "object");
    }

    #[tokio::test]
    async fn tool_list_without_a_component_lists_the_builtins_and_their_tools() {
        let (ok, out, err) = warden(&["tool", "list"]).await;
        assert!(ok, "{err}");
        assert!(
            out.contains("builtin:calc") && out.contains("calc\n"),
            "{out}"
        );
        assert!(out.contains("text_stats, regex_search"), "{out}");
        let (ok, out, _) = warden(&["tool", "list", "--json"]).await;
        assert!(ok);
        let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(listed[3]["component"], "builtin:http");
        assert_eq!(listed[3]["tools"][0], "http_fetch");
    }

    #[tokio::test]
    async fn builtin_components_are_called_by_name() {
        let (ok, out, err) = warden(&[
            "tool",
            "call",
            "builtin:calc",
            "calc",
            r#"{"expression": "6 * 7"}"#,
        ])
        .await;
        assert!(ok, "{err}");
        assert!(out.contains("\"text\": \"42\""), "{out}");
        let (ok, _, err) = warden(&["tool", "list", "builtin:calculator"]).await;
        assert!(!ok);
        assert!(err.contains("built in: builtin:calc"), "{err}");
    }

    #[tokio::test]
    async fn tool_call_prints_output_and_usage() {
        let (ok, out, err) = warden(&[
            "tool",
            "call",
            warden::testing::guests::HOSTILE,
            "echo",
            r#"{"text":"hi"}"#,
        ])
        .await;
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "{\n  \"text\": \"hi\"\n}");
        assert!(err.contains("usage: fuel"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_call_exits_non_zero_with_a_structured_error() {
        let args = [
            "tool",
            "call",
            warden::testing::guests::HOSTILE,
            "spin",
            "{}",
            "--fuel",
            "100000",
            "--json",
        ];
        let (ok, out, _) = warden(&args).await;
        assert!(!ok);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["kind"], "out_of_fuel");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("limit 100000 units")
        );
        assert!(v["usage"]["fuel_consumed"].as_u64().unwrap() >= 100_000);

        let args = [
            "tool",
            "call",
            warden::testing::guests::HOSTILE,
            "spin",
            "{}",
            "--no-fuel",
            "--timeout",
            "200ms",
        ];
        let (ok, _, err) = warden(&args).await;
        assert!(!ok);
        assert!(
            err.contains("error (timeout): the tool did not finish within 200 ms"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn load_errors_are_structured_in_json_mode() {
        let (ok, out, _) = warden(&["tool", "list", "--json", "/no/such.wasm"]).await;
        assert!(!ok);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["error"]["kind"], "io");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/no/such.wasm")
        );
    }
}
