//! CIF 1.1 syntax: tokens (quoted strings, semicolon text fields, comments) and data blocks
//! made of single items and `loop_` tables. Knows nothing about crystallography.

use crate::error::{Error, ErrorKind, Location};

/// One data value as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub text: String,
    /// Quoted strings and text fields are never the special `?` / `.` values.
    pub quoted: bool,
    /// 1-based line where the value starts.
    pub line: usize,
}

impl Value {
    /// `?` (unknown) or `.` (inapplicable), written unquoted.
    pub fn is_null(&self) -> bool {
        !self.quoted && (self.text == "?" || self.text == ".")
    }
}

/// A `loop_` table: `tags.len()` columns, values stored row after row.
#[derive(Debug, Clone)]
pub(crate) struct Loop {
    /// Normalised tag names (see [`normalise_tag`]).
    pub tags: Vec<String>,
    pub values: Vec<Value>,
}

impl Loop {
    pub fn rows(&self) -> usize {
        self.values.len() / self.tags.len().max(1)
    }

    pub fn column_index(&self, tag: &str) -> Option<usize> {
        self.tags.iter().position(|t| t == tag)
    }

    pub fn get(&self, row: usize, column: usize) -> &Value {
        &self.values[row * self.tags.len() + column]
    }
}

/// A `data_NAME` block.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// The name after `data_`, as written.
    pub name: String,
    /// Single `_tag value` items, tag normalised.
    pub items: Vec<(String, Value)>,
    pub loops: Vec<Loop>,
}

impl Block {
    /// The value of a single item.
    pub fn item(&self, tag: &str) -> Option<&Value> {
        self.items.iter().find(|(t, _)| t == tag).map(|(_, v)| v)
    }

    /// The loop holding `tag` as a column.
    pub fn loop_with(&self, tag: &str) -> Option<&Loop> {
        self.loops.iter().find(|l| l.column_index(tag).is_some())
    }

    /// All values of `tag`, whether it is a single item or a loop column.
    pub fn values(&self, tag: &str) -> Vec<&Value> {
        if let Some(v) = self.item(tag) {
            return vec![v];
        }
        match self.loop_with(tag) {
            Some(l) => {
                let c = l.column_index(tag).unwrap_or(0);
                (0..l.rows()).map(|r| l.get(r, c)).collect()
            }
            None => Vec::new(),
        }
    }

    /// The single value of `tag` (an item, or a one-row loop column).
    pub fn single(&self, tag: &str) -> Option<&Value> {
        let values = self.values(tag);
        if values.len() == 1 {
            values.into_iter().next()
        } else {
            None
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.item(tag).is_some() || self.loop_with(tag).is_some()
    }
}

/// Tags are case-insensitive; DDLm / mmCIF spellings (`_atom_site.fract_x`) are mapped onto
/// the CIF 1.1 ones (`_atom_site_fract_x`) so one lookup serves both.
pub(crate) fn normalise_tag(tag: &str) -> String {
    tag.to_ascii_lowercase().replacen('.', "_", 1)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Data(String),
    Loop,
    Tag(String),
    Value(Value),
    /// `save_`, `global_`: legal CIF but only used in dictionaries.
    Reserved(String),
}

fn syntax(source: &str, line: usize, msg: String) -> Error {
    Error::new(source, Location::Line(line), ErrorKind::Syntax(msg))
}

/// Splits the text into tokens, each with the line it starts on.
fn tokenize(text: &str, source: &str) -> Result<Vec<(Tok, usize)>, Error> {
    let lines: Vec<&str> = text.lines().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i];
        if let Some(first) = line.strip_prefix(';') {
            // Semicolon text field: runs to the next line that starts with ';'.
            let mut content = first.to_string();
            let mut j = i + 1;
            let mut closed = None;
            while j < lines.len() {
                if let Some(rest) = lines[j].strip_prefix(';') {
                    closed = Some(rest);
                    break;
                }
                content.push('\n');
                content.push_str(lines[j]);
                j += 1;
            }
            let Some(rest) = closed else {
                return Err(Error::new(
                    source,
                    Location::Line(line_no),
                    ErrorKind::Truncated(format!(
                        "text field opened with ';' at line {line_no} is never closed"
                    )),
                ));
            };
            toks.push((
                Tok::Value(Value {
                    text: content,
                    quoted: true,
                    line: line_no,
                }),
                line_no,
            ));
            tokenize_line(rest, j + 1, j + 1 == lines.len(), source, &mut toks)?;
            i = j + 1;
            continue;
        }
        tokenize_line(line, line_no, line_no == lines.len(), source, &mut toks)?;
        i += 1;
    }
    Ok(toks)
}

