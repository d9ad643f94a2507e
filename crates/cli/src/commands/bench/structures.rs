//! The shipped structure datasets as `(id, Structure)` pairs: the input of `bench graphs`,
//! `bench modalities` and `bench encoders`, in its own module so none of them imports another.

use anyhow::Context;
use multimat_crystal::io::json::structure_from_value;
use multimat_crystal::Structure;
use serde_json::Value;

/// Loads pymatgen structures from the shipped dataset files.
pub fn load_structures(
    path: &std::path::Path,
    limit: usize,
) -> anyhow::Result<Vec<(String, Structure)>> {
    let name = path.display().to_string();
    let text = multimat_crystal::io::read_text(path)?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{name}: invalid JSON"))?;
    let mut out = Vec::new();
    match &value {
        Value::Array(items) => {
            for (i, doc) in items.iter().enumerate().take(limit) {
                let id = doc
                    .get("mp_id")
                    .or(doc.get("material_id"))
                    .and_then(Value::as_str)
                    .map(String::from);
                let s =
                    structure_from_value(&doc["structure"], &name, &format!("[{i}].structure"))?;
                out.push((id.unwrap_or_else(|| i.to_string()), s));
            }
        }
        Value::Object(map) if map.get("structure").is_some_and(Value::is_object) => {
            let table = map["structure"].as_object().expect("checked");
            for (key, doc) in table.iter().take(limit) {
                let s = structure_from_value(doc, &name, &format!("structure.{key}"))?;
                out.push((key.clone(), s));
            }
        }
        _ => anyhow::bail!(
            "{name}: expected a list of documents or a {{\"structure\": {{...}}}} table"
        ),
    }
    Ok(out)
}
