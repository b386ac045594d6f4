//! `warden pack build|sign|verify|archive|install|upgrade|list|info|remove`: signed tool packs.
//!
//! Install and upgrade ask on a terminal (the permissions in plain words, a real directory
//! for each logical one, then yes or no); without a terminal they need `--yes` or
//! `--grants FILE`, and an upgrade that widens permissions is refused.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use warden_pack::{
    Consent, ConsentRequest, DEFAULT_MAX_PACK_BYTES, Dirs, GrantInput, Installed, Mode, PackError,
    PackFiles, Preapproved, SIGNATURE_FILE, SecretKey, Store,
};
use warden_sandbox::{EngineConfig, Executor};

use super::Console;
use super::keys::report;

/// `warden pack ...`
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Build a tool crate for wasm32-wasip2 (release), ask its components for their tools and
    /// write the pack folder: pack.toml (the crate's, plus the components) and the .wasm files.
    Build(super::pack_build::BuildArgs),
    /// Sign a pack directory: writes pack.sig over pack.toml's canonical form.
    Sign {
        /// The pack directory.
        pack: PathBuf,
        /// The secret key file (from `warden key generate`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a pack's signature (against the trusted keys) and its component digests.
    Verify {
        /// The pack directory, .wpack file, or oci://registry/repo:tag.
        pack: PathBuf,
    },
    /// Write a pack directory as one .wpack file.
    Archive {
        /// The pack directory.
        pack: PathBuf,
        /// The file to write.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Push a signed pack to an OCI registry (oci://registry/repo:tag).
    Push {
        /// The pack directory or .wpack file.
        pack: PathBuf,
        /// Where to push it.
        reference: String,
    },
    /// Pull a pack from an OCI registry into a directory (digests checked; verify or install it
    /// next).
    Pull {
        /// oci://registry/repo:tag
        reference: String,
        /// The directory to create.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Verify, show the permissions, ask for consent, precompile and install a pack.
    Install(InstallArgs),
    /// Replace an installed pack with a newer version (fresh consent if it asks for more).
    Upgrade(InstallArgs),
    /// List installed packs.
    List,
    /// Show an installed pack: its tools, permissions and grant.
    Info {
        /// The pack's name.
        name: String,
    },
    /// Remove an installed pack and its grant.
    Remove {
        /// The pack's name.
        name: String,
    },
}

/// Flags of install and upgrade.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The pack directory, .wpack file, or oci://registry/repo:tag.
    source: PathBuf,
    /// Grant everything the pack requests without asking (it must request no directory).
    #[arg(long)]
    yes: bool,
    /// Grant everything requested, with the values in this file (dirs, env, config).
    #[arg(long, value_name = "FILE", conflicts_with = "yes")]
    grants: Option<PathBuf>,
    /// Accept a lower or equal version (upgrade only).
    #[arg(long)]
    allow_downgrade: bool,
    /// Refuse packs larger than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_PACK_BYTES)]
    max_size: u64,
}

/// Runs a pack command.
pub async fn run(cmd: PackCommand, console: Console) -> ExitCode {
    let result = run_inner(cmd, &console).await;
    report(&console, result)
}

async fn run_inner(cmd: PackCommand, console: &Console) -> Result<()> {
    let store = || Ok::<_, PackError>(Store::new(Dirs::from_env()?));
    match cmd {
        PackCommand::Build(args) => super::pack_build::run(args, console).await?,
        PackCommand::Sign { pack, key } => {
            let files = PackFiles::from_dir(&pack, DEFAULT_MAX_PACK_BYTES)?;
            files.verify_digests()?;
            let sig = SecretKey::read(&key)?.sign(&files.manifest)?;
            let path = pack.join(SIGNATURE_FILE);
            std::fs::write(&path, sig.to_text())
                .with_context(|| format!("writing {}", path.display()))?;
            console.out_text(&format!(
                "signed {} with key {}\n",
                files.manifest.id(),
                sig.key_id
            ));
        }
        PackCommand::Verify { pack } => {
            let files = read_source(&pack, DEFAULT_MAX_PACK_BYTES).await?;
            let key = files.verify(&store()?.trust())?;
            console.out_text(&format!(
                "ok: {} signed by trusted key {key}; every component matches its digest\n",
                files.manifest.id()
            ));
        }
        PackCommand::Archive { pack, out } => {
            let files = PackFiles::from_dir(&pack, DEFAULT_MAX_PACK_BYTES)?;
            files.write_archive(&out)?;
            console.out_text(&format!("wrote {}\n", out.display()));
        }
        PackCommand::Push { pack, reference } => {
            let files = PackFiles::read(&pack, DEFAULT_MAX_PACK_BYTES)?;
            let reference = warden_pack::oci::parse_reference(&reference)?;
            let url = warden_pack::oci::push(&files, &reference).await?;
            console.out_text(&format!("pushed {} to {url}\n", files.manifest.id()));
        }
        PackCommand::Pull { reference, out } => {
            let parsed = warden_pack::oci::parse_reference(&reference)?;
            let files = warden_pack::oci::pull(&parsed, DEFAULT_MAX_PACK_BYTES).await?;
            std::fs::create_dir(&out).with_context(|| format!("creating {}", out.display()))?;
            files.write_dir(&out)?;
            console.out_text(&format!(
                "pulled {} into {}\n",
                files.manifest.id(),
                out.display()
            ));
        }
        PackCommand::Install(args) => install(args, Mode::Install, console, store()?).await?,
        PackCommand::Upgrade(args) => {
            let mode = Mode::Upgrade {
                allow_downgrade: args.allow_downgrade,
            };
            install(args, mode, console, store()?).await?;
        }
        PackCommand::List => {
            for p in store()?.list()? {
                let tools: Vec<&str> = p
                    .manifest
                    .components
                    .iter()
                    .flat_map(|c| c.tools.iter().map(String::as_str))
                    .collect();
                console.out_text(&format!(
                    "{:<24} {:<10} {}\n",
                    p.manifest.pack.name,
                    p.manifest.pack.version,
                    tools.join(", ")
                ));
            }
        }
        PackCommand::Info { name } => info(&store()?.info(&name)?, console),
        PackCommand::Remove { name } => {
            let version = store()?.remove(&name)?;
            console.out_text(&format!("removed {name} {version} and its grant\n"));
        }
    }
    Ok(())
}

async fn install(args: InstallArgs, mode: Mode, console: &Console, mut store: Store) -> Result<()> {
    if args.allow_downgrade && mode == Mode::Install {
        bail!("--allow-downgrade only applies to `warden pack upgrade`");
    }
    store.max_pack_bytes = args.max_size;
    let files = read_source(&args.source, args.max_size).await?;
    let mut consent: Box<dyn Consent> = match (&args.grants, args.yes) {
        (Some(file), _) => Box::new(Preapproved(GrantInput::read(file)?)),
        (None, true) => Box::new(Preapproved(GrantInput::default())),
        (None, false) if std::io::stdin().is_terminal() => Box::new(Prompt {
            console: console.clone(),
        }),
        (None, false) => {
            bail!("stdin is not a terminal, so nobody can consent: pass --yes or --grants FILE")
        }
    };
    let executor = Executor::new(EngineConfig {
        max_concurrent_calls: 2,
        ..EngineConfig::default()
    })?;
    console.err_line(&format!(
        "verifying and compiling {} ...",
        files.manifest.id()
    ));
    let installed = store
        .install(files, mode, consent.as_mut(), &executor)
        .await?;
    console.out_text(&format!("installed {}\n", installed.manifest.id()));
    Ok(())
}

/// A pack from a directory, a `.wpack` file or `oci://…`, at most `max` bytes.
async fn read_source(source: &std::path::Path, max: u64) -> Result<PackFiles> {
    Ok(match source.to_str().filter(|s| s.starts_with("oci://")) {
        Some(reference) => {
            let reference = warden_pack::oci::parse_reference(reference)?;
            warden_pack::oci::pull(&reference, max).await?
        }
        None => PackFiles::read(source, max)?,
    })
}

fn info(p: &Installed, console: &Console) {
    let m = &p.manifest;
    let mut text = format!(
        "{} {}\n  {}\n  license {}; authors {}\n  signed by key {}\n  tools:\n",
        m.pack.name,
        m.pack.version,
        m.pack.description,
        m.pack.license,
        m.pack.authors.join(", "),
        p.grant.key_id
    );
    for c in &m.components {
        text.push_str(&format!(
            "    {} ({}): {}\n",
            c.file,
            &c.sha256[..12],
            c.tools.join(", ")
        ));
    }
    text.push_str("  may:\n");
    for line in warden_pack::describe(&m.capabilities) {
        text.push_str(&format!("    - {line}\n"));
    }
    for (name, path) in &p.grant.dirs {
        text.push_str(&format!("  directory \"{name}\" is {}\n", path.display()));
    }
    console.out_text(&text);
}

/// Consent asked on the terminal.
struct Prompt {
    console: Console,
}

impl Prompt {
    fn ask_line(&self, question: &str) -> Result<String, PackError> {
        self.console.prompt(question);
        let mut line = String::new();
        // The install runs on a runtime worker and asks from inside it: the worker's other
        // tasks (Ctrl-C, timers) move to another thread while this one waits for a person.
        let read = leaving_the_worker(|| {
            let mut stdin = std::io::stdin().lock();
            // A bounded read: an answer is one short line.
            std::io::Read::take(&mut stdin, 4096).read_line(&mut line)
        });
        read.map_err(|e| PackError::Grants(format!("reading the answer: {e}")))?;
        Ok(line.trim().to_string())
    }
}

/// Runs `f`, which blocks, on this thread after handing the worker's tasks to another one
/// (a multi-threaded runtime's worker); elsewhere it just runs `f`.
fn leaving_the_worker<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Consent for Prompt {
    fn interactive(&self) -> bool {
        true
    }

    fn ask(&mut self, req: &ConsentRequest<'_>) -> Result<Option<GrantInput>, PackError> {
        let m = req.manifest;
        let mut text = format!(
            "\n{} {} — {}\nby {} ({})\nIt may:\n",
            m.pack.name,
            m.pack.version,
            m.pack.description,
            m.pack.authors.join(", "),
            m.pack.license
        );
        for line in &req.permissions {
            text.push_str(&format!("  - {line}\n"));
        }
        if !req.widened.is_empty() {
            text.push_str("This upgrade asks for MORE than you granted before:\n");
            for line in &req.widened {
                text.push_str(&format!("  + {line}\n"));
            }
        }
        self.console.err_line(&text);
        let mut input = GrantInput::default();
        for (name, d) in &m.capabilities.dirs {
            let before = req.previous.and_then(|g| g.dirs.get(name));
            let hint = before
                .map(|p| format!(" [{}]", p.display()))
                .unwrap_or_default();
            let answer =
                self.ask_line(&format!("Directory for \"{name}\" ({:?}){hint}: ", d.mode))?;
            match (answer.is_empty(), before) {
                (true, Some(p)) => input.dirs.insert(name.clone(), p.clone()),
                (true, None) => return Ok(None),
                (false, _) => input.dirs.insert(name.clone(), PathBuf::from(answer)),
            };
        }
        for key in m.capabilities.env.keys() {
            let answer = self.ask_line(&format!("Value of env {key} (empty: unset): "))?;
            if !answer.is_empty() {
                input.env.insert(key.clone(), answer);
            }
        }
        for key in m.capabilities.config.keys() {
            let answer = self.ask_line(&format!("Value of setting {key} (empty: unset): "))?;
            if !answer.is_empty() {
                input.config.insert(key.clone(), answer);
            }
        }
        let yes = self.ask_line("Grant these permissions and install? [y/N] ")?;
        Ok(matches!(yes.as_str(), "y" | "Y" | "yes").then_some(input))
    }
}