fn tokenize_line(
    line: &str,
    line_no: usize,
    last_line: bool,
    source: &str,
    toks: &mut Vec<(Tok, usize)>,
) -> Result<(), Error> {
    let bytes = line.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let c = bytes[pos];
        if c.is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        if c == b'#' {
            break;
        }
        if c == b'\'' || c == b'"' {
            // A quote closes only when followed by whitespace or the end of the line, so
            // `'O'Brien'` is one value.
            let mut end = None;
            let mut k = pos + 1;
            while k < bytes.len() {
                if bytes[k] == c && (k + 1 == bytes.len() || bytes[k + 1].is_ascii_whitespace()) {
                    end = Some(k);
                    break;
                }
                k += 1;
            }
            let Some(end) = end else {
                let msg = format!("quoted value starting with {} is never closed", c as char);
                return Err(if last_line {
                    Error::new(source, Location::Line(line_no), ErrorKind::Truncated(msg))
                } else {
                    syntax(source, line_no, msg)
                });
            };
            toks.push((
                Tok::Value(Value {
                    text: line[pos + 1..end].to_string(),
                    quoted: true,
                    line: line_no,
                }),
                line_no,
            ));
            pos = end + 1;
            continue;
        }
        let start = pos;
        while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let word = &line[start..pos];
        let lower = word.to_ascii_lowercase();
        let tok = if lower.starts_with("data_") {
            Tok::Data(word[5..].to_string())
        } else if lower == "loop_" {
            Tok::Loop
        } else if lower.starts_with("save_") || lower == "global_" || lower == "stop_" {
            Tok::Reserved(word.to_string())
        } else if word.starts_with('_') {
            Tok::Tag(normalise_tag(word))
        } else {
            Tok::Value(Value {
                text: word.to_string(),
                quoted: false,
                line: line_no,
            })
        };
        toks.push((tok, line_no));
    }
    Ok(())
}

/// Parses CIF text into its data blocks. Errors name the line (1-based).
pub(crate) fn parse(text: &str, source: &str) -> Result<Vec<Block>, Error> {
    let toks = tokenize(text, source)?;
    let mut blocks: Vec<Block> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        let line = *line;
        match tok {
            Tok::Data(name) => {
                blocks.push(Block {
                    name: name.clone(),
                    items: Vec::new(),
                    loops: Vec::new(),
                });
                i += 1;
            }
            Tok::Reserved(word) => {
                return Err(Error::new(
                    source,
                    Location::Line(line),
                    ErrorKind::Unsupported(format!("'{word}' (save frames and global blocks are only used in CIF dictionaries)")),
                ));
            }
            Tok::Value(v) => {
                return Err(syntax(
                    source,
                    line,
                    format!("value {:?} has no tag before it", v.text),
                ));
            }
            Tok::Tag(tag) => {
                let Some(block) = blocks.last_mut() else {
                    return Err(syntax(
                        source,
                        line,
                        format!("tag {tag} appears before any data_ block"),
                    ));
                };
                match toks.get(i + 1) {
                    Some((Tok::Value(v), _)) => {
                        block.items.push((tag.clone(), v.clone()));
                        i += 2;
                    }
                    None => {
                        return Err(Error::new(
                            source,
                            Location::Line(line),
                            ErrorKind::Truncated(format!(
                                "file ends after tag {tag}, before its value"
                            )),
                        ))
                    }
                    Some(_) => return Err(syntax(source, line, format!("tag {tag} has no value"))),
                }
            }
            Tok::Loop => {
                let Some(block) = blocks.last_mut() else {
                    return Err(syntax(
                        source,
                        line,
                        "loop_ appears before any data_ block".into(),
                    ));
                };
                let mut j = i + 1;
                let mut tags = Vec::new();
                while let Some((Tok::Tag(t), _)) = toks.get(j) {
                    tags.push(t.clone());
                    j += 1;
                }
                let at_end = |k: usize| k >= toks.len();
                if tags.is_empty() {
                    let msg = format!("loop_ at line {line} has no tags");
                    return Err(if at_end(j) {
                        Error::new(source, Location::Line(line), ErrorKind::Truncated(msg))
                    } else {
                        syntax(source, line, msg)
                    });
                }
                let mut values = Vec::new();
                while let Some((Tok::Value(v), _)) = toks.get(j) {
                    values.push(v.clone());
                    j += 1;
                }
                if values.is_empty() {
                    let msg = format!("loop_ at line {line} ({}) has no values", tags.join(", "));
                    return Err(if at_end(j) {
                        Error::new(source, Location::Line(line), ErrorKind::Truncated(msg))
                    } else {
                        syntax(source, line, msg)
                    });
                }
                if values.len() % tags.len() != 0 {
                    let last_line = values.last().map(|v| v.line).unwrap_or(line);
                    let msg = format!(
                        "loop_ at line {line} has {} values for its {} columns ({}): the last row is incomplete",
                        values.len(),
                        tags.len(),
                        tags.join(", ")
                    );
                    return Err(if at_end(j) {
                        Error::new(source, Location::Line(last_line), ErrorKind::Truncated(msg))
                    } else {
                        syntax(source, last_line, msg)
                    });
                }
                block.loops.push(Loop { tags, values });
                i = j;
            }
        }
    }
    Ok(blocks)
}

