//! CGCNN graph (spec §7.2) against txie-93/cgcnn's pymatgen-based neighbour arrays
//! (fixtures/graphs/cgcnn_pymatgen.json, from tools/fixtures/graphs_cgcnn.py).

use multimat_crystal::{cgcnn_features, Lattice, Occupant, Site, Structure};
use multimat_graphs::cgcnn::{build, CgcnnConfig, GaussianExpansion, ATOM_FEATURES};
use serde::Deserialize;

#[derive(Deserialize)]
struct FixtureStructure {
    id: String,
    lattice: [[f64; 3]; 3],
    z: Vec<u8>,
    frac: Vec<[f64; 3]>,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
    index: Vec<Vec<u32>>,
    distance: Vec<Vec<f64>>,
    index16: Vec<Vec<u32>>,
    distance16: Vec<Vec<f64>>,
}

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!(
        "{}/../../fixtures/graphs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn structure(lattice: [[f64; 3]; 3], z: &[u8], frac: &[[f64; 3]]) -> Structure {
    let sites = z
        .iter()
        .zip(frac)
        .map(|(&z, &f)| Site::ordered(z, f))
        .collect();
    Structure::new(Lattice::new(lattice).expect("lattice"), sites)
}

#[test]
fn matches_cgcnn_pymatgen_neighbours() {
    let structures: Vec<FixtureStructure> = fixture("structures.json");
    let reference: Vec<Reference> = fixture("cgcnn_pymatgen.json");
    assert_eq!(structures.len(), reference.len());
    let mut ties_crossing_cut = 0;
    for (s, r) in structures.iter().zip(&reference) {
        assert_eq!(s.id, r.id);
        let st = structure(s.lattice, &s.z, &s.frac);
        let g = build(&st, &s.id, &CgcnnConfig::default()).expect("graph");
        assert_eq!(g.num_sites, s.z.len());
        assert_eq!(g.padded_sites, 0, "{}", s.id);
        for i in 0..g.num_sites {
            assert_eq!(
                g.features(i),
                cgcnn_features(s.z[i]).expect("features").as_slice()
            );
            let (idx, dist) = (g.neighbors(i), g.distances(i));
            for k in 0..12 {
                assert!(
                    (dist[k] as f64 - r.distance[i][k]).abs() < 1e-5,
                    "{} site {i} slot {k}",
                    s.id
                );
            }
            // Indices must agree wherever the order is not decided by an exact tie: group the
            // reference by (rounded) distance; a group wholly inside the 12 must hold the same
            // indices; the group crossing the 12th slot must draw from the reference's group.
            let mut k = 0;
            while k < 12 {
                let d = r.distance[i][k];
                let mut end = k;
                while end < 12 && (r.distance[i][end] - d).abs() < 1e-6 {
                    end += 1;
                }
                let mut got: Vec<u32> = idx[k..end].to_vec();
                got.sort_unstable();
                let crosses = end == 12
                    && r.distance16[i]
                        .get(12)
                        .is_some_and(|&x| (x - d).abs() < 1e-6);
                if crosses {
                    ties_crossing_cut += 1;
                    let mut pool: Vec<u32> = r.index16[i]
                        .iter()
                        .zip(&r.distance16[i])
                        .filter(|(_, &x)| (x - d).abs() < 1e-6)
                        .map(|(&j, _)| j)
                        .collect();
                    let shell_complete =
                        r.distance16[i].len() < 16 || (r.distance16[i][15] - d).abs() >= 1e-6;
                    if shell_complete {
                        for j in &got {
                            let p = pool.iter().position(|x| x == j);
                            assert!(
                                p.is_some(),
                                "{} site {i}: index {j} not in the tied shell",
                                s.id
                            );
                            if let Some(p) = p {
                                pool.swap_remove(p);
                            }
                        }
                    }
                } else {
                    let mut want: Vec<u32> = r.index[i][k..end].to_vec();
                    want.sort_unstable();
                    assert_eq!(got, want, "{} site {i} slots {k}..{end}", s.id);
                }
                k = end;
            }
        }
    }
    assert!(
        ties_crossing_cut > 0,
        "fixtures should contain a shell straddling the 12th neighbour"
    );
}

#[test]
fn padding_when_too_few_neighbours() {
    let s = structure(
        [[4.5, 0.0, 0.0], [0.0, 4.5, 0.0], [0.0, 0.0, 4.5]],
        &[18],
        &[[0.0; 3]],
    );
    let config = CgcnnConfig {
        radius: 5.0,
        ..CgcnnConfig::default()
    };
    let g = build(&s, "Ar.cif", &config).expect("graph");
    assert_eq!(g.padded_sites, 1);
    assert_eq!(&g.distances(0)[..6], &[4.5f32; 6]);
    assert_eq!(&g.distances(0)[6..], &[6.0f32; 6]);
    assert!(g.neighbors(0).iter().all(|&j| j == 0));
    assert_eq!(g.atom_features.len(), ATOM_FEATURES);
}

#[test]
fn gaussian_expansion_41_centres() {
    let gauss = GaussianExpansion::cgcnn();
    assert_eq!(gauss.len(), 41);
    assert!((gauss.centers[40] - 8.0).abs() < 1e-12);
    let mut out = vec![0.0f32; 41];
    gauss.expand_into(1.0, &mut out);
    assert!((out[5] - 1.0).abs() < 1e-6);
    assert!(
        (out[6] - (-1.0f32).exp()).abs() < 1e-6,
        "one width away gives e^-1"
    );
    assert!(out[20] < 1e-30);

    let s = structure(
        [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
        &[26],
        &[[0.0; 3]],
    );
    let g = build(&s, "Fe.cif", &CgcnnConfig::default()).expect("graph");
    let e = gauss.expand_graph(&g);
    assert_eq!(e.len(), 12 * 41);
    // First neighbour at exactly 3.0 Å: centre 15.
    assert!((e[15] - 1.0).abs() < 1e-6);
}

#[test]
fn refuses_disorder_unknown_elements_and_bad_config() {
    let mut s = structure(
        [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
        &[26],
        &[[0.0; 3]],
    );
    s.sites[0].occupants = vec![
        Occupant {
            z: 26,
            occupancy: 0.5,
            oxidation: None,
        },
        Occupant {
            z: 28,
            occupancy: 0.5,
            oxidation: None,
        },
    ];
    let err = build(&s, "FeNi.cif", &CgcnnConfig::default()).unwrap_err();
    assert!(err.to_string().starts_with("FeNi.cif: site 0:"), "{err}");

    let heavy = structure(
        [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
        &[26, 101],
        &[[0.0; 3], [0.5; 3]],
    );
    let err = build(&heavy, "Md.cif", &CgcnnConfig::default()).unwrap_err();
    assert!(err.to_string().starts_with("Md.cif: site 1:"), "{err}");

    let empty = Structure::new(Lattice::cubic(3.0), vec![]);
    assert!(build(&empty, "empty.cif", &CgcnnConfig::default()).is_err());
    let ok = structure(
        [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
        &[26],
        &[[0.0; 3]],
    );
    for bad in [
        CgcnnConfig {
            radius: f64::NAN,
            ..CgcnnConfig::default()
        },
        CgcnnConfig {
            max_neighbors: 0,
            ..CgcnnConfig::default()
        },
        CgcnnConfig {
            step: 0.0,
            ..CgcnnConfig::default()
        },
    ] {
        assert!(build(&ok, "Fe.cif", &bad).is_err());
    }
}
