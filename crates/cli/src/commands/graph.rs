use std::path::PathBuf;

use clap::ValueEnum;
use multimat_graphs::{cgcnn, potnet};
use serde_json::{json, Value};

use super::StructureInput;

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphKind {
    /// PotNet: jarvis-style local graph (k = 16 within 4 Å) plus all N² infinite-sum edges.
    Potnet,
    /// CGCNN: 12 nearest neighbours within 8 Å per atom.
    Cgcnn,
}

#[derive(clap::Args)]
pub struct Args {
    /// Structure file (CIF, POSCAR, pymatgen JSON, extended XYZ; .gz accepted).
    file: PathBuf,
    /// Which graph to build.
    #[arg(long, value_enum, default_value = "potnet")]
    kind: GraphKind,
    /// Print the whole graph as JSON (default: a summary).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input: StructureInput,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let structure = args.input.read(&args.file)?;
    let source = args.file.display().to_string();
    let report: Value = match args.kind {
        GraphKind::Potnet => {
            let g = potnet::build(&structure, &source, &potnet::PotNetConfig::default())?;
            let n = g.atomic_numbers.len();
            if args.json {
                let local: Vec<Value> = (0..g.local.src.len())
                    .map(|e| json!([g.local.src[e], g.local.dst[e], g.local.distance[e]]))
                    .collect();
                let infinite: Vec<Value> = g
                    .infinite
                    .iter()
                    .enumerate()
                    .map(|(k, s)| json!([k / n, k % n, s[0], s[1], s[2]]))
                    .collect();
                json!({"kind": "potnet", "nodes": n, "atomic_numbers": g.atomic_numbers,
                       "local_edges": local, "infinite_edges": infinite})
            } else {
                json!({"kind": "potnet", "nodes": n, "local_edges": g.local.src.len(),
                       "local_edges_per_atom": g.local.src.len() as f64 / n as f64,
                       "infinite_edges": g.infinite.len()})
            }
        }
        GraphKind::Cgcnn => {
            let config = cgcnn::CgcnnConfig::default();
            let g = cgcnn::build(&structure, &source, &config)?;
            let n = structure.num_sites();
            let k = config.max_neighbors;
            if args.json {
                let index: Vec<&[u32]> = g.neighbor_index.chunks(k).collect();
                let distance: Vec<&[f32]> = g.neighbor_distance.chunks(k).collect();
                json!({"kind": "cgcnn", "nodes": n, "max_neighbors": k, "neighbor_index": index,
                       "neighbor_distance": distance, "padded_sites": g.padded_sites})
            } else {
                json!({"kind": "cgcnn", "nodes": n, "max_neighbors": k, "padded_sites": g.padded_sites})
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        super::inspect::print_readable(&report, 0);
    }
    Ok(())
}
