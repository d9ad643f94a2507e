//! pymatgen Structure JSON reader and writer against real Materials Project structure dicts
//! (fixtures/structures/json, copied verbatim from the matcalc MP elasticity benchmark).

mod formats_support;

use formats_support::*;
use multimat_crystal::io::json::{
    read_pymatgen_json, structure_from_value, structure_to_value, write_pymatgen_json,
};
use multimat_crystal::io::{parse_structure, Format, ReadOptions};
use multimat_crystal::{ErrorKind, Location};
use serde_json::{json, Value};

#[test]
fn every_json_fixture_matches_pymatgen() {
    // 11 MP structures + summary-document wrapper, disorder, oxidation states, xyz-only sites.
    assert_eq!(check_all("json/"), 15);
}

#[test]
fn labels_disorder_and_oxidation_states() {
    let s = read("json/mp-975512_InSb3.json");
    assert_eq!(s.sites[1].label.as_deref(), Some("Sb1"));

    let d = read("json/Fe4N_disordered_Fe0.75Co0.25.json");
    assert!(!d.is_ordered());
    let fe_sites: Vec<_> = d.sites.iter().filter(|x| x.occupants.len() == 2).collect();
    assert_eq!(fe_sites.len(), 4);
    let occ: Vec<(u8, f64)> = fe_sites[0]
        .occupants
        .iter()
        .map(|o| (o.z, o.occupancy))
        .collect();
    assert_eq!(occ, vec![(26, 0.75), (27, 0.25)]);
    assert!((d.composition()["Co"] - 1.0).abs() < 1e-12);

    let o = read("json/Al2O3_oxidation_states.json");
    for site in &o.sites {
        let want = if site.z() == 13 { 3.0 } else { -2.0 };
        assert_eq!(site.occupants[0].oxidation, Some(want));
    }
}

#[test]
fn wrapped_and_embedded_structures() {
    let doc = read("json/mp_summary_doc_mp-535.json");
    let plain = read("json/mp-535_Fe4N.json");
    assert_same_structure("summary doc", &doc, &plain, 1e-12);

    // A DOS-like document with the structure under "structure": errors carry the full path.
    let text = std::fs::read_to_string(fixtures().join("json/mp-535_Fe4N.json")).unwrap();
    let mut inner: Value = serde_json::from_str(&text).unwrap();
    let dos = json!({"@class": "CompleteDos", "efermi": 5.1, "structure": inner.clone()});
    let s = read_pymatgen_json(&dos.to_string(), "dos.json").unwrap();
    assert_same_structure("dos wrapper", &s, &plain, 0.0);
    inner["sites"][3]["abc"] = json!([0.5, 0.5]);
    let dos = json!({"@class": "CompleteDos", "structure": inner.clone()});
    let e = read_pymatgen_json(&dos.to_string(), "dos.json").unwrap_err();
    assert_eq!(
        e.location,
        Location::Key("structure.sites[3].abc".into()),
        "{e}"
    );
    assert!(matches!(e.kind, ErrorKind::Syntax(_)));

    // Embedded deeper: the caller names the prefix.
    let big = json!({"entries": [{"structure": inner}]});
    let e = structure_from_value(
        &big["entries"][0]["structure"],
        "big.json",
        "entries[0].structure",
    )
    .unwrap_err();
    assert_eq!(
        e.location,
        Location::Key("entries[0].structure.sites[3].abc".into())
    );

    // A pymatgen object without a structure.
    let e = read_pymatgen_json(r#"{"@class": "Molecule", "sites": []}"#, "m.json").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Unsupported(_)), "{e}");
}

#[test]
fn lattice_parameters_fallback_and_old_species_strings() {
    let text = r#"{"lattice": {"a": 4.0, "b": 4.0, "c": 4.0, "alpha": 90, "beta": 90, "gamma": 90},
        "sites": [{"species": [{"element": "Fe2+", "occu": 1}], "abc": [0, 0, 0]},
                  {"species": [{"element": "O", "occu": 1, "oxidation_state": -2}], "xyz": [2, 2, 2]}]}"#;
    let s = read_pymatgen_json(text, "x.json").unwrap();
    assert!((s.lattice.volume() - 64.0).abs() < 1e-9);
    assert_eq!(s.sites[0].occupants[0].oxidation, Some(2.0));
    assert!(
        s.sites[1].frac.iter().all(|x| (x - 0.5).abs() < 1e-15),
        "{:?}",
        s.sites[1].frac
    );
}

