//! Parsing of the human-friendly quantities an operator writes in a policy file or on the
//! command line: durations (`2s`, `500ms`, `1m`), byte sizes (`64MiB`, `1MB`, `4096`) and
//! fuel (`1000000`, `1_000_000`, `off`). Pure functions; every error says what was expected.

use std::time::Duration;

/// Parses a duration such as `500ms`, `2s`, `1.5s` or `1m`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 500ms, 2s or 1m"))?;
    let secs = match unit.trim() {
        "ms" => num / 1000.0,
        "" | "s" | "sec" | "secs" => num,
        "m" | "min" => num * 60.0,
        other => {
            return Err(format!(
                "invalid duration {text:?}: unknown unit {other:?} (use ms, s or m)"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!(
            "invalid duration {text:?}: must be more than 0 and at most one day"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a byte size such as `4096`, `64KiB`, `64MiB`, `1GiB`, `10KB` or `1MB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: u64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected e.g. 4096, 64KiB or 64MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    num.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// Parses a fuel budget: a number of units, or `off`/`none`/`unlimited` to disable fuel
/// (the wall-clock deadline still applies).
pub fn parse_fuel(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if matches!(
        t.to_ascii_lowercase().as_str(),
        "off" | "none" | "unlimited"
    ) {
        return Ok(None);
    }
    let n: u64 = t.replace('_', "").parse().map_err(|_| {
        format!("invalid fuel {text:?}: expected a number of units (e.g. 1000000) or \"off\"")
    })?;
    if n == 0 {
        return Err("invalid fuel 0: a call needs some fuel (use \"off\" to disable fuel)".into());
    }
    Ok(Some(n))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("2h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("0s").unwrap_err().contains("more than 0"));
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn sizes_parse_binary_and_decimal_units() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_bytes("1MB"), Ok(1_000_000));
        assert!(
            parse_bytes("12 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(
            parse_bytes("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn fuel_parses_numbers_and_off() {
        assert_eq!(parse_fuel("1_000_000"), Ok(Some(1_000_000)));
        assert_eq!(parse_fuel("off"), Ok(None));
        assert!(parse_fuel("0").is_err());
        assert!(parse_fuel("lots").unwrap_err().contains("invalid fuel"));
    }
}
