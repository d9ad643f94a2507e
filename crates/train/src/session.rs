//! A trained run opened for inference over a store: the run's weights on a device, the store,
//! its graph cache and the chosen part of the run's split. `embed`, `eval retrieval`,
//! `eval discovery`, `discover` and the quickstart's map all start from one [`Session`], so
//! they select the same materials and embed them the same way.

use std::path::Path;
use std::str::FromStr;

use burn::tensor::Device;
use multimat_dataset::{load_split, load_split_file, Store};
use multimat_eval::Embeddings;

use crate::checkpoint::{load_run, LoadedRun};
use crate::data::CrystalGraphs;
use crate::embed::{embed_modality, with_modality};
use crate::error::{Result, TrainError};
use multimat_model::Modality;

/// Which materials of the store a session embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The training part of the run's split.
    Train,
    /// The validation part of the run's split.
    Val,
    /// The test part of the run's split (the reference evaluates on it).
    Test,
    /// Every material of the store, split or not.
    All,
}

impl Part {
    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Val => "val",
            Part::Test => "test",
            Part::All => "all",
        }
    }
}

impl FromStr for Part {
    type Err = String;

    /// `train`, `val`, `test` or `all`; the error names the bad value and the choices.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "train" => Ok(Part::Train),
            "val" => Ok(Part::Val),
            "test" => Ok(Part::Test),
            "all" => Ok(Part::All),
            other => Err(format!("{other:?}: use train, val, test or all")),
        }
    }
}

/// A run, its store and graphs, ready to embed.
pub struct Session {
    /// The run's configuration and weights (evaluation mode, on `device`).
    pub run: LoadedRun,
    /// The store the materials come from.
    pub store: Store,
    /// The store's graph cache of the run's crystal encoder kind.
    pub graphs: CrystalGraphs,
    /// Where the model runs.
    pub device: Device,
    /// Table positions of the selected materials, in store order.
    pub indices: Vec<usize>,
    /// Materials per forward pass (at least 1).
    pub batch_size: usize,
    /// The run directory as given, recorded in the embeddings' metadata.
    pub run_name: String,
}

impl Session {
    /// Loads the run at `run_dir` onto `device`, opens the store at `data` with its graph
    /// cache, and selects `part` of the run's split.
    pub fn open(
        run_dir: &Path,
        data: &Path,
        part: Part,
        batch_size: usize,
        device: Device,
    ) -> Result<Self> {
        let run = load_run(run_dir, &device)?;
        let store = Store::open(data).map_err(|e| {
            TrainError::from(e).context(format!("opening the store {}", data.display()))
        })?;
        let graphs = CrystalGraphs::load(&store, run.config.model.crystal_kind())?;
        let indices = match part {
            Part::All => (0..store.len()).collect(),
            part => {
                let name = &run.config.pretrain.split;
                // A model folder carries the split it was evaluated on, so a store freshly
                // imported from the same recipe selects the same held-out materials.
                let in_model = run_dir.join(crate::package::SPLIT_FILE);
                let in_store = store.dir().join("splits").join(format!("{name}.json"));
                let split = if !in_store.exists() && in_model.exists() {
                    load_split_file(&store, &in_model)
                } else {
                    load_split(&store, name)
                }
                .map_err(|e| {
                    TrainError::from(e).context(format!(
                        "the run's split `{name}` (use --part all for every material)"
                    ))
                })?;
                let idx = split.indices(&store)?;
                match part {
                    Part::Train => idx.train,
                    Part::Val => idx.val,
                    _ => idx.test,
                }
            }
        };
        Ok(Self {
            run,
            store,
            graphs,
            device,
            indices,
            batch_size: batch_size.max(1),
            run_name: run_dir.display().to_string(),
        })
    }

    /// L2-normalised embeddings of every selected material that has `modality`, calling
    /// `progress(done, total)` (materials) as batches finish.
    pub fn embed(
        &self,
        modality: Modality,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embeddings> {
        let modalities = self.run.config.model.modalities();
        if !modalities.contains(&modality) {
            return Err(TrainError::Request(format!(
                "the run has no `{modality}` encoder; it encodes {:?}",
                modalities.iter().map(|m| m.name()).collect::<Vec<_>>()
            )));
        }
        let members = with_modality(&self.store, &self.graphs, modality, &self.indices)?;
        let total = members.len();
        progress(0, total);
        let m = embed_modality(
            &self.run.model,
            &self.store,
            &self.graphs,
            modality,
            &members,
            self.batch_size,
            true,
            &self.device,
            &mut |done| progress(done, total),
        )?;
        let ids = members
            .iter()
            .map(|&i| self.store.ids()[i].clone())
            .collect();
        Ok(
            Embeddings::new(ids, modality.name(), m.dim, m.values, &self.run_name)?
                .with_model(self.run_name.clone()),
        )
    }
}
