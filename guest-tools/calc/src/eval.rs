//! A recursive-descent evaluator for arithmetic expressions over `f64`.
//!
//! Grammar (lowest precedence first):
//! `expr := term (("+" | "-") term)*`, `term := unary (("*" | "/" | "%") unary)*`,
//! `unary := ("-" | "+") unary | power`, `power := primary (("^" | "**") unary)?`,
//! `primary := number | name | name "(" expr ("," expr)* ")" | "(" expr ")"`.
//! So `-2^2 = -4`, `2^3^2 = 512` and `2^-1 = 0.5`, as in mathematics.
//! Invariant: every error carries the byte offset where it was found, and every value returned
//! is finite (an infinite or NaN intermediate is an error at the operator that made it).

use thiserror::Error;

/// Deepest nesting of parentheses and unary operators accepted (protects the guest's stack).
const MAX_DEPTH: usize = 200;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message} (at byte {offset})")]
pub struct EvalError {
    /// What went wrong and what to write instead.
    pub message: String,
    /// Byte offset in the expression where the problem starts.
    pub offset: usize,
}

impl EvalError {
    fn at(offset: usize, message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
            offset,
        }
    }

    /// A message for the model: the problem, its 1-based column, and the expression with a
    /// caret under that column.
    pub fn describe(&self, expression: &str) -> String {
        let column = expression
            .get(..self.offset)
            .map_or(self.offset, |prefix| prefix.chars().count())
            + 1;
        format!(
            "{} at column {column}\n  {expression}\n  {}^",
            self.message,
            " ".repeat(column - 1)
        )
    }
}

/// Evaluates `expression`.
pub fn evaluate(expression: &str) -> Result<f64, EvalError> {
    let mut parser = Parser {
        src: expression,
        pos: 0,
        depth: 0,
    };
    parser.skip_space();
    if parser.pos == expression.len() {
        return Err(EvalError::at(0, "the expression is empty"));
    }
    let value = parser.expr()?;
    parser.skip_space();
    if let Some(c) = parser.peek() {
        return Err(EvalError::at(
            parser.pos,
            format!("unexpected {c:?}: expected an operator (+ - * / % ^) or the end"),
        ));
    }
    Ok(value)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    /// Consumes `token` (after spaces) if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.src[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), EvalError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(EvalError::at(
                self.pos,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<f64, EvalError> {
        let mut value = self.term()?;
        loop {
            self.skip_space();
            let at = self.pos;
            if self.eat("+") {
                value = finite(value + self.term()?, at, "the sum")?;
            } else if self.eat("-") {
                value = finite(value - self.term()?, at, "the difference")?;
            } else {
                return Ok(value);
            }
        }
    }

    fn term(&mut self) -> Result<f64, EvalError> {
        let mut value = self.unary()?;
        loop {
            self.skip_space();
            let at = self.pos;
            // `**` is power, handled in `power`; do not read its first `*` as a product.
            if self.src[self.pos..].starts_with("**") {
                return Ok(value);
            }
            if self.eat("*") {
                value = finite(value * self.unary()?, at, "the product")?;
            } else if self.eat("/") {
                let divisor = self.unary()?;
                if divisor == 0.0 {
                    return Err(EvalError::at(at, "division by zero"));
                }
                value = finite(value / divisor, at, "the quotient")?;
            } else if self.eat("%") {
                let divisor = self.unary()?;
                if divisor == 0.0 {
                    return Err(EvalError::at(at, "remainder of a division by zero"));
                }
                value = finite(value % divisor, at, "the remainder")?;
            } else {
                return Ok(value);
            }
        }
    }

    fn unary(&mut self) -> Result<f64, EvalError> {
        self.enter()?;
        let value = if self.eat("-") {
            -self.unary()?
        } else if self.eat("+") {
            self.unary()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Ok(value)
    }

    fn power(&mut self) -> Result<f64, EvalError> {
        let base = self.primary()?;
        self.skip_space();
        let at = self.pos;
        if self.eat("^") || self.eat("**") {
            let exponent = self.unary()?;
            return finite(base.powf(exponent), at, "the power");
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<f64, EvalError> {
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    self.pos += c.len_utf8();
                }
                let name = &self.src[start..self.pos];
                if self.eat("(") {
                    let args = self.call_args(start)?;
                    functions::call(name, &args).map_err(|m| EvalError::at(start, m))
                } else {
                    constant(name).ok_or_else(|| {
                        EvalError::at(
                            start,
                            format!("unknown name {name:?}: the constants are pi, e and tau; a function needs parentheses"),
                        )
                    })
                }
            }
            Some('(') => {
                self.pos += 1;
                self.enter()?;
                let value = self.expr()?;
                self.depth -= 1;
                if !self.eat(")") {
                    return Err(self.expected("')' to close the '(' at column", start));
                }
                Ok(value)
            }
            Some(c) => Err(EvalError::at(
                start,
                format!("unexpected {c:?}: expected a number, a name or '('"),
            )),
            None => Err(EvalError::at(
                start,
                "the expression ends too early: expected a number, a name or '('",
            )),
        }
    }

    /// The arguments of a call whose name started at `start`, after its `(`.
    fn call_args(&mut self, start: usize) -> Result<Vec<f64>, EvalError> {
        self.enter()?;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.expr()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.expected("',' or ')' to close the call at column", start));
                }
            }
        }
        self.depth -= 1;
        Ok(args)
    }

    fn expected(&mut self, what: &str, open: usize) -> EvalError {
        self.skip_space();
        let column = self.src[..open].chars().count() + 1;
        let found = match self.peek() {
            Some(c) => format!("found {c:?}"),
            None => "the expression ended".to_string(),
        };
        EvalError::at(self.pos, format!("expected {what} {column}, {found}"))
    }

    fn number(&mut self) -> Result<f64, EvalError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        // An exponent: e or E, an optional sign, then at least one digit.
        if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut exp = end + 1;
            if exp < bytes.len() && (bytes[exp] == b'+' || bytes[exp] == b'-') {
                exp += 1;
            }
            if exp < bytes.len() && bytes[exp].is_ascii_digit() {
                while exp < bytes.len() && bytes[exp].is_ascii_digit() {
                    exp += 1;
                }
                end = exp;
            }
        }
        let text = &self.src[start..end];
        self.pos = end;
        text.parse::<f64>()
            .map_err(|_| EvalError::at(start, format!("{text:?} is not a number")))
            .and_then(|v| finite(v, start, "the number"))
    }
}

fn constant(name: &str) -> Option<f64> {
    match name {
        "pi" | "PI" => Some(std::f64::consts::PI),
        "e" | "E" => Some(std::f64::consts::E),
        "tau" | "TAU" => Some(std::f64::consts::TAU),
        _ => None,
    }
}

fn finite(value: f64, at: usize, what: &str) -> Result<f64, EvalError> {
    if value.is_finite() {
        Ok(value)
    } else if value.is_nan() {
        Err(EvalError::at(at, format!("{what} is not a number (NaN)")))
    } else {
        Err(EvalError::at(
            at,
            format!("{what} is too large for a 64-bit float"),
        ))
    }
}

mod functions;

#[cfg(test)]
mod tests;
