//! Parameter counting shared by every encoder.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Number of trainable scalars of `module`: burn's [`Module::num_params`] also counts the
/// batch-norm running mean and variance (fields named `running_mean` / `running_var`, in burn's
/// `nn::BatchNorm` and our `BatchNorm3d`), which PyTorch keeps as buffers, not parameters. This
/// is the number `model.parameters()` gives and the one the spec quotes.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    struct Counter {
        path: Vec<String>,
        count: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_owned());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let running = matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            );
            if !running {
                self.count += param.lazy_shape().num_elements();
            }
        }
    }
    let mut counter = Counter {
        path: Vec::new(),
        count: 0,
    };
    module.visit(&mut counter);
    counter.count
}
