//! Context assembly per model request: the assembler builds, repairs, validates and counts
//! the tokens of every request a run sends, so its cost is paid once per model call.
//!
//! The history is a long run's: task message, then 20 turns of one tool call and its
//! result (and a longer one: 200 turns of 2 KB results), with five tool specs, for an
//! OpenAI model far from its window (the estimate, checked against the bound), the same
//! with exact tiktoken counts (a run whose requests came near the window once), and a
//! model counted by the calibrated estimate only.
//!
//! Two cases each: the run's next request (the assembler planned the request before, one
//! turn shorter, so it reads only the new turn), and the whole history read by an
//! assembler that has planned nothing yet (a run's first request, or one after its history
//! changed in the middle), both with the counter's cache as warm as in a run.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use warden_core::chat::{Message, ToolSpec};
use warden_core::context::ContextAssembler;

mod common;

const SYSTEM: &str = "You are a careful assistant. Use the tools to read files and compute; \
answer briefly and cite the files you used.";

/// The task, then `turns` turns whose results are `padding` bytes longer than a line.
fn history(turns: usize, padding: usize) -> Vec<Message> {
    let mut messages = vec![Message::user(
        "Read the reports under /data, add up the totals and tell me which month was best.",
    )];
    common::push_read_file_turns(
        &mut messages,
        turns,
        |i| format!("{{\"path\":\"/data/report-{i}.txt\"}}"),
        |i| {
            format!(
                "report {i}: month {}, total {} units, 3 returns.{}",
                i % 12 + 1,
                100 + i * 7,
                " ".repeat(padding)
            )
        },
    );
    messages
}

fn tools() -> std::sync::Arc<[ToolSpec]> {
    ["read_file", "list_dir", "calc", "search", "write_note"]
        .iter()
        .map(|name| ToolSpec {
            name: (*name).into(),
            description: format!("{name}: does what its name says, inside the sandbox"),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "A path under /data"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 1000}
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        })
        .collect()
}

fn assemble(c: &mut Criterion) {
    let tools = tools();
    let mut group = c.benchmark_group("context_assemble");
    // The exact case last: once loaded, the table is the process's. The long run (200 turns
    // of 2 KB results, ~400 KB of history: "long") is where reading only the new turn matters.
    for (name, model, exact, turns, padding) in [
        ("gpt-4o", "gpt-4o", false, 20, 0),
        ("bench-model", "bench-model", false, 20, 0),
        ("bench-model, long", "bench-model", false, 200, 2000),
        ("gpt-4o exact", "gpt-4o", true, 20, 0),
        ("gpt-4o exact, long", "gpt-4o", true, 200, 2000),
    ] {
        let history = history(turns, padding);
        let shorter = &history[..history.len() - 2];
        let warm = ContextAssembler::new(model, Some(1_000_000), 1024);
        if exact {
            warm.counter().wait_until_exact();
        }
        warm.assemble(SYSTEM, &history, &tools).unwrap();
        // A new assembler with the run's counter: its memo is empty, its cache is not.
        let fresh = || {
            ContextAssembler::new(model, Some(1_000_000), 1024).with_counter(warm.counter().clone())
        };
        group.bench_function(format!("{name}, next request"), |b| {
            b.iter_batched(
                || {
                    let assembler = fresh();
                    assembler.assemble(SYSTEM, shorter, &tools).unwrap();
                    assembler
                },
                |assembler| black_box(assembler.assemble(SYSTEM, &history, &tools).unwrap()),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}, whole history"), |b| {
            b.iter_batched(
                fresh,
                |assembler| black_box(assembler.assemble(SYSTEM, &history, &tools).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = assemble }
criterion_main!(benches);
