//! CIF reader/writer against pymatgen: fixtures/structures/cif/*.cif with expected values from
//! tools/fixtures/cif_expected.py (expected.json), corrupted copies in bad/, and inline CIFs for
//! the merging rules and error paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use multimat_crystal::io::cif::{block_names, read_cif, write_cif};
use multimat_crystal::io::{read_structure, ReadOptions};
use multimat_crystal::{ErrorKind, Location, Structure};
use serde_json::Value as Json;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/structures/cif")
}

fn expected() -> Json {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json"))
        .expect("expected.json is readable");
    serde_json::from_str(&text).expect("expected.json is valid JSON")
}

fn read(name: &str, block: Option<&str>) -> Structure {
    let options = ReadOptions {
        block: block.map(str::to_string),
        ..Default::default()
    };
    read_structure(&fixture_dir().join(name), &options).unwrap_or_else(|e| panic!("{e}"))
}

fn f(v: &Json) -> f64 {
    v.as_f64().expect("a number in expected.json")
}

fn wrapped_delta(a: f64, b: f64) -> f64 {
    let d = a - b;
    (d - d.round()).abs()
}

/// Species of a site as element → occupancy (oxidation states dropped, as in expected.json).
fn species_of(s: &Structure, i: usize) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for o in &s.sites[i].occupants {
        let sym = multimat_crystal::element(o.z).unwrap().symbol.to_string();
        *out.entry(sym).or_insert(0.0) += o.occupancy;
    }
    out
}

fn same_species(a: &BTreeMap<String, f64>, b: &Json) -> bool {
    let b = b.as_object().expect("species object");
    a.len() == b.len()
        && b.iter()
            .all(|(k, v)| a.get(k).is_some_and(|x| (x - f(v)).abs() < 1e-6))
}

/// Compares a parsed structure with one expected.json entry; returns the problems found.
fn compare(name: &str, s: &Structure, e: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let nsites = e["nsites"].as_u64().unwrap() as usize;
    if s.num_sites() != nsites {
        problems.push(format!(
            "{name}: {} sites, pymatgen {nsites}",
            s.num_sites()
        ));
        return problems;
    }
    let comp = s.composition();
    for (el, amount) in e["composition"].as_object().unwrap() {
        let got = comp.get(el).copied().unwrap_or(0.0);
        if (got - f(amount)).abs() > 1e-6 {
            problems.push(format!("{name}: {el} amount {got}, pymatgen {}", f(amount)));
        }
    }
    if comp.len() != e["composition"].as_object().unwrap().len() {
        problems.push(format!(
            "{name}: composition {comp:?} differs from {}",
            e["composition"]
        ));
    }
    let p = s.lattice.parameters();
    let got = [p.a, p.b, p.c, p.alpha, p.beta, p.gamma];
    let want: Vec<f64> = e["abc"]
        .as_array()
        .unwrap()
        .iter()
        .chain(e["angles"].as_array().unwrap())
        .map(f)
        .collect();
    for k in 0..6 {
        if (got[k] - want[k]).abs() > 2e-6 * want[k].max(1.0) {
            problems.push(format!(
                "{name}: lattice parameter {k} = {}, pymatgen {}",
                got[k], want[k]
            ));
        }
    }
    if (p.volume - f(&e["volume"])).abs() > 1e-4 * f(&e["volume"]) {
        problems.push(format!(
            "{name}: volume {} Å³, pymatgen {}",
            p.volume, e["volume"]
        ));
    }
    if (s.density() - f(&e["density"])).abs() > 1e-4 * f(&e["density"]) {
        problems.push(format!(
            "{name}: density {} g/cm³, pymatgen {}",
            s.density(),
            e["density"]
        ));
    }
    // Every pymatgen site must match exactly one of ours (same species, same position).
    let mut used = vec![false; s.num_sites()];
    for site in e["sites"].as_array().unwrap() {
        let row = site.as_array().unwrap();
        let frac = [f(&row[0]), f(&row[1]), f(&row[2])];
        let hit = (0..s.num_sites()).find(|&i| {
            !used[i]
                && (0..3).all(|k| wrapped_delta(s.sites[i].frac[k], frac[k]) < 2e-6)
                && same_species(&species_of(s, i), &row[3])
        });
        match hit {
            Some(i) => used[i] = true,
            None => problems.push(format!("{name}: no site matches pymatgen's {site}")),
        }
    }
    for site in &s.sites {
        if site.frac.iter().any(|&x| !(0.0..1.0).contains(&x)) {
            problems.push(format!(
                "{name}: site {:?} not wrapped into [0, 1)",
                site.frac
            ));
        }
    }
    problems
}

