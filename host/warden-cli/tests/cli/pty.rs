//! The real binary in a pseudo-terminal, as a person runs it: `warden demo`, `warden run`
//! against a model slower than the spinner's tick (streamed and not), and `warden chat` with
//! typed messages, Ctrl-C during a turn and Ctrl-D to leave. Each runs three ways: a colour
//! terminal, `NO_COLOR`, and `TERM=dumb`. Each asserts the process ends (a hang fails the
//! test at its deadline, with the screen) and what the screen shows, read through a VT100
//! emulator so cleared spinner lines are really gone.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_llm::{Fault, Turn};
use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

use crate::support::{Fixture, KEY_VAR, calc_tool, multiply_script};

/// Longest any one step may take before the test calls it a hang (debug builds, busy CI).
const DEADLINE: Duration = Duration::from_secs(90);

/// The terminal's size: tall enough that the demo's whole output stays on screen.
const ROWS: NonZeroU16 = NonZeroU16::new(200).unwrap();
const COLS: NonZeroU16 = NonZeroU16::new(160).unwrap();

/// How the terminal is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Colour,
    NoColor,
    Dumb,
}

const MODES: [Mode; 3] = [Mode::Colour, Mode::NoColor, Mode::Dumb];

/// `warden` running in a pseudo-terminal, its output fed to a screen emulator.
pub(crate) struct Pty {
    child: Box<dyn Child + Send + Sync>,
    input: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    mode: Mode,
}

impl Pty {
    pub(crate) fn spawn(fx: &Fixture, mode: Mode, args: &[&str]) -> Pty {
        Self::spawn_env(fx, mode, args, &[])
    }

    /// [`Pty::spawn`] with `env` set on top of the clean environment.
    pub(crate) fn spawn_env(
        fx: &Fixture,
        mode: Mode,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS.get(),
                cols: COLS.get(),
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_warden"));
        cmd.args(args);
        cmd.cwd(fx.dir.path());
        cmd.env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("WARDEN_CACHE_DIR", fx.dir.path().join("cache"));
        cmd.env("WARDEN_STATE_DIR", fx.dir.path().join("state"));
        cmd.env("WARDEN_DATA_DIR", fx.dir.path().join("data"));
        cmd.env(KEY_VAR, "test-key");
        match mode {
            Mode::Colour => cmd.env("TERM", "xterm-256color"),
            Mode::NoColor => {
                cmd.env("TERM", "xterm-256color");
                cmd.env("NO_COLOR", "1");
            }
            Mode::Dumb => cmd.env("TERM", "dumb"),
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let input = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (screen_w, raw_w) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            // Keeps the master open for as long as the child may write.
            let _master = pair.master;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen_w.lock().unwrap().process(&buf[..n]);
                raw_w.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            input,
            screen,
            raw,
            mode,
        }
    }

