//! The `calc` tool: evaluates an arithmetic expression exactly as written, so a model does not
//! have to do arithmetic in its head.
//!
//! Invariant: the tool is pure computation; it imports nothing but what the SDK links.

mod eval;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden_tool::{ToolError, tool};

/// Arguments of `calc`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalcArgs {
    /// The expression, e.g. `2 * (3 + 4) ^ 2 / sqrt(16)`.
    pub expression: String,
}

/// Output of `calc`.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub struct CalcOutput {
    /// The value as a JSON number (a 64-bit float).
    pub value: f64,
    /// The value as text: integers without a fractional part, others with up to 15
    /// significant digits.
    pub text: String,
}

/// Evaluates an arithmetic expression with 64-bit floating point and returns its value.
///
/// Operators: `+ - * / %` (remainder), `^` or `**` (power, right-associative), parentheses,
/// unary minus. Functions: sqrt, cbrt, abs, exp, ln, log (base 10, or `log(x, base)`), log2,
/// log10, sin, cos, tan, asin, acos, atan, atan2(y, x), sinh, cosh, tanh, floor, ceil, trunc,
/// round (or `round(x, digits)`), sign, min(a, b, ...), max(a, b, ...), hypot(a, b).
/// Constants: pi, e, tau. Angles are in radians. A bad expression or a result that is not a
/// finite number (division by zero, sqrt of a negative) is an error saying where.
#[tool(output)]
pub fn calc(args: CalcArgs) -> Result<CalcOutput, ToolError> {
    let value = eval::evaluate(&args.expression)
        .map_err(|e| ToolError::invalid_args(e.describe(&args.expression)))?;
    Ok(CalcOutput {
        value,
        text: format_number(value),
    })
}

warden_tool::export_tools!(calc);

/// `value` as text: integers without `.0`, others rounded to 15 significant digits.
fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        // Exact: the value is an integer that f64 represents exactly.
        return format!("{}", value as i64);
    }
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    format!("{rounded}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use warden_tool::Tool;

    #[test]
    fn integers_print_without_a_fraction() {
        assert_eq!(format_number(42.0), "42");
        assert_eq!(format_number(-7.0), "-7");
    }

    #[test]
    fn floats_print_with_15_significant_digits() {
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_number(1e20), "100000000000000000000");
    }

    #[test]
    fn the_tool_returns_value_and_text() {
        let out = calc(CalcArgs {
            expression: "2 * (3 + 4)".into(),
        })
        .unwrap();
        assert_eq!(
            out,
            CalcOutput {
                value: 14.0,
                text: "14".into()
            }
        );
    }

    #[test]
    fn a_bad_expression_is_invalid_args_with_the_column() {
        let err = calc(CalcArgs {
            expression: "2 + * 3".into(),
        })
        .unwrap_err();
        match err {
            ToolError::InvalidArgs(m) => assert!(m.contains("column 5"), "{m}"),
            other => panic!("expected invalid args, got {other:?}"),
        }
    }

    #[test]
    fn the_generated_tool_describes_itself_with_both_schemas() {
        let info = <calc as Tool>::info();
        assert_eq!(info.name, "calc");
        assert!(
            info.description
                .starts_with("Evaluates an arithmetic expression")
        );
        let args: serde_json::Value = serde_json::from_str(&info.args_schema).unwrap();
        assert_eq!(args["properties"]["expression"]["type"], "string");
        let output: serde_json::Value =
            serde_json::from_str(info.output_schema.as_deref().unwrap()).unwrap();
        assert_eq!(output["properties"]["value"]["type"], "number");
    }

    #[test]
    fn the_generated_tool_invokes_from_json() {
        let out = <calc as Tool>::invoke(r#"{"expression":"2^10"}"#).unwrap();
        assert_eq!(out, r#"{"value":1024.0,"text":"1024"}"#);
        let err = <calc as Tool>::invoke(r#"{"expr":"1"}"#).unwrap_err();
        assert!(matches!(err, ToolError::InvalidArgs(m) if m.contains("unknown field `expr`")));
    }
}
