#!/usr/bin/env python3
"""`warden run` end to end, CPU and wall per model call (BENCHMARKS.md, "The CLI's run on a
worker").

Starts MOCK (a release `mock-llm`) with one thread and scripts/bench/calc-loop.json, so every
request is answered with a `calc` call and the agent's turn limit ends the run. Each round runs
each given `warden` binary twice, with SHORT and with LONG turns, builds alternating; a model
call costs (cost(LONG) - cost(SHORT)) / (LONG - SHORT), which leaves out the process's start-up.
CPU is the user + system time of the `warden` process. Prints medians per binary.

Usage: scripts/bench/cli-run.py MOCK ROUNDS SHORT LONG WARDEN... [-- extra `warden run` args]
e.g.   scripts/bench/cli-run.py target/release/mock-llm 15 5 25 old/warden new/warden -- --no-record
State (run store, component cache) goes to a temporary folder.
"""
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    if len(args) < 5:
        sys.exit(__doc__)
    mock_bin, rounds, short, long_ = args[0], int(args[1]), int(args[2]), int(args[3])
    wardens = args[4:]
    script = os.path.join(ROOT, "scripts", "bench", "calc-loop.json")
    mock = subprocess.Popen(
        [mock_bin, "--threads", "1", "--script", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        found = re.search(r"listening on (http://\S+)", mock.stdout.readline())
        if not found:
            sys.exit("the mock did not start")
        base = found.group(1).rstrip("/").removesuffix("/v1") + "/v1"
        tmp = tempfile.mkdtemp(prefix="warden-cli-run-")
        agents = {turns: write_agent(tmp, base, turns) for turns in (short, long_)}
        env = dict(
            os.environ,
            HOME=tmp,
            WARDEN_DATA_DIR=os.path.join(tmp, "data"),
            WARDEN_STATE_DIR=os.path.join(tmp, "state"),
            WARDEN_CACHE_DIR=os.path.join(tmp, "cache"),
        )

        def once(warden, turns):
            r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            done = subprocess.run(
                [warden, "run", *extra, agents[turns], "go"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            # 3: the turn limit ended the run, as it must here.
            if done.returncode != 3:
                sys.exit(f"{warden}: exit {done.returncode}, expected 3:\n{done.stderr[-2000:]}")
            return cpu, wall

        for warden in wardens:  # compiles the component into the cache once
            once(warden, short)
        per_call = {w: ([], []) for w in wardens}
        calls = long_ - short
        for _ in range(rounds):
            for warden in wardens:
                (cs, ws), (cl, wl) = once(warden, short), once(warden, long_)
                per_call[warden][0].append((cl - cs) / calls * 1e3)
                per_call[warden][1].append((wl - ws) / calls * 1e3)
        for warden, (cpu, wall) in per_call.items():
            print(
                f"{warden}: per model call, CPU {statistics.median(cpu):.3f} ms "
                f"(min {min(cpu):.3f}, max {max(cpu):.3f}), wall {statistics.median(wall):.3f} ms "
                f"(min {min(wall):.3f}, max {max(wall):.3f}); {len(cpu)} rounds"
            )
    finally:
        mock.terminate()


def write_agent(tmp, base, turns):
    path = os.path.join(tmp, f"agent-{turns}.toml")
    with open(path, "w") as f:
        f.write(
            f"""name = "bench"
instructions = "Use calc."

[model]
provider = "openai-compatible"
name = "gpt-4o-mini"
base_url = "{base}"
max_tokens = 100

[[tools]]
component = "builtin:calc"
policy = {{ defaults = {{ fuel = 100000000, timeout = "2s", max_memory = "16MiB" }} }}

[budget]
max_turns = {turns}
max_tool_calls = {turns + 5}
"""
        )
    return path


if __name__ == "__main__":
    main()
