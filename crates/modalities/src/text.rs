//! Text descriptions of materials (robocrystallographer). The model input is the frozen
//! text-encoder vector computed from these strings elsewhere (the text-embedding layer); this
//! module only reads the descriptions, keyed by material id.
//!
//! Accepted sources:
//! - Materials Project `materials/robocrys` documents (`{"material_id", "description", ...}`),
//!   as one JSON object, a JSON array, an MP API response (`{"data": [...]}`) or JSON lines;
//! - our robocrys JSONL (`{"id", "description", ...}`, see data/README.md);
//! - CSV files with `material_id` (or `id`) and `description` columns (LLM-Prop's layout).

use serde_json::Value;

use crate::{Error, ErrorKind, Location};

/// One description of one material.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Material id as the source gives it (`mp-149`, `dielectric-12`).
    pub id: String,
    /// The description, whitespace-trimmed and never empty.
    pub text: String,
}

/// Reads descriptions from JSON, JSON lines or CSV text (detected from the content).
pub fn read_descriptions(text: &str, source_name: &str) -> Result<Vec<Description>, Error> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[')
        || (trimmed.starts_with('{') && serde_json::from_str::<Value>(trimmed).is_ok())
    {
        let value: Value = serde_json::from_str(trimmed).map_err(|e| json_error(source_name, e))?;
        return from_json_value(&value, source_name, "");
    }
    if trimmed.starts_with('{') {
        return read_jsonl(text, source_name);
    }
    read_csv(text, source_name)
}

fn json_error(source_name: &str, e: serde_json::Error) -> Error {
    let kind = if e.is_eof() {
        ErrorKind::Truncated(e.to_string())
    } else {
        ErrorKind::Syntax(format!("invalid JSON: {e}"))
    };
    Error::new(source_name, Location::Line(e.line()), kind)
}

/// JSON lines: one document per line; blank lines are skipped.
pub fn read_jsonl(text: &str, source_name: &str) -> Result<Vec<Description>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            let kind = if e.is_eof() {
                ErrorKind::Truncated(e.to_string())
            } else {
                ErrorKind::Syntax(format!("invalid JSON: {e}"))
            };
            Error::new(source_name, Location::Line(i + 1), kind)
        })?;
        out.push(from_document(
            &value,
            source_name,
            &format!("line {}", i + 1),
        )?);
    }
    Ok(out)
}

/// A single document, an array of documents or an MP API response `{"data": [...]}`.
pub fn from_json_value(
    value: &Value,
    source_name: &str,
    prefix: &str,
) -> Result<Vec<Description>, Error> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| from_document(v, source_name, &format!("{prefix}[{i}]")))
            .collect(),
        Value::Object(map) if map.contains_key("data") && !map.contains_key("description") => {
            from_json_value(&map["data"], source_name, &format!("{prefix}data"))
        }
        _ => Ok(vec![from_document(value, source_name, prefix)?]),
    }
}

/// One robocrys document: the id from `material_id` or `id`, the text from `description`.
pub fn from_document(value: &Value, source_name: &str, key: &str) -> Result<Description, Error> {
    let at = |field: &str| {
        Location::Key(if key.is_empty() {
            field.to_string()
        } else {
            format!("{key}.{field}")
        })
    };
    let id = ["material_id", "id", "mp_id"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .ok_or_else(|| {
            Error::new(
                source_name,
                at("material_id"),
                ErrorKind::Syntax("document has no material_id or id".into()),
            )
        })?;
    let text = value
        .get("description")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::new(
                source_name,
                at("description"),
                ErrorKind::Syntax("document has no description string".into()),
            )
        })?;
    description(id, text, source_name, at("description"))
}

fn description(
    id: &str,
    text: &str,
    source_name: &str,
    location: Location,
) -> Result<Description, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::new(
            source_name,
            location,
            ErrorKind::Syntax(format!("description of {id} is empty")),
        ));
    }
    Ok(Description {
        id: id.trim().to_string(),
        text: text.to_string(),
    })
}

/// CSV with a header naming `material_id` (or `id`) and `description` columns.
pub fn read_csv(text: &str, source_name: &str) -> Result<Vec<Description>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::new(
                source_name,
                Location::Line(1),
                ErrorKind::Syntax(format!("bad CSV header: {e}")),
            )
        })?
        .clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let id_col = column(&["material_id", "id", "mp_id"]).ok_or_else(|| {
        Error::new(
            source_name,
            Location::Line(1),
            ErrorKind::Syntax("CSV header has no material_id/id column".into()),
        )
    })?;
    let text_col = column(&["description", "text"]).ok_or_else(|| {
        Error::new(
            source_name,
            Location::Line(1),
            ErrorKind::Syntax("CSV header has no description column".into()),
        )
    })?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            Error::new(
                source_name,
                Location::Line(line),
                ErrorKind::Syntax(format!("bad CSV row: {e}")),
            )
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let id = record.get(id_col).unwrap_or("");
        let text = record.get(text_col).unwrap_or("");
        out.push(description(id, text, source_name, Location::Line(line))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp_document_shapes() {
        let doc = r#"{"material_id": "mp-149", "description": " Si is diamond structured. ", "condensed_structure": {}}"#;
        let one = read_descriptions(doc, "a.json").unwrap();
        assert_eq!(
            one,
            vec![Description {
                id: "mp-149".into(),
                text: "Si is diamond structured.".into()
            }]
        );
        let api = format!(r#"{{"data": [{doc}, {doc}], "meta": {{}}}}"#);
        assert_eq!(read_descriptions(&api, "a.json").unwrap().len(), 2);
        let lines = format!("{doc}\n\n{doc}\n");
        assert_eq!(read_descriptions(&lines, "a.jsonl").unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_place() {
        let err = read_descriptions(
            "{\"id\": \"mp-1\", \"description\": \"ok\"}\n{\"id\": \"mp-2\"}\n",
            "t.jsonl",
        )
        .unwrap_err();
        assert_eq!(err.location, Location::Key("line 2.description".into()));
        let err =
            read_descriptions("{\"id\": \"mp-1\", \"description\": \"  \"}", "t.json").unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = read_descriptions("{\"id\": \"mp-1\", \"desc", "t.json").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
    }

    #[test]
    fn csv_with_multiline_fields() {
        let csv = "material_id,structure,description\nmp-1,\"line1\nline2\",\"Fe is bcc.\"\nmp-2,x,\"NaCl is rock salt.\"\n";
        let d = read_descriptions(csv, "t.csv").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].text, "NaCl is rock salt.");
        let err = read_descriptions("id,other\nmp-1,x\n", "t.csv").unwrap_err();
        assert!(err.to_string().contains("description"), "{err}");
    }
}
