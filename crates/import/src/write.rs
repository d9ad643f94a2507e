//! Turning a merged [`Partial`] into a store record: symmetry, DOS model inputs and the charge
//! density (read and resampled, or derived), computed per material in parallel.

use multimat_crystal::symmetry::analyze;
use multimat_dataset::{ImportProblem, MaterialRecord};
use multimat_modalities::charge_density::{self, Resample, MODEL_GRID};
use multimat_modalities::dos::{model_input, DosInputOptions};

use crate::collect::{DensitySource, Partial};

/// Store modality names and shapes.
pub const DOS: &str = "dos";
pub const PHONON_DOS: &str = "phonon_dos";
pub const DENSITY: &str = "density";

/// A record ready to add, the problems met building it, and the time its derived density took.
pub(crate) struct Built {
    pub record: Option<MaterialRecord>,
    pub problems: Vec<ImportProblem>,
    pub density_seconds: f64,
}

fn density_row(values: Vec<f32>) -> Vec<f32> {
    charge_density::to_row_major(&values, [MODEL_GRID; 3])
}

pub(crate) fn build(id: String, p: Partial, symprec: f64, derive_density: bool) -> Built {
    let mut problems = Vec::new();
    let Some((structure, source, structure_file)) = p.structure else {
        return Built {
            record: None,
            problems,
            density_seconds: 0.0,
        };
    };
    let mut rec = MaterialRecord::new(id.clone(), source, structure);
    rec.labels = p.labels.iter().map(|(k, (v, _))| (k.clone(), *v)).collect();
    rec.is_metal = p.is_metal.map(|(v, _)| v);
    rec.elastic_tensor = p.elastic;
    rec.description = p.description.map(|(t, _)| t);
    match analyze(&rec.structure, symprec, &id) {
        Ok(info) => {
            rec.spacegroup = Some(info.number);
            rec.crystal_system = Some(info.crystal_system.name().to_string());
        }
        // Not fatal: the stated crystal system (if a document gave one) is better than nothing.
        Err(_) => rec.crystal_system = p.crystal_system,
    }
    if let Some((dos, file)) = p.dos {
        // The reference shifts by the summary document's Fermi energy when there is one.
        let opts = DosInputOptions {
            efermi: rec.labels.get("efermi").copied(),
            ..DosInputOptions::default()
        };
        match model_input(&dos, &opts) {
            Ok(input) => rec.modalities.push((DOS.into(), input.to_rows(), false)),
            Err(e) => problems.push(ImportProblem {
                file: file.to_string(),
                reason: format!("{id}: {e}"),
            }),
        }
    }
    if let Some((dos, file)) = p.phonon_dos {
        match model_input(&dos, &DosInputOptions::default()) {
            Ok(input) => rec
                .modalities
                .push((PHONON_DOS.into(), input.to_rows(), false)),
            Err(e) => problems.push(ImportProblem {
                file: file.to_string(),
                reason: format!("{id}: {e}"),
            }),
        }
    }
    let mut have_density = false;
    if let Some((src, file)) = p.density {
        let grid = match src {
            DensitySource::Grid(g) => Ok(g),
            DensitySource::File(path) => charge_density::read_volumetric(&path)
                .and_then(|v| charge_density::model_input(&v, Resample::Fourier))
                .map(density_row)
                .map_err(|e| e.to_string()),
        };
        match grid {
            Ok(g) => {
                rec.modalities.push((DENSITY.into(), g, false));
                have_density = true;
            }
            Err(e) => problems.push(ImportProblem {
                file: file.to_string(),
                reason: format!("{id}: {e}"),
            }),
        }
    }
    let mut density_seconds = 0.0;
    if derive_density && !have_density {
        let t = std::time::Instant::now();
        let grid = charge_density::promolecular(&rec.structure, [MODEL_GRID; 3])
            .and_then(|v| charge_density::model_input(&v, Resample::Fourier))
            .map_err(|e| e.to_string())
            .map(density_row);
        density_seconds = t.elapsed().as_secs_f64();
        match grid {
            Ok(g) => rec.modalities.push((DENSITY.into(), g, true)),
            Err(e) => problems.push(ImportProblem {
                file: structure_file.to_string(),
                reason: format!("{id}: promolecular density: {e}"),
            }),
        }
    }
    Built {
        record: Some(rec),
        problems,
        density_seconds,
    }
}
