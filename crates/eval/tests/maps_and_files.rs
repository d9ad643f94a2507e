//! UMAP, trustworthiness, plots and embedding files: against scipy / scikit-learn / pyarrow /
//! numpy outputs (tools/fixtures/eval_expected.py) and round trips.

use std::path::{Path, PathBuf};

use multimat_eval::plot::{self, Coloring, PlotStyle};
use multimat_eval::umap::{self, Metric, UmapConfig};
use multimat_eval::{Embeddings, ErrorKind};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/eval")
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(name)).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn points(v: &Value) -> Vec<[f32; 2]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32])
        .collect()
}

/// A fresh empty folder under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("multimat-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two Gaussian blobs of `n` points each in `dim` dimensions, centred at 10·e₀ and 10·e₁.
fn blobs(n: usize, dim: usize) -> Vec<f32> {
    let mut rng = multimat_dataset::SplitMix64::new(5);
    let mut g = || {
        let u1 = ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(1e-12);
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let mut out = Vec::new();
    for c in 0..2 {
        for _ in 0..n {
            for d in 0..dim {
                // Orthogonal centres: apart in Euclidean and in cosine distance alike.
                let centre = if d == c { 10.0 } else { 0.0 };
                out.push(centre + g());
            }
        }
    }
    out
}

#[test]
fn ab_params_match_scipy_curve_fit() {
    let f = fixture("umap.json");
    for md in ["0.1", "0.5"] {
        let want = floats(&f["ab"][md]);
        let (a, b) = umap::find_ab_params(1.0, md.parse().unwrap());
        assert!(
            (a - want[0]).abs() < 1e-4 && (b - want[1]).abs() < 1e-4,
            "min_dist {md}: {a}, {b} vs {want:?}"
        );
    }
}

#[test]
fn trustworthiness_matches_sklearn() {
    let f = fixture("umap.json");
    let x: Vec<f32> = floats(&f["X"]).iter().map(|&v| v as f32).collect();
    let dim = f["dim"].as_u64().unwrap() as usize;
    let good = points(&f["Y_good"]);
    let rand = points(&f["Y_rand"]);
    let t = &f["trust"];
    let cases = [
        (&good, 5, Metric::Euclidean, "good_euclidean_5"),
        (&rand, 5, Metric::Euclidean, "rand_euclidean_5"),
        (&good, 7, Metric::Cosine, "good_cosine_7"),
    ];
    for (low, k, metric, key) in cases {
        let got = umap::trustworthiness(&x, dim, low, k, metric).unwrap();
        let want = t[key].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{key}: {got} vs {want}");
    }
    // k must leave room: 2k < n.
    assert!(umap::trustworthiness(&x, dim, &good, 30, Metric::Euclidean).is_err());
}

#[test]
fn smooth_knn_reaches_log2_k() {
    // Distances of one point to itself and 4 neighbours.
    let d = [0.0f32, 0.5, 0.7, 1.0, 1.4];
    let (sigma, rho) = umap::smooth_knn_dist(&d, 5);
    assert_eq!(rho[0], 0.5);
    let psum: f64 = d[1..]
        .iter()
        .map(|&x| (-((x as f64 - rho[0]).max(0.0)) / sigma[0]).exp())
        .sum();
    assert!((psum - 5f64.log2()).abs() < 1e-4, "{psum}");
    // Fuzzy union: an edge seen from both sides with weights a, b gets a + b − ab.
    let idx = [0u32, 1, 1, 0];
    let dist = [0.0f32, 1.0, 0.0, 1.0];
    let g = umap::fuzzy_graph(&idx, &dist, 2);
    assert_eq!(g, vec![(0, 1, 1.0), (1, 0, 1.0)]);
}

#[test]
fn umap_separates_blobs_reproducibly() {
    let dim = 12;
    let data = blobs(150, dim);
    let config = UmapConfig {
        n_epochs: Some(200),
        ..UmapConfig::default()
    };
    let y = umap::fit(&data, dim, &config).unwrap();
    assert_eq!(y.len(), 300);
    let y2 = umap::fit(&data, dim, &config).unwrap();
    assert_eq!(y, y2, "same seed, same layout");
    // The two blobs land apart: every point is nearer its own blob's centroid.
    let centroid = |r: std::ops::Range<usize>| {
        let n = r.len() as f32;
        let s = y[r]
            .iter()
            .fold([0.0f32; 2], |a, p| [a[0] + p[0], a[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    let (c0, c1) = (centroid(0..150), centroid(150..300));
    let d = |p: &[f32; 2], c: &[f32; 2]| (p[0] - c[0]).hypot(p[1] - c[1]);
    for (i, p) in y.iter().enumerate() {
        let (own, other) = if i < 150 { (&c0, &c1) } else { (&c1, &c0) };
        assert!(d(p, own) < d(p, other), "point {i}");
    }
    let t = umap::trustworthiness(&data, dim, &y, 15, Metric::Euclidean).unwrap();
    assert!(t > 0.85, "trustworthiness {t}");
    // A random layout of the same points is far less trustworthy.
    let mut rng = multimat_dataset::SplitMix64::new(1);
    let r: Vec<[f32; 2]> = (0..300)
        .map(|_| [rng.below(1000) as f32, rng.below(1000) as f32])
        .collect();
    let tr = umap::trustworthiness(&data, dim, &r, 15, Metric::Euclidean).unwrap();
    assert!(tr < t - 0.2, "random {tr} vs umap {t}");
    // Too few points, non-finite input.
    assert!(umap::fit(&data[..10 * dim], dim, &config).is_err());
    let mut bad = data.clone();
    bad[7] = f32::NAN;
    let e = umap::fit(&bad, dim, &config).unwrap_err();
    assert!(e.to_string().contains("row 0"), "{e}");
}

/// Counts pixels that are clearly not white (text, points, bars) in a region of an RGB PNG.
fn dark_pixels(png_bytes: &[u8], x0: u32, x1: u32) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width, info.height);
    let mut n = 0;
    for y in 0..h {
        for x in x0..x1.min(w) {
            let i = ((y * w + x) * 3) as usize;
            if buf[i] < 100 && buf[i + 1] < 100 && buf[i + 2] < 100 {
                n += 1;
            }
        }
    }
    (w, h, n)
}

#[test]
fn plots_render_legend_text_and_colour_bar() {
    let dir = scratch("plot");
    let data = blobs(100, 4);
    let pts: Vec<[f32; 2]> = data.chunks(4).map(|r| [r[0], r[1]]).collect();
    let systems = ["cubic", "trigonal", "monoclinic"];
    let cats: Vec<Option<String>> = (0..200)
        .map(|i| {
            if i % 17 == 0 {
                None
            } else {
                Some(systems[i % 3].to_string())
            }
        })
        .collect();
    let coloring = Coloring::Categorical {
        title: "crystal system".into(),
        values: cats,
    };
    let style = PlotStyle {
        width: 900,
        height: 600,
        ..PlotStyle::default()
    };
    let png_path = dir.join("map.png");
    let summary = plot::scatter(&pts, &coloring, &style, &png_path).unwrap();
    // Legend in the paper's order (cubic, monoclinic, trigonal), with counts.
    let names: Vec<&str> = summary.categories.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, vec!["cubic", "monoclinic", "trigonal"]);
    assert_eq!(summary.missing, 12);
    assert_eq!(summary.categories.iter().map(|c| c.1).sum::<usize>(), 188);
    let bytes = std::fs::read(&png_path).unwrap();
    // The legend column holds dark text pixels: the bundled font rendered.
    let legend_x0 = 900 - (260.0 * 600.0 / 900.0) as u32;
    let (w, h, dark) = dark_pixels(&bytes, legend_x0, 900);
    assert_eq!((w, h), (900, 600));
    assert!(
        dark > 200,
        "only {dark} dark pixels in the legend: no text?"
    );

    let svg_path = dir.join("map.svg");
    plot::scatter(&pts, &coloring, &style, &svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("monoclinic (") && svg.contains("<circle"));

    let values: Vec<Option<f64>> = (0..200)
        .map(|i| {
            if i == 3 {
                None
            } else {
                Some(-3.0 + i as f64 * 0.02)
            }
        })
        .collect();
    let cont = Coloring::Continuous {
        title: "formation energy (eV/atom)".into(),
        values,
    };
    let s = plot::scatter(&pts, &cont, &style, &dir.join("fe.png")).unwrap();
    assert_eq!(s.missing, 1);
    let (lo, hi) = s.range.unwrap();
    assert!((lo + 3.0).abs() < 1e-12 && (hi - 0.98).abs() < 1e-9);
    let (svg, _) = plot::scatter_svg(&pts, &cont, &style).unwrap();
    assert!(
        svg.contains("-3.00") && svg.contains("0.98"),
        "colour bar ticks"
    );

    // Bad requests name the file / the problem.
    let e = plot::scatter(&pts, &cont, &style, &dir.join("map.jpg")).unwrap_err();
    assert!(e.to_string().contains("map.jpg"), "{e}");
    let short = Coloring::Continuous {
        title: "x".into(),
        values: vec![Some(1.0)],
    };
    assert!(matches!(
        plot::scatter_svg(&pts, &short, &style).unwrap_err().kind,
        ErrorKind::Shape(_)
    ));
    assert_eq!(
        plot::viridis(0.0),
        plotters::style::RGBColor(0x44, 0x01, 0x54)
    );
    assert_eq!(
        plot::viridis(1.0),
        plotters::style::RGBColor(0xfd, 0xe7, 0x25)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn expected_embeddings() -> (Vec<String>, Vec<f32>) {
    let f = fixture("emb_expected.json");
    let ids = f["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (
        ids,
        floats(&f["values"]).iter().map(|&v| v as f32).collect(),
    )
}

#[test]
fn reads_pyarrow_and_numpy_embedding_files() {
    let (ids, values) = expected_embeddings();
    for name in [
        "emb_pyarrow.parquet",
        "emb_pyarrow_list.parquet",
        "emb_numpy.npy",
    ] {
        let e = Embeddings::read(&fixtures().join(name)).unwrap();
        assert_eq!(e.ids, ids, "{name}");
        assert_eq!(e.dim, 4, "{name}");
        assert_eq!(e.values, values, "{name}");
    }
    assert_eq!(
        Embeddings::read(&fixtures().join("emb_numpy.npy"))
            .unwrap()
            .modality,
        "dos"
    );
}

#[test]
fn embedding_files_round_trip() {
    let dir = scratch("emb");
    let ids: Vec<String> = (0..1000).map(|i| format!("mp-{i}")).collect();
    let values: Vec<f32> = (0..1000 * 128)
        .map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0)
        .collect();
    let e = Embeddings::new(ids, "crystal", 128, values, "test")
        .unwrap()
        .with_model("runs/a");
    for name in ["e.parquet", "e.npy"] {
        let p = dir.join(name);
        e.write(&p).unwrap();
        let back = Embeddings::read(&p).unwrap();
        assert_eq!(back, e, "{name}");
    }
    assert!(dir.join("e.ids.json").exists());
    let mut n = e.normalized();
    assert!((n.row(5).iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    // A zero row stays zero.
    n.values[..128].iter_mut().for_each(|v| *v = 0.0);
    n.normalize();
    assert!(n.row(0).iter().all(|&v| v == 0.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_embedding_files_name_the_file() {
    let dir = scratch("bad");
    let msg = |p: &Path| Embeddings::read(p).unwrap_err().to_string();
    // .npy without its ids file.
    let p = dir.join("lonely.npy");
    std::fs::copy(fixtures().join("emb_numpy.npy"), &p).unwrap();
    let m = msg(&p);
    assert!(m.contains("lonely.ids.json"), "{m}");
    // Truncated array.
    std::fs::copy(
        fixtures().join("emb_numpy.ids.json"),
        dir.join("lonely.ids.json"),
    )
    .unwrap();
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
    let m = msg(&p);
    assert!(m.contains("lonely.npy") && m.contains("truncated"), "{m}");
    // Not Parquet at all.
    let q = dir.join("junk.parquet");
    std::fs::write(&q, b"hello").unwrap();
    assert!(msg(&q).contains("junk.parquet"));
    // Unknown extension.
    assert!(msg(&dir.join("x.csv")).contains("x.csv"));
    // Duplicate ids / NaN.
    let e = Embeddings::new(
        vec!["a".into(), "a".into()],
        "dos",
        1,
        vec![1.0, 2.0],
        "in.parquet",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("in.parquet: row 1") && e.to_string().contains("duplicate"),
        "{e}"
    );
    let e = Embeddings::new(vec!["a".into()], "dos", 2, vec![1.0, f32::NAN], "in.npy").unwrap_err();
    assert!(e.to_string().contains("row 0 (id \"a\"), column 1"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
