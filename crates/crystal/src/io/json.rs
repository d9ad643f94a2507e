//! pymatgen `Structure.as_dict()` JSON, as the Materials Project API serves it.
//!
//! Fractional `abc` coordinates are used, Cartesian `xyz` (Å) when `abc` is missing. Several
//! species on one site become a disordered site with all occupants. A document that wraps the
//! structure under a `structure` key (MP summary documents, pymatgen DOS objects) is read too;
//! [`structure_from_value`] reads a structure embedded anywhere in a larger document.

use serde_json::{json, Map, Value};

use crate::element::{parse_species, z_of_symbol};
use crate::error::{Error, ErrorKind, Location};
use crate::lattice::Lattice;
use crate::structure::{Occupant, Site, Structure};

/// Occupancies may exceed 1 by this much (rounding in files written with few digits).
const OCCUPANCY_SLACK: f64 = 1e-6;

/// Parses a pymatgen Structure JSON document (or a document with the structure under a
/// top-level `structure` key). JSON syntax errors carry the line number; errors in the content
/// carry the JSON path (e.g. `sites[3].abc`).
pub fn read_pymatgen_json(text: &str, source_name: &str) -> Result<Structure, Error> {
    if text.trim().is_empty() {
        return Err(Error::new(source_name, Location::File, ErrorKind::Empty));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let location = Location::Line(e.line());
        let kind = if e.is_eof() {
            ErrorKind::Truncated(format!("JSON ends early ({e})"))
        } else {
            ErrorKind::Syntax(format!("invalid JSON ({e})"))
        };
        Error::new(source_name, location, kind)
    })?;
    let Some(obj) = value.as_object() else {
        return Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax(format!(
                "expected a JSON object (a pymatgen Structure), found {}",
                kind_of(&value)
            )),
        ));
    };
    if !obj.contains_key("lattice") {
        if let Some(inner) = obj.get("structure") {
            return structure_from_value(inner, source_name, "structure");
        }
        let class = obj.get("@class").and_then(Value::as_str);
        if let Some(class) = class.filter(|c| !matches!(*c, "Structure" | "IStructure")) {
            return Err(Error::new(
                source_name,
                Location::Key("@class".into()),
                ErrorKind::Unsupported(format!(
                    "pymatgen {class} is not a periodic Structure (no lattice)"
                )),
            ));
        }
    }
    structure_from_value(&value, source_name, "")
}

/// Reads the pymatgen Structure dict `v`, which sits at JSON path `key_prefix` of a larger
/// document (`""` for the top level); error locations are [`Location::Key`] paths that start
/// with `key_prefix`, e.g. `structure.sites[3].abc`.
pub fn structure_from_value(
    v: &Value,
    source_name: &str,
    key_prefix: &str,
) -> Result<Structure, Error> {
    let r = Reader {
        source: source_name,
    };
    let obj = r.object(v, key_prefix)?;
    let lattice_key = join(key_prefix, "lattice");
    let lattice_obj = r.object(r.field(obj, key_prefix, "lattice")?, &lattice_key)?;
    let lattice = r.lattice(lattice_obj, &lattice_key)?;

    let sites_key = join(key_prefix, "sites");
    let sites_value = r.field(obj, key_prefix, "sites")?;
    let Some(sites_array) = sites_value.as_array() else {
        return Err(r.err(
            &sites_key,
            ErrorKind::Syntax(format!("expected an array, found {}", kind_of(sites_value))),
        ));
    };
    let mut sites = Vec::with_capacity(sites_array.len());
    for (i, site) in sites_array.iter().enumerate() {
        sites.push(r.site(site, &format!("{sites_key}[{i}]"), &lattice)?);
    }
    Ok(Structure::new(lattice, sites))
}

struct Reader<'a> {
    source: &'a str,
}

