//! `warden key generate` and `warden trust add|list|remove`: the author's signing keys and
//! the operator's trusted keys (in `WARDEN_CONFIG_DIR`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use warden_pack::{Dirs, TrustStore};

use super::Console;

/// `warden key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make an Ed25519 key pair: PATH.key (mode 0600, keep it secret) and PATH.pub (share it).
    Generate {
        /// Where to write the pair (without extension).
        #[arg(long, default_value = "warden-signing")]
        out: PathBuf,
    },
}

/// `warden trust ...`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust packs signed by the key in this .pub file.
    Add {
        /// The author's public key file.
        public_key: PathBuf,
    },
    /// List the trusted keys' ids.
    List,
    /// Stop trusting a key (its id or its .pub file).
    Remove {
        /// A key id from `warden trust list`, or the .pub file.
        key: String,
    },
}

/// Runs a key command.
pub fn run_key(cmd: KeyCommand, console: Console) -> ExitCode {
    report(
        &console,
        (|| match cmd {
            KeyCommand::Generate { out } => {
                let (key, public, pk) = warden_pack::generate(&out)?;
                console.out_text(&format!(
                    "secret key: {} (mode 0600: keep it private)\npublic key: {} (id {})\n",
                    key.display(),
                    public.display(),
                    pk.id()
                ));
                Ok(())
            }
        })(),
    )
}

/// Runs a trust command.
pub fn run_trust(cmd: TrustCommand, console: Console) -> ExitCode {
    report(
        &console,
        (|| {
            let trust = TrustStore::new(&Dirs::from_env()?);
            match cmd {
                TrustCommand::Add { public_key } => {
                    let key = trust.add(&public_key)?;
                    console.out_text(&format!("trusted key {}\n", key.id()));
                }
                TrustCommand::List => {
                    for id in trust.list()? {
                        console.out_text(&format!("{id}\n"));
                    }
                }
                TrustCommand::Remove { key } => {
                    let id = trust.remove(&key)?;
                    console.out_text(&format!("no longer trusted: {id}\n"));
                }
            }
            Ok(())
        })(),
    )
}

/// Prints an error as one line and maps the result to an exit code.
pub(super) fn report(console: &Console, result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            console.err_line(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
