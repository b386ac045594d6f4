//! Process figures: CPU time (getrusage), resident memory (/proc), and medians.
//!
//! Invariant: a figure that could not be read is `None`, never zero.

use std::time::Duration;

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory the size of `rusage`; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and it was zeroed before).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Resident set size of this process in bytes (`None` where /proc is missing).
pub fn rss_bytes() -> Option<u64> {
    rss_at("/proc/self/status")
}

/// Resident set size of process `pid` in bytes (`None` where /proc is missing or the
/// process is gone).
pub fn rss_of(pid: u32) -> Option<u64> {
    rss_at(&format!("/proc/{pid}/status"))
}

fn rss_at(path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The median of `values` (`None` for none).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rounds to 3 decimals for the JSON line.
pub fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// [`r3`] of a figure that may be missing (`null` in the JSON line).
pub fn r3o(v: Option<f64>) -> Option<f64> {
    v.map(r3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_samples_have_no_median() {
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn a_missing_figure_prints_as_null() {
        assert_eq!(
            serde_json::json!({ "x": r3o(None) }).to_string(),
            r#"{"x":null}"#
        );
    }

    #[test]
    fn a_gone_process_has_no_rss() {
        assert_eq!(rss_at("/proc/does-not-exist/status"), None);
    }
}
