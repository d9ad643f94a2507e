//! The graph cache stores exactly what the graph builders produce, material by material.

use multimat_crystal::{Lattice, Site, Structure};
use multimat_dataset::{
    build_graph_cache, GraphKind, MaterialRecord, PotNetCache, Store, StoreWriter,
};
use multimat_graphs::potnet;

fn rocksalt(a: f64, z1: u8, z2: u8) -> Structure {
    let l = Lattice::new([
        [0.0, a / 2.0, a / 2.0],
        [a / 2.0, 0.0, a / 2.0],
        [a / 2.0, a / 2.0, 0.0],
    ])
    .unwrap();
    Structure::new(
        l,
        vec![Site::ordered(z1, [0.0; 3]), Site::ordered(z2, [0.5; 3])],
    )
}

#[test]
fn potnet_cache_matches_direct_build_and_records_failures() {
    let dir = std::env::temp_dir().join(format!("multimat-graph-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut w = StoreWriter::create(&dir).unwrap();
    let hcp = Structure::new(
        Lattice::from_parameters(3.21, 3.21, 5.21, 90.0, 90.0, 120.0).unwrap(),
        vec![
            Site::ordered(12, [1.0 / 3.0, 2.0 / 3.0, 0.25]),
            Site::ordered(12, [2.0 / 3.0, 1.0 / 3.0, 0.75]),
        ],
    );
    let mut disordered = rocksalt(4.2, 26, 8);
    disordered.sites[0].occupants[0].occupancy = 0.5;
    let structures = vec![
        ("mp-1", rocksalt(4.3869, 32, 6)),
        ("mp-2", disordered),
        ("mp-3", hcp),
        ("mp-4", rocksalt(5.64, 11, 17)),
    ];
    for (id, s) in &structures {
        w.add_material(MaterialRecord::new(*id, "test", s.clone()))
            .unwrap();
    }
    w.commit().unwrap();
    let store = Store::open(&dir).unwrap();
    let meta = build_graph_cache(&store, GraphKind::Potnet, &|_| {}).unwrap();
    assert_eq!(meta.failed.len(), 1, "{:?}", meta.failed);
    assert_eq!(meta.failed[0].0, "mp-2");
    assert!(
        meta.failed[0].1.contains("disordered"),
        "{}",
        meta.failed[0].1
    );

    let cache = PotNetCache::open(&store).unwrap();
    for (i, (id, s)) in structures.iter().enumerate() {
        let view = cache.graph(i);
        if *id == "mp-2" {
            assert!(view.atomic_numbers.is_empty() && view.infinite.is_empty());
            continue;
        }
        let direct = potnet::build(s, id, &potnet::PotNetConfig::default()).unwrap();
        assert_eq!(view.atomic_numbers, &direct.atomic_numbers[..]);
        assert_eq!(view.local_src, &direct.local.src[..]);
        assert_eq!(view.local_dst, &direct.local.dst[..]);
        assert_eq!(view.local_distance, &direct.local.distance[..]);
        let inf: Vec<f32> = direct.infinite.iter().flatten().copied().collect();
        assert_eq!(view.infinite, &inf[..]);
    }
    // GeC is the spec §6.7 test vector: 72 local edges.
    assert_eq!(cache.graph(0).local_src.len(), 72);

    // CGCNN cache builds beside it; the PotNet cache stays valid.
    let meta = build_graph_cache(&store, GraphKind::Cgcnn, &|_| {}).unwrap();
    assert_eq!(meta.edges, 6 * 12);
    assert!(PotNetCache::open(&store).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
