//! Extended XYZ reader and writer against real Materials Project structures
//! (fixtures/structures/xyz, written by tools/fixtures/formats_make_fixtures.py).

mod formats_support;

use formats_support::*;
use multimat_crystal::io::json::write_pymatgen_json;
use multimat_crystal::io::poscar::{read_poscar, write_poscar};
use multimat_crystal::io::xyz::{read_extxyz, try_write_extxyz, write_extxyz};
use multimat_crystal::io::{parse_structure, Format, ReadOptions};
use multimat_crystal::{ErrorKind, Location};

#[test]
fn every_xyz_fixture_matches_pymatgen() {
    // 11 MP structures + extra columns, pos before species, two frames, Z column.
    assert_eq!(check_all("xyz/"), 15);
}

#[test]
fn first_frame_extra_columns_and_atomic_numbers() {
    let two = read("xyz/CaMg_two_frames.xyz");
    assert_eq!(two.num_sites(), 2, "only the first frame is read");
    let forces = read("xyz/Mn4Al11_forces_magmoms.extxyz");
    let plain = read("xyz/mp-2856_Mn4Al11.xyz");
    assert_same_structure("forces/magmoms columns", &forces, &plain, 1e-12);
    let z = read("xyz/Mo3H_atomic_numbers.xyz");
    assert_eq!(z.composition().get("H"), Some(&1.0));
    assert_eq!(z.composition().get("Mo"), Some(&3.0));
}

#[test]
fn corrupted_files_name_kind_and_line() {
    let e = read_err("xyz/bad/truncated.xyz");
    assert!(
        matches!(&e.kind, ErrorKind::Truncated(m) if m.contains("4 atom rows")),
        "{e}"
    );
    assert_line(&e, 5);

    let e = read_err("xyz/bad/non_numeric_position.xyz");
    assert!(is_invalid_number(&e.kind, "1,549"), "{e}");
    assert_line(&e, 4);

    let e = read_err("xyz/bad/missing_lattice.xyz");
    assert!(
        matches!(&e.kind, ErrorKind::Unsupported(m) if m.contains("Lattice")),
        "{e}"
    );
    assert_line(&e, 2);

    let e = read_err("xyz/bad/count_not_integer.xyz");
    assert!(is_invalid_number(&e.kind, "four"), "{e}");
    assert_line(&e, 1);

    let e = read_err("xyz/bad/unknown_element.xyz");
    assert_eq!(e.kind, ErrorKind::UnknownElement("Qq".into()));
    assert_line(&e, 5);

    let e = read_err("xyz/bad/zero_volume.xyz");
    assert!(matches!(e.kind, ErrorKind::ZeroVolume(_)), "{e}");
    assert_line(&e, 2);

    let e = read_err("xyz/bad/overlapping_atoms.xyz");
    assert!(
        matches!(e.kind, ErrorKind::OverlappingAtoms { i: 3, j: 4, .. }),
        "{e}"
    );
    assert_eq!(e.location, Location::Site(4));

    let e = read_err("xyz/bad/unterminated_quote.xyz");
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("quote")),
        "{e}"
    );
    assert_line(&e, 2);

    let e = read_err("xyz/bad/empty.xyz");
    assert_eq!((e.kind, e.location), (ErrorKind::Empty, Location::File));
    let e = read_err("xyz/bad/binary.xyz");
    assert_eq!((e.kind, e.location), (ErrorKind::Binary, Location::File));
}

#[test]
fn properties_errors() {
    let lat = "Lattice=\"4 0 0 0 4 0 0 0 4\"";
    let e = read_extxyz(
        &format!("1\n{lat} Properties=species:S:1\nNa 0 0 0\n"),
        "a.xyz",
    )
    .unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("pos:R:3")),
        "{e}"
    );
    assert_eq!(e.location, Location::Line(2));
    let e = read_extxyz(
        &format!("1\n{lat} Properties=species:S:1:pos:R:3:q:R:1\nNa 0 0 0\n"),
        "a.xyz",
    )
    .unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("4 columns")),
        "{e}"
    );
    assert_eq!(e.location, Location::Line(3));
    let e = read_extxyz(&format!("0\n{lat}\n"), "a.xyz").unwrap_err();
    assert_eq!(e.location, Location::Line(1));
    let e = read_extxyz("1\nLattice=\"4 0 0 0 4 0 0 0\"\nNa 0 0 0\n", "a.xyz").unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("9 numbers")),
        "{e}"
    );
}

