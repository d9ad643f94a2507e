//! Python literals as `repr()` writes them (`{'numbers': [56, 52], 'pbc': [True, True, True]}`),
//! read into JSON values: dicts, lists, tuples, strings in either quote, ints, floats,
//! `True`/`False`/`None`, and `nan`/`inf` (which JSON cannot hold: NaN becomes `null`,
//! ±inf an error). Enough for the structure columns of pandas CSV dumps; not a Python parser.

use serde_json::{Map, Number, Value};

/// Parses one Python literal; the error says what was expected and at which byte offset.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at offset {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Deeper nesting than any structure needs; guards the stack against hostile input.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect_end(&self, what: &str) -> String {
        format!("expected {what} at offset {}", self.i)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nesting too deep".into());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.dict(depth),
            Some(b'[') => self.seq(b']', depth),
            Some(b'(') => self.seq(b')', depth),
            Some(b'\'') | Some(b'"') => self.string().map(Value::String),
            Some(_) => self.atom(),
            None => Err(self.expect_end("a value")),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        self.i += 1;
        let mut map = Map::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.value(depth + 1)? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                other => return Err(format!("dict key {other} is not a string or number")),
            };
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.expect_end("':'"));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            map.insert(key, v);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(self.expect_end("',' or '}'")),
            }
        }
    }

    fn seq(&mut self, close: u8, depth: usize) -> Result<Value, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(Value::Array(out));
            }
            out.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(self.expect_end(&format!("',' or '{}'", close as char))),
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.expect_end("an escape"))?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                c if c == quote => {
                    return String::from_utf8(out).map_err(|e| format!("string is not UTF-8: {e}"))
                }
                c => out.push(c),
            }
        }
        Err("string is not closed".into())
    }

    fn atom(&mut self) -> Result<Value, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_') {
                self.i += 1;
            } else {
                break;
            }
        }
        let tok = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        match tok {
            "" => Err(self.expect_end("a value")),
            "True" => Ok(Value::Bool(true)),
            "False" => Ok(Value::Bool(false)),
            "None" | "nan" | "NaN" | "-nan" => Ok(Value::Null),
            _ => {
                if let Ok(i) = tok.parse::<i64>() {
                    return Ok(Value::Number(i.into()));
                }
                match tok.parse::<f64>() {
                    Ok(x) => Number::from_f64(x)
                        .map(Value::Number)
                        .ok_or_else(|| format!("{tok} at offset {start} is not a finite number")),
                    Err(_) => Err(format!("unknown token {tok:?} at offset {start}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        let v = parse("{'numbers': [56, 52], 'cell': ((1.5, -0.0, 2e-3),), \"pbc\": [True, False], 'x': None, 'y': nan}").unwrap();
        assert_eq!(v["numbers"][1], 52);
        assert_eq!(v["cell"][0][2], 2e-3);
        assert_eq!(v["pbc"][1], false);
        assert!(v["x"].is_null() && v["y"].is_null());
        assert!(parse("{'a': [1, 2}").is_err());
        assert!(parse("{'a': inf}").is_err());
        assert!(parse("{'a': 1} x").is_err());
        assert_eq!(parse("'it\\'s'").unwrap(), "it's");
    }
}
