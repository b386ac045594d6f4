//! The terminal's echo of control keys. A terminal echoes Ctrl-C as `^C` at the cursor; with
//! a spinner drawn to the full width, the cursor waits at the end of the row and the echo
//! wraps onto a new row, leaving the spinner's row on screen for good. While a command
//! shows progress, [`ControlEcho::quiet`] turns that echo off (the key still works).
//!
//! Invariant: the setting found at start is put back when the guard drops, and by
//! [`restore`] before the process exits on its own.

use std::sync::Mutex;

/// The terminal settings found before they were changed, to put back.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Keeps control keys from echoing while it lives.
pub struct ControlEcho(());

impl ControlEcho {
    /// Turns off the echo of control keys on stdin, if stdin is a terminal.
    pub fn quiet() -> ControlEcho {
        // SAFETY: tcgetattr/tcsetattr only read and write the termios struct we own; on a
        // descriptor that is no terminal they fail and we change nothing.
        unsafe {
            let mut settings: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut settings) == 0 {
                let saved = settings;
                settings.c_lflag &= !libc::ECHOCTL;
                if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &settings) == 0 {
                    *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(saved);
                }
            }
        }
        ControlEcho(())
    }
}

impl Drop for ControlEcho {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts back the terminal settings [`ControlEcho::quiet`] changed (if any).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(settings) = saved {
        // SAFETY: writes back a termios struct read from the same descriptor.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &settings);
        }
    }
}