#[test]
fn corrupted_files_name_kind_and_key() {
    let e = read_err("json/bad/truncated.json");
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
    assert!(matches!(e.location, Location::Line(n) if n > 10), "{e}");

    let e = read_err("json/bad/non_numeric_abc.json");
    assert!(is_invalid_number(&e.kind, "0.75a"), "{e}");
    assert_eq!(e.location, Location::Key("sites[2].abc[1]".into()));

    let e = read_err("json/bad/unknown_element.json");
    assert_eq!(e.kind, ErrorKind::UnknownElement("Xq".into()));
    assert_eq!(
        e.location,
        Location::Key("sites[1].species[0].element".into())
    );

    let e = read_err("json/bad/zero_volume.json");
    assert!(matches!(e.kind, ErrorKind::ZeroVolume(_)), "{e}");
    assert_eq!(e.location, Location::Key("lattice.matrix".into()));

    let e = read_err("json/bad/overlapping_atoms.json");
    assert!(
        matches!(e.kind, ErrorKind::OverlappingAtoms { i: 3, j: 4, .. }),
        "{e}"
    );
    assert_eq!(e.location, Location::Site(4));

    let e = read_err("json/bad/missing_lattice.json");
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("lattice")),
        "{e}"
    );
    assert_eq!(e.location, Location::Key("lattice".into()));

    let e = read_err("json/bad/occupancy_above_one.json");
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("1.5")),
        "{e}"
    );
    assert_eq!(e.location, Location::Key("sites[0].species[0].occu".into()));

    let e = read_err("json/bad/not_an_object.json");
    assert!(
        matches!(e.kind, ErrorKind::Syntax(_)) && e.location == Location::File,
        "{e}"
    );

    let e = read_err("json/bad/empty.json");
    assert_eq!((e.kind, e.location), (ErrorKind::Empty, Location::File));
    let e = read_err("json/bad/binary.json");
    assert_eq!((e.kind, e.location), (ErrorKind::Binary, Location::File));

    let e = read_pymatgen_json("{\"lattice\": [1, 2,, 3]}", "s.json").unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Syntax(_)) && e.location == Location::Line(1),
        "{e}"
    );
}

#[test]
fn writer_round_trips() {
    // Labels, partial occupancies and oxidation states come back unchanged; numbers are written
    // in shortest round-trip form, and serde_json (without its `float_roundtrip` feature) may
    // read a decimal 1 ulp off, hence the 1e-15 tolerance.
    let files = expected_files();
    for rel in files.keys().filter(|k| k.starts_with("json/")) {
        let s = read(rel);
        let text = write_pymatgen_json(&s);
        let back =
            read_pymatgen_json(&text, "written.json").unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_same_structure(rel, &back, &s, 1e-15);
        let labels = |x: &multimat_crystal::Structure| {
            x.sites.iter().map(|s| s.label.clone()).collect::<Vec<_>>()
        };
        assert_eq!(labels(&back), labels(&s), "{rel}");
    }
}

#[test]
fn writer_emits_pymatgen_keys() {
    let s = read("json/Al2O3_oxidation_states.json");
    let v = structure_to_value(&s);
    assert_eq!(v["@module"], "pymatgen.core.structure");
    assert_eq!(v["@class"], "Structure");
    assert_eq!(v["charge"], 0.0, "Al8 O12 with +3/-2 is neutral");
    let lattice = &v["lattice"];
    for key in ["a", "b", "c", "alpha", "beta", "gamma", "volume"] {
        assert!(lattice[key].is_f64(), "lattice.{key}");
    }
    assert!((lattice["volume"].as_f64().unwrap() - s.lattice.volume()).abs() < 1e-9);
    let site = &v["sites"][0];
    assert_eq!(site["species"][0]["oxidation_state"], 3.0);
    let xyz = s.cart_coords()[0];
    for k in 0..3 {
        assert_eq!(site["xyz"][k].as_f64().unwrap(), xyz[k]);
    }
    assert!(site["properties"].is_object() && site["label"].is_string());
}

#[test]
fn golden_output_loads_in_pymatgen() {
    for (rel, name) in [
        (
            "json/Fe4N_disordered_Fe0.75Co0.25.json",
            "Fe4N_disordered.json",
        ),
        (
            "json/Al2O3_oxidation_states.json",
            "Al2O3_oxidation_states.json",
        ),
        ("json/mp-2856_Mn4Al11.json", "mp-2856_Mn4Al11.json"),
    ] {
        let s = read(rel);
        let text = write_pymatgen_json(&s);
        golden(name, &text);
        let parsed =
            parse_structure(&text, name, Format::PymatgenJson, &ReadOptions::default()).unwrap();
        assert_same_structure(name, &parsed, &s, 1e-15);
    }
    for name in [
        "Fe4N_disordered.json",
        "Al2O3_oxidation_states.json",
        "mp-2856_Mn4Al11.json",
    ] {
        assert!(
            pymatgen_verified(name),
            "{name}: run tools/fixtures/formats_check_written.py"
        );
    }
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let text = std::fs::read_to_string(fixtures().join("json/mp-975512_InSb3.json")).unwrap();
    let end = text.trim_end().len();
    for cut in (0..end).step_by(7) {
        let e = read_pymatgen_json(&text[..cut], "cut.json").expect_err(&format!("{cut} bytes"));
        assert!(
            matches!(e.kind, ErrorKind::Truncated(_) | ErrorKind::Empty),
            "{cut} bytes: {e}"
        );
    }
}