#[test]
fn every_fixture_matches_pymatgen() {
    let expected = expected();
    let structures = expected["structures"].as_object().unwrap();
    // 13 MP structures (P 1 originals, symmetrised copies, symbol-only variants), 3 CDVAE ones
    // and 9 hand-written files.
    assert!(
        structures.len() >= 38,
        "only {} fixtures in expected.json",
        structures.len()
    );
    let mut problems = Vec::new();
    for (key, e) in structures {
        let (file, block) = match key.split_once('#') {
            Some((f, b)) => (f, Some(b)),
            None => (key.as_str(), None),
        };
        let s = read(file, block);
        problems.extend(compare(key, &s, e));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn symbol_only_files_expand_like_their_operator_lists() {
    // The same asymmetric unit read through a symbol and through pymatgen's explicit operators.
    for (only, full) in [
        ("mp-1204045_hm_only.cif", "mp-1204045_sym.cif"),
        ("mp-1203026_hm_only.cif", "mp-1203026_sym.cif"),
        ("mp-1202969_hm_only.cif", "mp-1202969_sym.cif"),
        ("mp-1288145_hall_only.cif", "mp-1288145_sym.cif"),
        ("mp-1203076_hall_only.cif", "mp-1203076_sym.cif"),
        ("mp-1181398_number_only.cif", "mp-1181398_sym.cif"),
        ("mp-1203906_number_only.cif", "mp-1203906_sym.cif"),
    ] {
        let a = read(only, None);
        let b = read(full, None);
        assert_eq!(a.num_sites(), b.num_sites(), "{only} vs {full}");
        for sa in &a.sites {
            assert!(
                b.sites.iter().any(|sb| sb.occupants == sa.occupants
                    && (0..3).all(|k| wrapped_delta(sa.frac[k], sb.frac[k]) < 1e-7)),
                "{only}: site {sa:?} is not in {full}"
            );
        }
    }
}

#[test]
fn symmetrised_and_p1_copies_agree_in_density() {
    // pymatgen's CifWriter(symprec) writes the refined conventional cell, which may be larger
    // than the P 1 original, but the density of the material cannot change.
    for id in [
        "mp-1204515",
        "mp-1203906",
        "mp-1288145",
        "mp-1204045",
        "mp-1203208",
        "mp-1203076",
    ] {
        let p1 = read(&format!("{id}_p1.cif"), None);
        let sym = read(&format!("{id}_sym.cif"), None);
        let rel = (p1.density() - sym.density()).abs() / p1.density();
        assert!(
            rel < 1e-5,
            "{id}: {} vs {} g/cm³",
            p1.density(),
            sym.density()
        );
        assert_eq!(p1.reduced_formula(), sym.reduced_formula(), "{id}");
    }
}

#[test]
fn corrupted_files_give_located_errors() {
    let expected = expected();
    let errors = expected["errors"].as_object().unwrap();
    assert_eq!(errors.len(), 7);
    for (file, want) in errors {
        let path = fixture_dir().join("bad").join(file);
        let err = read_structure(&path, &ReadOptions::default()).expect_err(file);
        let message = err.to_string();
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        let kind = want["kind"].as_str().unwrap();
        let kind_ok = match (&err.kind, kind) {
            (ErrorKind::Truncated(_), "Truncated") => true,
            (ErrorKind::InvalidNumber { found, .. }, "InvalidNumber") => {
                found == want["found"].as_str().unwrap()
            }
            (ErrorKind::UnknownElement(sym), "UnknownElement") => {
                sym == want["found"].as_str().unwrap()
            }
            (ErrorKind::ZeroVolume(_), "ZeroVolume") => true,
            (ErrorKind::Empty, "Empty") | (ErrorKind::Binary, "Binary") => true,
            _ => false,
        };
        assert!(kind_ok, "{file}: expected {kind}, got {message}");
        if let Some(line) = want.get("line") {
            assert_eq!(
                err.location,
                Location::Line(line.as_u64().unwrap() as usize),
                "{file}: {message}"
            );
        }
        if let Some(tag) = want.get("tag") {
            assert_eq!(
                err.location,
                Location::Tag(tag.as_str().unwrap().to_string()),
                "{file}: {message}"
            );
        }
        if kind == "Empty" || kind == "Binary" {
            assert_eq!(err.location, Location::File);
        }
    }
}

#[test]
fn blocks_are_listed_and_selected_by_name() {
    let text = std::fs::read_to_string(fixture_dir().join("two_blocks.cif")).unwrap();
    assert_eq!(block_names(&text), vec!["global", "Cu", "Po"]);
    // Default: the first block with atom sites, not the first block.
    let cu = read_cif(&text, "two_blocks.cif", None).unwrap();
    assert_eq!(cu.reduced_formula(), "Cu");
    assert_eq!(cu.num_sites(), 4);
    let po = read_cif(&text, "two_blocks.cif", Some("po")).unwrap();
    assert_eq!(po.num_sites(), 1);
    assert!((po.lattice.parameters().a - 3.359).abs() < 1e-12);
    let err = read_cif(&text, "two_blocks.cif", Some("Ag")).unwrap_err();
    assert_eq!(err.location, Location::Tag("data_Ag".into()));
    assert!(err.to_string().contains("global, Cu, Po"), "{err}");
    let err = read_cif(&text, "two_blocks.cif", Some("global")).unwrap_err();
    assert_eq!(
        err.location,
        Location::Tag("_atom_site_fract_x".into()),
        "{err}"
    );
}

#[test]
fn uncertainties_text_fields_and_oxidation_states() {
    let quartz = read("SiO2_uncertainties.cif", None);
    let p = quartz.lattice.parameters();
    assert_eq!((p.a, p.c), (4.9134, 5.4052));
    assert!(quartz
        .sites
        .iter()
        .any(|s| (s.frac[0] - 0.4697).abs() < 1e-12 && s.frac[1] == 0.0));
    // `?` occupancy means fully occupied.
    assert!(quartz.is_ordered());

    let magnetite = read("Fe3O4_hall_only.cif", None);
    let mut states: Vec<(u8, i64)> = magnetite
        .sites
        .iter()
        .map(|s| (s.occupants[0].z, s.occupants[0].oxidation.unwrap() as i64))
        .collect();
    states.sort();
    states.dedup();
    assert_eq!(states, vec![(8, -2), (26, 2), (26, 3)]);
    assert_eq!(magnetite.reduced_formula(), "Fe3O4");
}

#[test]
fn disorder_is_one_site_with_several_occupants() {
    let feni = read("FeNi_disordered.cif", None);
    assert_eq!(feni.num_sites(), 4);
    for site in &feni.sites {
        assert_eq!(site.species_string(), "Fe:0.500,Ni:0.500");
    }
    assert!(feni.atomic_numbers("FeNi_disordered.cif").is_err());
    let lco = read("LiCoO2_partial.cif", None);
    assert_eq!(lco.composition().get("Li"), Some(&1.5));
    assert_eq!(lco.num_sites(), 12);
}

const NACL_HEAD: &str =
    "data_x\n_symmetry_space_group_name_H-M 'F m -3 m'\n_cell_length_a 5.64\n_cell_length_b 5.64\n\
_cell_length_c 5.64\n_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n";

fn nacl(rows: &str) -> String {
    format!(
        "{NACL_HEAD}loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n\
         _atom_site_fract_z\n_atom_site_occupancy\n{rows}"
    )
}

#[test]
fn merging_rules() {
    // Cl listed twice on equivalent positions: one Cl sublattice, not a doubly occupied one.
    let s = read_cif(
        &nacl("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\nCl2 Cl 0 0 0.5 1\n"),
        "dup.cif",
        None,
    )
    .unwrap();
    assert_eq!(s.num_sites(), 8);
    assert!(s.is_ordered());
    // Two half Cl rows on one position add up.
    let s = read_cif(
        &nacl("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 0.5\nCl2 Cl 0.5 0.5 0.5 0.5\n"),
        "half.cif",
        None,
    )
    .unwrap();
    assert!(s.is_ordered());
    // Positions off by less than the 0.01 Å tolerance are one site.
    let s = read_cif(
        &nacl("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\nCl2 Cl 0.5 0.5 0.5005 1\n"),
        "near.cif",
        None,
    )
    .unwrap();
    assert_eq!(s.num_sites(), 8);
    // Too much on one site.
    let err = read_cif(
        &nacl("Na1 Na 0 0 0 0.7\nK1 K 0 0 0 0.7\nCl1 Cl 0.5 0.5 0.5 1\n"),
        "over.cif",
        None,
    )
    .unwrap_err();
    assert_eq!(err.location, Location::Tag("_atom_site_occupancy".into()));
    assert!(err.to_string().contains("1.4"), "{err}");
    // An empty (zero-occupancy) row holds no atom.
    let s = read_cif(
        &nacl("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\nK1 K 0.25 0.25 0.25 0\n"),
        "zero.cif",
        None,
    )
    .unwrap();
    assert_eq!(s.num_sites(), 8);
}

#[test]
fn species_fall_back_to_labels() {
    let text = format!(
        "{NACL_HEAD}loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nNa1 0 0 0\nCl2 0.5 0.5 0.5\n"
    );
    let s = read_cif(&text, "labels.cif", None).unwrap();
    assert_eq!(s.reduced_formula(), "NaCl");
    let err = read_cif(&text.replace("Cl2", "Xx2"), "labels.cif", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownElement("Xx2".into()));
    assert_eq!(err.location, Location::Tag("_atom_site_label".into()));
}

#[test]
fn header_errors() {
    let rows = "Na1 Na 0 0 0 1\n";
    let err = read_cif(
        &nacl(rows).replace("_cell_length_c 5.64\n", ""),
        "nc.cif",
        None,
    )
    .unwrap_err();
    assert_eq!(err.location, Location::Tag("_cell_length_c".into()));
    let err = read_cif(
        &nacl(rows).replace("_cell_angle_beta 90", "_cell_angle_beta ?"),
        "q.cif",
        None,
    )
    .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::InvalidNumber { .. }));
    assert_eq!(err.location, Location::Tag("_cell_angle_beta".into()));
    let err = read_cif(
        &nacl(rows).replace("_cell_length_a 5.64", "_cell_length_a -5.64"),
        "n.cif",
        None,
    )
    .unwrap_err();
    assert_eq!(err.location, Location::Tag("_cell_length_a".into()));
    let err = read_cif(&nacl(rows).replace("'F m -3 m'", "'Q 9'"), "sg.cif", None).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Unsupported(_)), "{err}");
    assert_eq!(
        err.location,
        Location::Tag("_symmetry_space_group_name_h-m".into())
    );
    let with_op = nacl(rows).replace(
        "loop_\n",
        "loop_\n_symmetry_equiv_pos_as_xyz\n'x,y,w'\nloop_\n",
    );
    let err = read_cif(&with_op, "op.cif", None).unwrap_err();
    assert_eq!(
        err.location,
        Location::Tag("_symmetry_equiv_pos_as_xyz".into()),
        "{err}"
    );
    let err = read_cif(NACL_HEAD, "none.cif", None).unwrap_err();
    assert_eq!(err.location, Location::Tag("_atom_site_fract_x".into()));
    let err = read_cif("just some words\n", "words.cif", None).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Syntax(_)) && err.location == Location::File,
        "{err}"
    );
    assert_eq!(
        read_cif(" \n", "e.cif", None).unwrap_err().kind,
        ErrorKind::Empty
    );
    // Truncating a file anywhere never panics.
    let text = std::fs::read_to_string(fixture_dir().join("SiO2_uncertainties.cif")).unwrap();
    for cut in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
        let _ = read_cif(&text[..cut], "cut.cif", None);
    }
}

