//! The functions `calc` knows, by name.
//!
//! Invariant: a function returns a finite value or a message saying which argument was out of
//! its domain; arity is checked before any computation.

/// Every function name, for the "unknown function" message.
const NAMES: &str = "sqrt, cbrt, abs, exp, ln, log, log2, log10, sin, cos, tan, asin, acos, atan, \
                     atan2, sinh, cosh, tanh, floor, ceil, trunc, round, sign, min, max, hypot";

/// Applies function `name` to `args`.
pub fn call(name: &str, args: &[f64]) -> Result<f64, String> {
    let value = match name {
        "sqrt" => {
            let x = one(name, args)?;
            if x < 0.0 {
                return Err(format!("sqrt of a negative number ({x})"));
            }
            x.sqrt()
        }
        "cbrt" => one(name, args)?.cbrt(),
        "abs" => one(name, args)?.abs(),
        "exp" => one(name, args)?.exp(),
        "ln" => positive(name, one(name, args)?)?.ln(),
        "log10" => positive(name, one(name, args)?)?.log10(),
        "log2" => positive(name, one(name, args)?)?.log2(),
        "log" => match args {
            [x] => positive(name, *x)?.log10(),
            [x, base] => {
                if *base <= 0.0 || *base == 1.0 {
                    return Err(format!("log base must be positive and not 1, got {base}"));
                }
                positive(name, *x)?.log(*base)
            }
            _ => return Err(arity(name, "1 or 2 (x, base)", args.len())),
        },
        "sin" => one(name, args)?.sin(),
        "cos" => one(name, args)?.cos(),
        "tan" => one(name, args)?.tan(),
        "asin" => unit_range(name, one(name, args)?)?.asin(),
        "acos" => unit_range(name, one(name, args)?)?.acos(),
        "atan" => one(name, args)?.atan(),
        "atan2" => {
            let (y, x) = two(name, args)?;
            y.atan2(x)
        }
        "sinh" => one(name, args)?.sinh(),
        "cosh" => one(name, args)?.cosh(),
        "tanh" => one(name, args)?.tanh(),
        "floor" => one(name, args)?.floor(),
        "ceil" => one(name, args)?.ceil(),
        "trunc" => one(name, args)?.trunc(),
        "round" => match args {
            [x] => x.round(),
            [x, digits] => {
                if digits.fract() != 0.0 || digits.abs() > 15.0 {
                    return Err(format!(
                        "round's digits must be a whole number from -15 to 15, got {digits}"
                    ));
                }
                let scale = 10f64.powi(*digits as i32);
                (x * scale).round() / scale
            }
            _ => return Err(arity(name, "1 or 2 (x, digits)", args.len())),
        },
        "sign" => {
            let x = one(name, args)?;
            if x == 0.0 { 0.0 } else { x.signum() }
        }
        "min" => many(name, args)?
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min),
        "max" => many(name, args)?
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max),
        "hypot" => {
            let (a, b) = two(name, args)?;
            a.hypot(b)
        }
        _ => {
            return Err(format!(
                "unknown function {name:?}; the functions are: {NAMES}"
            ));
        }
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{name}({}) is not a finite number", list(args)))
    }
}

fn one(name: &str, args: &[f64]) -> Result<f64, String> {
    match args {
        [x] => Ok(*x),
        _ => Err(arity(name, "1", args.len())),
    }
}

fn two(name: &str, args: &[f64]) -> Result<(f64, f64), String> {
    match args {
        [a, b] => Ok((*a, *b)),
        _ => Err(arity(name, "2", args.len())),
    }
}

fn many<'a>(name: &str, args: &'a [f64]) -> Result<&'a [f64], String> {
    if args.is_empty() {
        return Err(arity(name, "at least 1", 0));
    }
    Ok(args)
}

fn positive(name: &str, x: f64) -> Result<f64, String> {
    if x <= 0.0 {
        return Err(format!("{name} needs a positive number, got {x}"));
    }
    Ok(x)
}

fn unit_range(name: &str, x: f64) -> Result<f64, String> {
    if !(-1.0..=1.0).contains(&x) {
        return Err(format!("{name} needs a number from -1 to 1, got {x}"));
    }
    Ok(x)
}

fn arity(name: &str, expected: &str, got: usize) -> String {
    format!("{name} takes {expected} argument(s), got {got}")
}

fn list(args: &[f64]) -> String {
    args.iter()
        .map(f64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