/// Block names found by a lenient line scan (works on files too broken to parse).
pub(crate) fn scan_block_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_text_field = false;
    for line in text.lines() {
        if line.starts_with(';') {
            in_text_field = !in_text_field;
            continue;
        }
        if in_text_field {
            continue;
        }
        if let Some(word) = line.split_whitespace().next() {
            if word.len() >= 5 && word[..5].eq_ignore_ascii_case("data_") {
                names.push(word[5..].to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_quotes_text_fields_comments() {
        let text = "# header\ndata_x\n_a 'it''s 1'  # c\n_b \"x y\"\n_c\n;line 1\nline 2\n;\n_d ?\n_e '?'\nloop_\n_l_1 _l_2\n1 2 3 4\n";
        let blocks = parse(text, "t.cif").unwrap();
        let b = &blocks[0];
        assert_eq!(b.name, "x");
        assert_eq!(b.item("_a").unwrap().text, "it''s 1");
        assert_eq!(b.item("_b").unwrap().text, "x y");
        assert_eq!(b.item("_c").unwrap().text, "line 1\nline 2");
        assert!(b.item("_d").unwrap().is_null());
        assert!(!b.item("_e").unwrap().is_null());
        let l = b.loop_with("_l_2").unwrap();
        assert_eq!(l.rows(), 2);
        assert_eq!(l.get(1, 1).text, "4");
        assert_eq!(b.values("_l_1").len(), 2);
    }

    #[test]
    fn loop_errors_name_lines() {
        let err = parse("data_x\nloop_\n_a\n_b\n1 2\n3\n", "t.cif").unwrap_err();
        assert_eq!(err.location, Location::Line(6));
        assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
        let err = parse("data_x\nloop_\n_a\n_b\n1 2\n3\n_c 5\n", "t.cif").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Syntax(_)), "{err}");
        let err = parse("data_x\nloop_\n_a\n", "t.cif").unwrap_err();
        assert_eq!(err.location, Location::Line(2));
        let err = parse("data_x\n_a 'open\n_b 1\n", "t.cif").unwrap_err();
        assert_eq!(err.location, Location::Line(2));
        let err = parse("data_x\n_c\n;never closed\n", "t.cif").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Truncated(_)));
        let err = parse("_a 1\n", "t.cif").unwrap_err();
        assert_eq!(err.location, Location::Line(1));
    }

    #[test]
    fn ddlm_tags_and_block_scan() {
        let b = &parse("data_A\n_Atom_Site.Fract_X 0.5\n", "t").unwrap()[0];
        assert_eq!(b.item("_atom_site_fract_x").unwrap().text, "0.5");
        assert_eq!(
            scan_block_names("data_a\n;\ndata_no\n;\nDATA_b x\n"),
            vec!["a", "b"]
        );
    }
}
