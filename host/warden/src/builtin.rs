//! Tool components compiled into warden: the repository's guest tools (`calc`, `text`, `fs`,
//! `http`), named `builtin:<name>` wherever a component path is expected (agent files,
//! `warden tool`). They run in the same sandbox as any other component, under the policy
//! given with them; being built in only spares users building `guest-tools/` and finding
//! where the build put the files, and keeps a copied `warden` binary working.

use std::path::Path;
use std::sync::Arc;

use warden_sandbox::{Executor, LoadError, ToolSet};

/// The prefix of a built-in component's name.
pub const SCHEME: &str = "builtin:";

/// The names of the built-in components.
pub fn names() -> impl Iterator<Item = &'static str> {
    crate::guests::BUILTINS.iter().map(|(name, _)| *name)
}

/// The bytes of built-in component `name`.
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    crate::guests::BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The name in `component` if it is a `builtin:` reference.
pub fn name_of(component: &Path) -> Option<&str> {
    component.to_str()?.strip_prefix(SCHEME)
}

/// The error for a `builtin:` name this build does not have.
pub fn unknown(name: &str) -> LoadError {
    let available: Vec<_> = names().map(|n| format!("{SCHEME}{n}")).collect();
    LoadError::UnknownBuiltin {
        name: name.to_string(),
        available: if available.is_empty() {
            "none (this build of warden was made without guest-tools/)".into()
        } else {
            available.join(", ")
        },
    }
}

/// Loads built-in component `name` (`"calc"`, not `"builtin:calc"`).
pub async fn load_named(executor: &Executor, name: &str) -> Result<Arc<ToolSet>, LoadError> {
    executor
        .load_bytes(bytes(name).ok_or_else(|| unknown(name))?)
        .await
}

/// Loads `component`: a built-in one by its `builtin:` name, anything else as a file.
pub async fn load(executor: &Executor, component: &Path) -> Result<Arc<ToolSet>, LoadError> {
    match name_of(component) {
        Some(name) => load_named(executor, name).await,
        None => executor.load_file(component).await,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use warden_sandbox::EngineConfig;

    #[test]
    fn the_repository_tools_are_built_in() {
        let names: Vec<_> = names().collect();
        assert_eq!(names, ["calc", "text", "fs", "http"]);
        assert!(
            bytes("hostile").is_none(),
            "test-only tools are not shipped"
        );
        assert_eq!(name_of(Path::new("builtin:calc")), Some("calc"));
        assert_eq!(name_of(Path::new("tools/calc.wasm")), None);
    }

    #[tokio::test]
    async fn a_builtin_loads_like_its_file_and_an_unknown_name_lists_the_others() {
        let executor = Executor::new(EngineConfig::default()).unwrap();
        let builtin = load(&executor, Path::new("builtin:calc")).await.unwrap();
        let file = load(&executor, Path::new(crate::guests::CALC))
            .await
            .unwrap();
        assert_eq!(builtin.digest(), file.digest());
        let err = load(&executor, Path::new("builtin:calculator"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "unknown_builtin");
        let text = err.to_string();
        assert!(
            text.contains("\"calculator\"") && text.contains("builtin:calc, builtin:text"),
            "{text}"
        );
    }
}
