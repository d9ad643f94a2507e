//! PotNetConv: gated sum-aggregation message passing over local and infinite edges.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, silu};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor};

/// One PotNet message-passing layer (PyG `MessagePassing`, sum aggregation, flow
/// source → target). For an edge j → i with feature e_ij and t_ij = concat(h_i, h_j, e_ij):
///
/// ```text
/// gate  = sigmoid(BN_int(L2(SiLU(L1(t_ij)))))
/// msg   = L4(SiLU(L3(t_ij)))
/// h_i  ← ReLU(h_i + BN(Σ_{j→i} gate ⊙ msg))
/// ```
///
/// Field names map to the PyTorch module: `gate_in`/`gate_out` = `nonlinear_full.0`/`.2`,
/// `message_in`/`message_out` = `nonlinear.0`/`.2`, `bn_interaction`, `bn`.
#[derive(Module, Debug)]
pub struct PotNetConv {
    /// L1: Linear(3F→F) of the gate.
    pub gate_in: Linear,
    /// L2: Linear(F→F) of the gate.
    pub gate_out: Linear,
    /// L3: Linear(3F→F) of the message.
    pub message_in: Linear,
    /// L4: Linear(F→F) of the message.
    pub message_out: Linear,
    /// BN_int: BatchNorm1d(F) over all edges of the batch, before the sigmoid.
    pub bn_interaction: BatchNorm,
    /// BatchNorm1d(F) over the aggregated messages of all nodes.
    pub bn: BatchNorm,
}

impl PotNetConv {
    /// A layer of width `features` (F) with PyTorch-default initialisation.
    pub fn new(features: usize, device: &Device) -> Self {
        let f = features;
        Self {
            gate_in: LinearConfig::new(3 * f, f).init(device),
            gate_out: LinearConfig::new(f, f).init(device),
            message_in: LinearConfig::new(3 * f, f).init(device),
            message_out: LinearConfig::new(f, f).init(device),
            bn_interaction: BatchNormConfig::new(f).init(device),
            bn: BatchNormConfig::new(f).init(device),
        }
    }

    /// Updates node features `h` `[N, F]` from edges `src → dst` (`[E]` each, node indices)
    /// with features `edges` `[E, F]`; returns `[N, F]`.
    ///
    /// L1 and L3 act on concat(h_i, h_j, e_ij); their weights are split into the three F-row
    /// blocks so that the node blocks are applied once per node and then gathered, instead of
    /// once per edge (E ≫ N: infinite edges alone are N² per crystal). The two first layers are
    /// also fused into one product of width 2F. The result equals the concatenated form up to
    /// float rounding.
    pub fn forward(
        &self,
        h: Tensor<2>,
        src: Tensor<1, Int>,
        dst: Tensor<1, Int>,
        edges: Tensor<2>,
    ) -> Tensor<2> {
        let [_, f] = h.dims();
        let w_gate = self.gate_in.weight.val();
        let w_msg = self.message_in.weight.val();
        let block = |row: usize| {
            Tensor::cat(
                vec![
                    w_gate.clone().narrow(0, row * f, f),
                    w_msg.clone().narrow(0, row * f, f),
                ],
                1,
            )
        };
        let (w_target, w_source, w_edge) = (block(0), block(1), block(2));

        let at_target = h.clone().matmul(w_target).select(0, dst.clone());
        let at_source = h.clone().matmul(w_source).select(0, src);
        let mut hidden = at_target.add(at_source).add(edges.matmul(w_edge));
        let biases: Vec<Tensor<1>> = [&self.gate_in, &self.message_in]
            .iter()
            .map(|l| match &l.bias {
                Some(b) => b.val(),
                None => Tensor::zeros([f], &h.device()),
            })
            .collect();
        hidden = hidden.add(Tensor::cat(biases, 0).unsqueeze_dim(0));
        let hidden = silu(hidden);

        let gate = sigmoid(
            self.bn_interaction
                .forward(self.gate_out.forward(hidden.clone().narrow(1, 0, f))),
        );
        let message = self.message_out.forward(hidden.narrow(1, f, f));
        let aggregated =
            h.zeros_like()
                .select_assign(0, dst, gate.mul(message), IndexingUpdateOp::Add);
        relu(h.add(self.bn.forward(aggregated)))
    }
}