    /// What the screen shows now.
    pub(crate) fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Everything the process wrote, escape codes included.
    pub(crate) fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// Waits until `done` holds for the screen, failing at the deadline with the screen.
    pub(crate) fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{:?}: waited {DEADLINE:?} for {what}; the screen shows:\n{screen}\nraw: {:?}",
                self.mode,
                self.raw()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `keys` as a person would.
    pub(crate) fn send(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the process to end; its exit code.
    pub(crate) fn exit_code(&mut self) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader take the last output.
                std::thread::sleep(Duration::from_millis(100));
                return status.exit_code();
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "{:?}: warden did not finish in {DEADLINE:?}; the screen shows:\n{}",
                    self.mode,
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts colour codes appear exactly in colour mode, and no escape code at all on a
    /// dumb terminal.
    fn check_escapes(&self) {
        let raw = self.raw();
        let colour = ["\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[2m"]
            .iter()
            .any(|code| raw.contains(code));
        assert_eq!(
            colour,
            self.mode == Mode::Colour,
            "{:?}: {raw:?}",
            self.mode
        );
        if self.mode == Mode::Dumb {
            assert!(!raw.contains('\x1b'), "dumb terminal: {raw:?}");
        }
    }
}

/// `warden run` with a model that takes 600 ms per response (the spinner ticks every 100).
fn run_slowly(mode: Mode, flags: &[&str], fx: &Fixture, agent: &Path) {
    fx.mock
        .push_faults(["latency:600", "latency:600"].map(|f| f.parse::<Fault>().unwrap()));
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend([agent.to_str().unwrap(), "What is 6*7?"]);
    let mut pty = Pty::spawn(fx, mode, &args);
    assert_eq!(
        pty.exit_code(),
        0,
        "{:?} {flags:?}:\n{}",
        mode,
        pty.screen()
    );
    let screen = pty.screen();
    assert!(screen.contains("The answer is 42."), "{mode:?}:\n{screen}");
    assert!(screen.contains("→ calc"), "{mode:?}:\n{screen}");
    assert!(
        screen.contains("answered · 2 model calls"),
        "{mode:?}:\n{screen}"
    );
    assert!(
        !screen.contains("waiting for the model"),
        "the spinner is cleared: {mode:?}:\n{screen}"
    );
    let spun = pty.raw().contains("waiting for the model");
    assert_eq!(
        spun,
        mode != Mode::Dumb,
        "spinner shown only where it can draw"
    );
    pty.check_escapes();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_finishes_in_a_terminal_with_a_slow_model_streamed_and_not() {
    for mode in MODES {
        for flags in [&[][..], &["--no-stream"]] {
            let fx = Fixture::new(multiply_script()).await;
            let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
            let fx = &fx;
            tokio::task::block_in_place(|| run_slowly(mode, flags, fx, &agent));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_finishes_in_a_terminal() {
    for mode in MODES {
        let fx = Fixture::new(vec![]).await;
        tokio::task::block_in_place(|| {
            let mut pty = Pty::spawn(&fx, mode, &["demo"]);
            assert_eq!(pty.exit_code(), 0, "{mode:?}:\n{}", pty.screen());
            let screen = pty.screen();
            assert!(screen.contains("What the sandbox enforced"), "{screen}");
            assert!(screen.contains("forced final answer"), "{screen}");
            pty.check_escapes();
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_takes_typed_messages_ctrl_c_cancels_a_turn_and_ctrl_d_leaves() {
    for mode in MODES {
        let turns = vec![
            Turn::text("first answer"),
            Turn::text("second answer"),
            Turn::text("third answer"),
        ];
        let fx = Fixture::new(turns).await;
        // The third request is the one interrupted: it would take a minute.
        fx.mock.push_faults(
            ["latency:600", "latency:600", "latency:60000"].map(|f| f.parse::<Fault>().unwrap()),
        );
        let agent = fx.agent(&fx.openai());
        let fx = &fx;
        tokio::task::block_in_place(|| {
            let mut pty = Pty::spawn(fx, mode, &["chat", agent.to_str().unwrap()]);
            pty.wait_for("the prompt", |s| s.contains("you> "));
            pty.send("hello\r");
            pty.wait_for("the first answer", |s| {
                s.contains("first answer") && s.matches("you> ").count() == 2
            });
            pty.send("and again\r");
            pty.wait_for("the second answer", |s| {
                s.contains("second answer") && s.matches("you> ").count() == 3
            });
            pty.send("take your time\r");
            let start = Instant::now();
            while fx.mock.stats().requests < 3 {
                assert!(start.elapsed() < DEADLINE, "the third message was not sent");
                std::thread::sleep(Duration::from_millis(20));
            }
            pty.send("\x03");
            pty.wait_for("the turn to be cancelled", |s| {
                s.contains("turn cancelled; the session goes on") && s.matches("you>").count() == 4
            });
            pty.send("still there?\r");
            pty.wait_for("an answer after the cancel", |s| {
                s.contains("third answer") && s.matches("you> ").count() == 5
            });
            pty.send("\x04");
            assert_eq!(pty.exit_code(), 0, "{mode:?}:\n{}", pty.screen());
            let screen = pty.screen();
            assert!(screen.contains("\ncancelled · "), "{screen}");
            pty.check_escapes();
        });
        assert_eq!(fx.mock.stats().requests, 4);
        assert_eq!(fx.mock.stats().validation_errors, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_run_in_a_terminal_with_its_summary_and_code_130() {
    for mode in MODES {
        let fx = Fixture::new(multiply_script()).await;
        // The first answer would take a minute.
        fx.mock
            .push_faults(["latency:60000".parse::<Fault>().unwrap()]);
        let agent = fx.agent(&format!("{}{}", fx.openai(), calc_tool()));
        let fx = &fx;
        tokio::task::block_in_place(|| {
            let mut pty = Pty::spawn(fx, mode, &["run", agent.to_str().unwrap(), "6*7?"]);
            let start = Instant::now();
            while fx.mock.stats().requests < 1 {
                assert!(start.elapsed() < DEADLINE, "no model call was made");
                std::thread::sleep(Duration::from_millis(20));
            }
            pty.send("\x03");
            assert_eq!(pty.exit_code(), 130, "{mode:?}:\n{}", pty.screen());
            let screen = pty.screen();
            assert!(screen.contains("interrupted: stopping the run"), "{screen}");
            assert!(
                screen
                    .lines()
                    .any(|l| l.starts_with("cancelled · 0 model calls")),
                "{screen}"
            );
            pty.check_escapes();
        });
    }
}
