//! Runner unit tests.