#[test]
fn no_symmetry_information_means_p1() {
    let text = nacl("Na1 Na 0 0 0 1\nCl1 Cl 0.5 0.5 0.5 1\n")
        .replace("_symmetry_space_group_name_H-M 'F m -3 m'\n", "");
    assert_eq!(read_cif(&text, "p1.cif", None).unwrap().num_sites(), 2);
}

#[test]
fn writer_round_trips_and_looks_like_pymatgen() {
    let expected = expected();
    for key in expected["structures"].as_object().unwrap().keys() {
        let (file, block) = match key.split_once('#') {
            Some((f, b)) => (f, Some(b)),
            None => (key.as_str(), None),
        };
        let s = read(file, block);
        let text = write_cif(&s, "round trip");
        let back =
            read_cif(&text, "written.cif", None).unwrap_or_else(|e| panic!("{key}: {e}\n{text}"));
        assert_eq!(back.num_sites(), s.num_sites(), "{key}");
        let (p, q) = (s.lattice.parameters(), back.lattice.parameters());
        for (x, y) in [
            (p.a, q.a),
            (p.b, q.b),
            (p.c, q.c),
            (p.alpha, q.alpha),
            (p.beta, q.beta),
            (p.gamma, q.gamma),
        ] {
            assert!((x - y).abs() < 1e-7, "{key}: {x} vs {y}");
        }
        for (a, b) in s.sites.iter().zip(&back.sites) {
            assert_eq!(a.occupants, b.occupants, "{key}");
            assert!(
                (0..3).all(|k| wrapped_delta(a.frac[k], b.frac[k]) < 1e-8),
                "{key}: {a:?} vs {b:?}"
            );
        }
    }
    let s = read("FeNi_disordered.cif", None);
    let text = write_cif(&s, "FeNi alloy");
    assert!(text.contains("data_FeNi_alloy\n"), "{text}");
    assert!(text.contains("_symmetry_space_group_name_H-M   'P 1'\n"));
    assert!(text.contains("_cell_length_a   3.58000000\n"));
    assert!(text.contains("  1  'x, y, z'\n"));
    assert!(text.contains(
        " _atom_site_type_symbol\n _atom_site_label\n _atom_site_symmetry_multiplicity\n _atom_site_fract_x\n \
         _atom_site_fract_y\n _atom_site_fract_z\n _atom_site_occupancy\n"
    ));
    assert!(
        text.contains("  Fe  Fe1  1  0.00000000  0.00000000  0.00000000  0.5\n"),
        "{text}"
    );
    assert!(
        text.contains("  Ni  Fe1  1  0.00000000  0.00000000  0.00000000  0.5\n"),
        "{text}"
    );
    let magnetite = write_cif(&read("Fe3O4_hall_only.cif", None), "");
    assert!(magnetite.contains("data_Fe3O4\n"));
    assert!(magnetite.contains("_cell_formula_units_Z   8\n"));
    assert!(magnetite.contains("  Fe3+  3.0\n"), "{magnetite}");
}