impl Reader<'_> {
    fn err(&self, key: &str, kind: ErrorKind) -> Error {
        Error::new(self.source, Location::Key(key.to_string()), kind)
    }

    fn object<'v>(&self, v: &'v Value, key: &str) -> Result<&'v Map<String, Value>, Error> {
        v.as_object().ok_or_else(|| {
            let at = if key.is_empty() { "the top level" } else { key };
            self.err(
                key,
                ErrorKind::Syntax(format!("expected an object at {at}, found {}", kind_of(v))),
            )
        })
    }

    fn field<'v>(
        &self,
        obj: &'v Map<String, Value>,
        prefix: &str,
        name: &str,
    ) -> Result<&'v Value, Error> {
        obj.get(name).ok_or_else(|| {
            self.err(
                &join(prefix, name),
                ErrorKind::Syntax(format!("missing key \"{name}\"")),
            )
        })
    }

    fn number(&self, v: &Value, key: &str, what: &str) -> Result<f64, Error> {
        v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
            let found = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            self.err(
                key,
                ErrorKind::InvalidNumber {
                    what: what.into(),
                    found,
                },
            )
        })
    }

    fn vec3(&self, v: &Value, key: &str, what: &str) -> Result<[f64; 3], Error> {
        match v.as_array() {
            Some(a) if a.len() == 3 => Ok([
                self.number(&a[0], &format!("{key}[0]"), what)?,
                self.number(&a[1], &format!("{key}[1]"), what)?,
                self.number(&a[2], &format!("{key}[2]"), what)?,
            ]),
            _ => Err(self.err(
                key,
                ErrorKind::Syntax(format!("expected three numbers, found {v}")),
            )),
        }
    }

    /// `matrix` (rows = lattice vectors, Å) or, failing that, a, b, c (Å) and α, β, γ (°).
    fn lattice(&self, obj: &Map<String, Value>, key: &str) -> Result<Lattice, Error> {
        if let Some(m) = obj.get("matrix") {
            let mkey = join(key, "matrix");
            let rows = match m.as_array() {
                Some(rows) if rows.len() == 3 => rows,
                _ => {
                    return Err(self.err(
                        &mkey,
                        ErrorKind::Syntax(format!("expected a 3×3 array, found {m}")),
                    ))
                }
            };
            let mut matrix = [[0.0; 3]; 3];
            for (i, row) in rows.iter().enumerate() {
                matrix[i] = self.vec3(row, &format!("{mkey}[{i}]"), "lattice vector component")?;
            }
            return Lattice::new(matrix).map_err(|kind| self.err(&mkey, kind));
        }
        let mut p = [0.0; 6];
        for (slot, name) in p.iter_mut().zip(["a", "b", "c", "alpha", "beta", "gamma"]) {
            *slot = self.number(
                self.field(obj, key, name)?,
                &join(key, name),
                "lattice parameter",
            )?;
        }
        Lattice::from_parameters(p[0], p[1], p[2], p[3], p[4], p[5])
            .map_err(|kind| self.err(key, kind))
    }

    fn site(&self, v: &Value, key: &str, lattice: &Lattice) -> Result<Site, Error> {
        let obj = self.object(v, key)?;
        let species_key = join(key, "species");
        let species = self.field(obj, key, "species")?;
        let list = match species.as_array() {
            Some(list) if !list.is_empty() => list,
            _ => {
                return Err(self.err(
                    &species_key,
                    ErrorKind::Syntax(format!(
                        "expected a non-empty array of species, found {species}"
                    )),
                ))
            }
        };
        let mut occupants = Vec::with_capacity(list.len());
        for (j, sp) in list.iter().enumerate() {
            let sp_key = format!("{species_key}[{j}]");
            let sp_obj = self.object(sp, &sp_key)?;
            let el_key = join(&sp_key, "element");
            let el_value = self.field(sp_obj, &sp_key, "element")?;
            let Some(el) = el_value.as_str() else {
                return Err(self.err(
                    &el_key,
                    ErrorKind::Syntax(format!("expected an element symbol, found {el_value}")),
                ));
            };
            let (z, written_oxidation) = species_z(el)
                .ok_or_else(|| self.err(&el_key, ErrorKind::UnknownElement(el.to_string())))?;
            let occupancy = match sp_obj.get("occu") {
                Some(o) => self.number(o, &join(&sp_key, "occu"), "occupancy")?,
                None => 1.0,
            };
            if !(occupancy > 0.0 && occupancy <= 1.0 + OCCUPANCY_SLACK) {
                return Err(self.err(
                    &join(&sp_key, "occu"),
                    ErrorKind::Syntax(format!("occupancy {occupancy} lies outside (0, 1]")),
                ));
            }
            let oxidation = match sp_obj.get("oxidation_state") {
                None | Some(Value::Null) => written_oxidation,
                Some(o) => {
                    Some(self.number(o, &join(&sp_key, "oxidation_state"), "oxidation state")?)
                }
            };
            occupants.push(Occupant {
                z,
                occupancy,
                oxidation,
            });
        }
        let total: f64 = occupants.iter().map(|o| o.occupancy).sum();
        if total > 1.0 + OCCUPANCY_SLACK {
            return Err(self.err(
                &species_key,
                ErrorKind::Syntax(format!("occupancies on one site add up to {total} > 1")),
            ));
        }
        let frac = if let Some(abc) = obj.get("abc") {
            self.vec3(abc, &join(key, "abc"), "fractional coordinate")?
        } else if let Some(xyz) = obj.get("xyz") {
            lattice.to_fractional(self.vec3(xyz, &join(key, "xyz"), "Cartesian coordinate")?)
        } else {
            return Err(self.err(
                key,
                ErrorKind::Syntax("site has neither \"abc\" nor \"xyz\" coordinates".into()),
            ));
        };
        let label = obj.get("label").and_then(Value::as_str).map(str::to_string);
        Ok(Site {
            frac,
            occupants,
            label,
        })
    }
}

