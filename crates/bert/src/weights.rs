//! Loading HuggingFace BERT weights (`model.safetensors` or `pytorch_model.bin`) into
//! [`BertModel`] with burn-store: PyTorch `Linear` weights are transposed and LayerNorm
//! `weight`/`bias` become `gamma`/`beta` by [`PyTorchToBurnAdapter`]; half-precision
//! safetensors checkpoints are widened to f32; the key renames are [`HF_KEY_RENAMES`].

use std::path::Path;

use burn::store::{
    ApplyResult, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};
use burn::tensor::DType;

use crate::error::{BertError, Result};
use crate::model::BertModel;

/// Regex renames from HF names to [`BertModel`]'s, applied in order. `bert.` is the prefix of
/// `BertForMaskedLM`/`BertForPreTraining` checkpoints (MatSciBERT, SciBERT, MatBERT);
/// `self` is a Rust keyword.
pub const HF_KEY_RENAMES: [(&str, &str); 3] = [
    (r"^bert\.", ""),
    (r"\.attention\.self\.", ".attention.self_attn."),
    (r"LayerNorm", "layer_norm"),
];

/// The weight file formats a checkpoint may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// `model.safetensors`.
    Safetensors,
    /// `pytorch_model.bin` (PyTorch pickle/zip), read with burn-store's PyTorch reader.
    Pytorch,
}

fn adapter() -> impl ModuleAdapter + 'static {
    PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32))
}

/// Overwrites every parameter of `model` with the tensors of `file`. Tensors the model does
/// not have (the pooler, MLM/NSP heads, `position_ids` buffers) are ignored; a parameter the
/// file lacks, or a tensor whose shape differs from the configuration's, is an error naming
/// the tensor.
pub fn load_weights(model: &mut BertModel, file: &Path, format: WeightFormat) -> Result<()> {
    let result = match format {
        WeightFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(file)
                .with_from_adapter(adapter())
                .allow_partial(true)
                .validate(false);
            for (from, to) in HF_KEY_RENAMES {
                store = store.with_key_remapping(from, to);
            }
            model
                .load_from(&mut store)
                .map_err(|e| BertError::weights(file, e.to_string()))?
        }
        WeightFormat::Pytorch => {
            // PytorchStore always applies PyTorchToBurnAdapter; it has no cast hook, so a
            // half-precision .bin reports a dtype mismatch (convert it to safetensors).
            let mut store = PytorchStore::from_file(file)
                .allow_partial(true)
                .validate(false);
            for (from, to) in HF_KEY_RENAMES {
                store = store.with_key_remapping(from, to);
            }
            model
                .load_from(&mut store)
                .map_err(|e| BertError::weights(file, e.to_string()))?
        }
    };
    check(&result, file)
}

fn check(result: &ApplyResult, file: &Path) -> Result<()> {
    if let Some(e) = result.errors.first() {
        return Err(BertError::weights(
            file,
            format!(
                "{e} ({} tensor(s) do not fit config.json; parameter names are after renaming \
                 HF's `LayerNorm`→`layer_norm`, `attention.self`→`attention.self_attn`; Linear \
                 shapes are [in, out])",
                result.errors.len()
            ),
        ));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .take(6)
            .map(|(p, _)| p.as_str())
            .collect();
        return Err(BertError::weights(
            file,
            format!(
                "{} parameter(s) of the BERT model are not in the file, e.g. {} (is this a \
                 BERT checkpoint?)",
                result.missing.len(),
                names.join(", ")
            ),
        ));
    }
    if result.applied.is_empty() {
        return Err(BertError::weights(file, "no tensor of the file was used"));
    }
    Ok(())
}
