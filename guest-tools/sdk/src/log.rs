//! Logging into the call's trace through the host's `log` import.
//!
//! Invariant: logging never fails and never panics. The host truncates messages and caps their
//! number per call. Built for a native target (unit tests of a tool's logic) there is no host,
//! so the messages go to stderr instead.
//!
//! ```ignore
//! warden_tool::log::info!("read {} bytes from {}", n, path);
//! warden_tool::log::warn("the file was truncated");
//! ```

pub use crate::bindings::warden::tool::host::LogLevel as Level;

/// Records `message` at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::warden::tool::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{}] {message}", level_name(level));
}

/// The lower-case name of `level`.
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Records `message` at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message);
}
/// Records `message` at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}
/// Records `message` at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}
/// Records `message` at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
/// Records `message` at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_at {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// `format!`-style logging at trace level.
#[macro_export]
macro_rules! __log_trace { ($($arg:tt)+) => { $crate::__log_at!(Trace, $($arg)+) }; }
/// `format!`-style logging at debug level.
#[macro_export]
macro_rules! __log_debug { ($($arg:tt)+) => { $crate::__log_at!(Debug, $($arg)+) }; }
/// `format!`-style logging at info level.
#[macro_export]
macro_rules! __log_info { ($($arg:tt)+) => { $crate::__log_at!(Info, $($arg)+) }; }
/// `format!`-style logging at warn level.
#[macro_export]
macro_rules! __log_warn { ($($arg:tt)+) => { $crate::__log_at!(Warn, $($arg)+) }; }
/// `format!`-style logging at error level.
#[macro_export]
macro_rules! __log_error { ($($arg:tt)+) => { $crate::__log_at!(Error, $($arg)+) }; }

pub use crate::__log_debug as debug;
pub use crate::__log_error as error;
pub use crate::__log_info as info;
pub use crate::__log_trace as trace;
pub use crate::__log_warn as warn;