#[test]
fn writer_round_trips_every_fixture() {
    for (rel, _) in expected_files()
        .iter()
        .filter(|(k, _)| k.starts_with("json/mp-"))
    {
        let s = read(rel);
        let text = write_extxyz(&s, &format!("from \"{rel}\""));
        assert!(text.lines().nth(1).unwrap().contains("pbc=\"T T T\""));
        let back =
            read_extxyz(&text, "written.xyz").unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"));
        let mut s_nolabels = s.clone();
        s_nolabels.sites.iter_mut().for_each(|x| x.label = None);
        // Positions go through Cartesian Å printed with 16 decimals.
        assert_same_structure(rel, &back, &s_nolabels, 1e-13);
        assert_eq!(try_write_extxyz(&s, rel).unwrap(), write_extxyz(&s, rel));
    }
    let d = read("json/Fe4N_disordered_Fe0.75Co0.25.json");
    let e = try_write_extxyz(&d, "Fe4N").unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Disordered(_)) && e.location == Location::Site(0),
        "{e}"
    );
}

#[test]
fn json_poscar_xyz_chain_preserves_the_structure() {
    let s = read("json/mp-776490_Al2O3.json");
    let poscar = read_poscar(&write_poscar(&s, "chain"), "chain.vasp").unwrap();
    let xyz = read_extxyz(&write_extxyz(&poscar, "chain"), "chain.xyz").unwrap();
    let json = parse_structure(
        &write_pymatgen_json(&xyz),
        "chain.json",
        Format::PymatgenJson,
        &ReadOptions::default(),
    )
    .unwrap();
    let mut s_nolabels = s.clone();
    s_nolabels.sites.iter_mut().for_each(|x| x.label = None);
    let mut json_nolabels = json.clone();
    json_nolabels.sites.iter_mut().for_each(|x| x.label = None);
    assert_same_structure(
        "json → poscar → xyz → json",
        &json_nolabels,
        &s_nolabels,
        1e-13,
    );
}

#[test]
fn golden_output_loads_in_pymatgen() {
    let s = read("json/mp-7262_ZnAs2.json");
    let text = write_extxyz(&s, "mp-7262 ZnAs2 written by multimat");
    golden("mp-7262_ZnAs2.xyz", &text);
    assert!(
        pymatgen_verified("mp-7262_ZnAs2.xyz"),
        "run tools/fixtures/formats_check_written.py"
    );
    let parsed = parse_structure(&text, "golden", Format::ExtXyz, &ReadOptions::default()).unwrap();
    assert_eq!(parsed.num_sites(), 24);
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let text = std::fs::read_to_string(fixtures().join("xyz/mp-7262_ZnAs2.xyz")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // 2 header lines + 24 atom rows.
    for k in 0..26 {
        let e = read_extxyz(&lines[..k].join("\n"), "cut").expect_err(&format!("{k} lines"));
        assert!(
            matches!(e.kind, ErrorKind::Truncated(_) | ErrorKind::Empty),
            "{k} lines: {e}"
        );
    }
    assert_eq!(
        read_extxyz(&lines[..26].join("\n"), "cut")
            .unwrap()
            .num_sites(),
        24
    );
    let huge = "99999999999999999\nLattice=\"3 0 0 0 3 0 0 0 3\"\nNa 0 0 0\n";
    let e = read_extxyz(huge, "huge").unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Truncated(_)) && e.location == Location::Line(4),
        "{e}"
    );
}
