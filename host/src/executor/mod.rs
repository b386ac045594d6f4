//! The sandboxed tool executor: loads tool components and runs one tool call in a fresh,
//! fuel-limited, deadline-enforced instance.

pub mod egress;
