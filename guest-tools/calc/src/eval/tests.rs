#![allow(clippy::unwrap_used)]

use super::*;

fn eval(s: &str) -> f64 {
    evaluate(s).unwrap_or_else(|e| panic!("{s}: {}", e.describe(s)))
}

fn err(s: &str) -> EvalError {
    evaluate(s).unwrap_err()
}

#[test]
fn precedence_and_associativity_follow_mathematics() {
    assert_eq!(eval("1 + 2 * 3"), 7.0);
    assert_eq!(eval("(1 + 2) * 3"), 9.0);
    assert_eq!(eval("10 - 4 - 3"), 3.0);
    assert_eq!(eval("64 / 4 / 2"), 8.0);
    assert_eq!(eval("2 ^ 3 ^ 2"), 512.0);
    assert_eq!(eval("2 ** 10"), 1024.0);
    assert_eq!(eval("-2 ^ 2"), -4.0);
    assert_eq!(eval("2 ^ -1"), 0.5);
    assert_eq!(eval("--3"), 3.0);
    assert_eq!(eval("7 % 3"), 1.0);
    assert_eq!(eval("7 / 2"), 3.5);
}

#[test]
fn numbers_accept_decimals_and_exponents() {
    assert_eq!(eval(".5 + 1.25"), 1.75);
    assert_eq!(eval("1e3 + 2.5E-1"), 1000.25);
}

#[test]
fn functions_and_constants() {
    assert_eq!(eval("sqrt(16) + abs(-2)"), 6.0);
    assert_eq!(eval("min(3, 1, 2) + max(4, 9)"), 10.0);
    assert_eq!(eval("round(2.567, 2)"), 2.57);
    assert_eq!(eval("round(2.5)"), 3.0);
    assert_eq!(eval("log(1000)"), 3.0);
    assert_eq!(eval("log(8, 2)"), 3.0);
    assert_eq!(eval("ln(e)"), 1.0);
    assert!((eval("sin(pi / 2)") - 1.0).abs() < 1e-12);
    assert!((eval("cos(pi)") + 1.0).abs() < 1e-12);
    assert_eq!(eval("tau / pi"), 2.0);
}

#[test]
fn division_by_zero_is_an_error_at_the_operator() {
    let e = err("1 / (2 - 2)");
    assert_eq!(e.message, "division by zero");
    assert_eq!(e.offset, 2);
    assert_eq!(err("5 % 0").message, "remainder of a division by zero");
}

#[test]
fn a_syntax_error_says_where_and_what_was_expected() {
    let e = err("2 + * 3");
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("unexpected '*'"), "{}", e.message);
    assert_eq!(
        e.describe("2 + * 3"),
        format!("{} at column 5\n  2 + * 3\n      ^", e.message)
    );
}

#[test]
fn an_unclosed_parenthesis_names_the_opening_column() {
    let e = err("(1 + 2");
    assert!(
        e.message.contains("')' to close the '(' at column 1"),
        "{}",
        e.message
    );
    assert!(e.message.contains("the expression ended"), "{}", e.message);
}

#[test]
fn trailing_input_is_an_error() {
    let e = err("1 + 2)");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("unexpected ')'"));
}

#[test]
fn unknown_names_and_functions_are_errors_listing_the_known_ones() {
    assert!(
        err("x + 1")
            .message
            .contains("the constants are pi, e and tau")
    );
    assert!(err("foo(1)").message.contains("the functions are: sqrt"));
}

#[test]
fn domain_and_arity_errors() {
    assert!(
        err("sqrt(-1)")
            .message
            .contains("sqrt of a negative number")
    );
    assert!(err("ln(0)").message.contains("positive"));
    assert!(err("asin(2)").message.contains("from -1 to 1"));
    assert!(
        err("sqrt(1, 2)")
            .message
            .contains("takes 1 argument(s), got 2")
    );
    assert!(err("max()").message.contains("at least 1"));
}

#[test]
fn overflow_is_an_error_not_infinity() {
    assert!(err("10 ^ 400").message.contains("too large"));
    assert!(err("1e309").message.contains("too large"));
}

#[test]
fn empty_and_malformed_numbers_are_errors() {
    assert_eq!(err("   ").message, "the expression is empty");
    assert!(err("1.2.3").message.contains("\"1.2.3\" is not a number"));
}

#[test]
fn deep_nesting_is_refused_instead_of_overflowing_the_stack() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).message.contains("nests deeper than"));
    let minus = format!("{}1", "-".repeat(10_000));
    assert!(err(&minus).message.contains("nests deeper than"));
}

#[test]
fn columns_count_characters_not_bytes() {
    let s = "pi × 2";
    let e = err(s);
    assert!(e.describe(s).contains("at column 4"), "{}", e.describe(s));
}
