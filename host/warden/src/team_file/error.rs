//! What can be wrong with a multi-agent definition, each naming where.

use crate::agent::AgentError;
use crate::runner::SetupError;

/// A multi-agent definition that cannot be loaded or built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TeamFileError {
    /// A file cannot be read or parsed (an unknown key, a wrong type, a bad value): the
    /// error names the file, line, column and key.
    #[error(transparent)]
    Agent(Box<AgentError>),
    /// A mistake at a known place: a reference to an agent no file defines, files that
    /// include each other, a missing entry, agents calling each other as tools in a cycle.
    #[error("{file}:{line}:{column}: `{key}`: {message}")]
    At {
        /// The file.
        file: String,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// The key at fault, e.g. `agents.triage.handoffs[0].agent`.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// An agent's components, policies or model could not be set up.
    #[error("cannot set up agent `{agent}`: {source}")]
    Setup {
        /// The agent.
        agent: String,
        /// Why.
        #[source]
        source: Box<SetupError>,
    },
    /// A component guardrail cannot be built (no such tool, an invalid policy).
    #[error("agent `{agent}`: a guardrail: {source}")]
    Guardrail {
        /// The agent.
        agent: String,
        /// Why.
        #[source]
        source: crate::guardrail::ComponentCheckError,
    },
    /// The agents do not form a team (see [`crate::TeamError`]).
    #[error(transparent)]
    Team(#[from] crate::TeamError),
}

impl From<AgentError> for TeamFileError {
    fn from(e: AgentError) -> Self {
        TeamFileError::Agent(Box::new(e))
    }
}
