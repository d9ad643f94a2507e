//! Imports a recipe (and optional extra sources) into a store and prints the import summary
//! and the store statistics as JSON: `import_recipe RECIPE OUT [SOURCES...]`.

use std::path::PathBuf;

use multimat_import::{import, ImportOptions, Recipe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: import_recipe RECIPE OUT [SOURCES...]".into());
    }
    let recipe = Recipe::from_path(std::path::Path::new(&args[0]))?;
    let out = PathBuf::from(&args[1]);
    let sources: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
    let summary = import(
        &out,
        &sources,
        Some(&recipe),
        &ImportOptions::default(),
        &|_| {},
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let store = multimat_dataset::Store::open(&out)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&multimat_dataset::info(&store)?)?
    );
    Ok(())
}
