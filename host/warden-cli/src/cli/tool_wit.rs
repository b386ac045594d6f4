//! The typed-WIT parts of `warden tool`: the reasons a typed component's functions are not
//! offered (printed by `warden tool list`), and `warden tool embed-docs`, which writes WIT doc
//! comments into a component's `package-docs` section so its tools get real descriptions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use warden_sandbox::ToolSet;
use warden_wit::docs::{PackageDocs, embed};

/// The largest docs file `embed-docs` reads.
const MAX_DOCS_BYTES: u64 = 4 << 20;
/// The largest component `embed-docs` rewrites.
const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// `warden tool embed-docs <component> --docs <file> --output <file>`
#[derive(Debug, Args)]
pub struct EmbedDocsArgs {
    /// The component (.wasm) to add the docs to.
    component: PathBuf,
    /// The docs as JSON in wit-parser's `package-docs` format, e.g.
    /// `{"worlds": {"my-world": {"func_exports": {"greet": {"docs": "Greets someone."}}}},
    ///   "interfaces": {"text": {"funcs": {"shout": {"docs": "Upper-cases text."}}}}}`.
    #[arg(long, required_unless_present = "wit", conflicts_with = "wit")]
    docs: Option<PathBuf>,
    /// The component's WIT source instead (a .wit file, or a directory with an optional
    /// deps/): the doc comments of its functions, records and fields, variant and enum
    /// cases and flags.
    #[arg(long)]
    wit: Option<PathBuf>,
    /// Where to write the component with the docs (may be the input file).
    #[arg(long, short)]
    output: PathBuf,
}

/// Writes the component with its `package-docs` section replaced by the given docs.
pub fn embed_docs(args: &EmbedDocsArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let docs = match (&args.wit, &args.docs) {
        (Some(wit), _) => PackageDocs::from_wit(wit)?,
        (None, Some(file)) => {
            let text = read_capped(file, MAX_DOCS_BYTES)?;
            serde_json::from_slice(&text)
                .with_context(|| format!("{} is not package-docs JSON", file.display()))?
        }
        (None, None) => bail!("give the docs with --wit or --docs"),
    };
    let component = read_capped(&args.component, MAX_COMPONENT_BYTES)?;
    let Some(with_docs) = embed(&component, &docs) else {
        bail!(
            "{} is not a WebAssembly component (its sections do not parse)",
            args.component.display()
        );
    };
    std::fs::write(&args.output, &with_docs)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    writeln!(
        out,
        "wrote {} ({} bytes, docs for {} world(s) and {} interface(s))",
        args.output.display(),
        with_docs.len(),
        docs.worlds.len(),
        docs.interfaces.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Prints why a typed component's other functions are not tools (nothing for others).
pub fn write_skipped(set: &ToolSet, out: &mut dyn Write) -> Result<()> {
    if set.skipped().is_empty() {
        return Ok(());
    }
    writeln!(out, "not offered as tools:")?;
    for skipped in set.skipped() {
        writeln!(out, "  {}: {}", skipped.export, skipped.reason)?;
    }
    Ok(())
}

/// Reads `path`, refusing more than `limit` bytes.
pub(super) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}