/// A P 1 21/c 1 asymmetric unit (two atoms on general positions) under the given symmetry lines.
fn monoclinic(symmetry: &str) -> String {
    format!(
        "data_m\n{symmetry}_cell_length_a 5.1\n_cell_length_b 6.2\n_cell_length_c 7.3\n\
         _cell_angle_alpha 90\n_cell_angle_beta 101.5\n_cell_angle_gamma 90\nloop_\n\
         _atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n\
         _atom_site_fract_z\nFe1 Fe 0.1 0.2 0.3\nO1 O 0.35 0.05 0.15\n"
    )
}

#[test]
fn compact_hall_symbols_expand_like_operator_lists() {
    let ops =
        "loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,y+1/2,-z+1/2\n-x,-y,-z\nx,-y+1/2,z+1/2\n";
    let reference = read_cif(&monoclinic(ops), "ops.cif", None).unwrap();
    assert_eq!(reference.num_sites(), 8);
    for hall in ["-P 2ybc", "-P2ybc", " -P2ybc "] {
        let text = monoclinic(&format!("_symmetry_space_group_name_Hall '{hall}'\n"));
        let s = read_cif(&text, "hall.cif", None).unwrap_or_else(|e| panic!("{hall:?}: {e}"));
        assert_eq!(s.num_sites(), reference.num_sites(), "{hall:?}");
        for sa in &s.sites {
            assert!(
                reference.sites.iter().any(|sb| sb.occupants == sa.occupants
                    && (0..3).all(|k| wrapped_delta(sa.frac[k], sb.frac[k]) < 1e-9)),
                "{hall:?}: site {sa:?} is not generated by the operator list"
            );
        }
    }
}

#[test]
fn unreadable_hall_symbols_fall_back_or_fail_loudly() {
    let garbage = "_symmetry_space_group_name_Hall '-P2qbc'\n";
    let err = read_cif(&monoclinic(garbage), "garbage.cif", None).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Unsupported(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains("garbage.cif"), "{message}");
    assert!(
        message
            .to_ascii_lowercase()
            .contains("_symmetry_space_group_name_hall"),
        "{message}"
    );
    assert!(
        message.contains("-P2qbc") && message.contains("'q'"),
        "{message}"
    );
    // The other space-group records of the file are used before giving up.
    for other in [
        "_symmetry_Int_Tables_number 14\n",
        "_symmetry_space_group_name_H-M 'P 1 21/c 1'\n",
    ] {
        let text = monoclinic(&format!("{garbage}{other}"));
        assert_eq!(
            read_cif(&text, "f.cif", None).unwrap().num_sites(),
            8,
            "{other}"
        );
    }
}