/// `Fe` (exact case, as pymatgen writes it) or an old-style species string `Fe2+`.
fn species_z(el: &str) -> Option<(u8, Option<f64>)> {
    let letters: String = el.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let z = z_of_symbol(&letters)?;
    if letters.len() == el.len() {
        return Some((z, None));
    }
    match parse_species(el) {
        Some((pz, Some(ox))) if pz == z => Some((z, Some(ox))),
        _ => None,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The pymatgen `Structure.as_dict()` of `s` as a JSON value: `@module`/`@class`, `charge`
/// (the formal charge from the oxidation states, 0 without them), the lattice (matrix in Å plus
/// a, b, c in Å, α, β, γ in degrees, volume in Å³, `pbc`) and every site with its species
/// (occupancy and oxidation state), `abc`, `xyz` (Å), `label` and empty `properties`.
pub fn structure_to_value(s: &Structure) -> Value {
    let p = s.lattice.parameters();
    let sites: Vec<Value> = s
        .sites
        .iter()
        .zip(s.cart_coords())
        .map(|(site, xyz)| {
            let species: Vec<Value> = site
                .occupants
                .iter()
                .map(|o| {
                    let mut sp =
                        json!({"element": super::poscar::symbol_of(o.z), "occu": o.occupancy});
                    if let Some(ox) = o.oxidation {
                        sp["oxidation_state"] = json!(ox);
                    }
                    sp
                })
                .collect();
            json!({
                "species": species,
                "abc": site.frac,
                "xyz": xyz,
                "label": site.label.clone().unwrap_or_else(|| pymatgen_species_string(site)),
                "properties": {},
            })
        })
        .collect();
    let charge: f64 = s
        .sites
        .iter()
        .flat_map(|x| &x.occupants)
        .map(|o| o.oxidation.unwrap_or(0.0) * o.occupancy)
        .sum();
    json!({
        "@module": "pymatgen.core.structure",
        "@class": "Structure",
        "charge": charge,
        "lattice": {
            "matrix": s.lattice.matrix(),
            "pbc": [true, true, true],
            "a": p.a, "b": p.b, "c": p.c,
            "alpha": p.alpha, "beta": p.beta, "gamma": p.gamma,
            "volume": p.volume,
        },
        "properties": {},
        "sites": sites,
    })
}

/// pymatgen's default site label: `Fe`, or `Fe:0.75, Co:0.25` for a disordered site.
fn pymatgen_species_string(site: &Site) -> String {
    if site.is_ordered() {
        return super::poscar::symbol_of(site.occupants[0].z).to_string();
    }
    site.occupants
        .iter()
        .map(|o| format!("{}:{}", super::poscar::symbol_of(o.z), o.occupancy))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes `s` as pretty-printed pymatgen Structure JSON (see [`structure_to_value`]) that
/// `Structure.from_dict(json.load(f))` loads; partial occupancies and oxidation states are kept.
pub fn write_pymatgen_json(s: &Structure) -> String {
    let mut text = serde_json::to_string_pretty(&structure_to_value(s)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn species_strings() {
        assert_eq!(species_z("Fe"), Some((26, None)));
        assert_eq!(species_z("Fe2+"), Some((26, Some(2.0))));
        assert_eq!(species_z("O2-"), Some((8, Some(-2.0))));
        assert_eq!(species_z("Fe1"), None);
        assert_eq!(species_z("FE"), None);
        assert_eq!(species_z("X"), None);
    }

    #[test]
    fn embedded_structure_errors_name_the_full_path() {
        let doc: Value = serde_json::from_str(
            r#"{"lattice": {"matrix": [[3,0,0],[0,3,0],[0,0,3]]},
                "sites": [{"species": [{"element": "Na", "occu": 1}], "abc": [0, 0, "x"]}]}"#,
        )
        .unwrap();
        let err = structure_from_value(&doc, "dos.json", "data[2].structure").unwrap_err();
        assert_eq!(
            err.location,
            Location::Key("data[2].structure.sites[0].abc[2]".into())
        );
        assert!(matches!(err.kind, ErrorKind::InvalidNumber { .. }));
    }
}
