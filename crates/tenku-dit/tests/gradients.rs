//! The gradients training relies on: autodiff through the transformer (patch embedding,
//! RoPE self-attention, cross-attention, modulation, output head) against a central finite
//! difference, as `tenku-vae/tests/gradients.rs` checks the VAE.
//!
//! A directional derivative along the autodiff gradient `g` must equal `‖g‖`. RoPE's rotation
//! is the one place where a wrong backward would hide from the forward parity tests while
//! still letting the low-frequency pairs (angles near 0) learn, so the input is a grid with
//! several positions per axis.

use burn::tensor::{Distribution, Tensor};
use tenku_core::Timestep;
use tenku_dit::WanTransformer;
use tenku_testing::{assert_gradient_matches_finite_difference, device, wan_case};

/// Relative tolerance between the finite difference and `‖g‖`.
const TOLERANCE: f64 = 3e-3;

/// Finite-difference step along the unit direction.
const STEP: f32 = 0.01;

#[test]
fn gradient_through_the_transformer_is_exact() {
    let plain = device();
    plain.seed(11);
    let autodiff = plain.clone().autodiff();
    let dir = wan_case("tiny_a").join("pipeline").join("transformer");
    let model = WanTransformer::load(&dir, &plain).expect("tiny_a transformer");
    let tracked = WanTransformer::load(&dir, &autodiff).expect("tiny_a transformer");
    let config = model.config().clone();
    let [pt, ph, pw] = config.patch_size;
    let dims = [1, config.in_channels, 3 * pt, 4 * ph, 4 * pw];
    let x = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &plain);
    let r = Tensor::<5>::random(
        [1, config.output_channels(), 3 * pt, 4 * ph, 4 * pw],
        Distribution::Normal(0.0, 1.0),
        &plain,
    );
    let text = Tensor::<3>::random([1, 5, config.text_dim], Distribution::Normal(0.0, 1.0), &plain);
    let objective = |model: &WanTransformer, x: Tensor<5>, r: Tensor<5>, text: Tensor<3>| {
        let t = Tensor::<1>::from_floats([700.0], &x.device());
        (model.forward(x, Timestep::PerSample(t), text) * r).sum()
    };

    let x_tracked = Tensor::<5>::from_data(x.clone().into_data(), &autodiff).require_grad();
    let on_autodiff = |t: Tensor<5>| Tensor::<5>::from_data(t.into_data(), &autodiff);
    let text_tracked = Tensor::<3>::from_data(text.clone().into_data(), &autodiff);
    let grads = objective(&tracked, x_tracked.clone(), on_autodiff(r.clone()), text_tracked).backward();
    let gradient = x_tracked.grad(&grads).expect("the input is tracked");
    let objective =
        |x: Tensor<5>| f64::from(objective(&model, x, r.clone(), text.clone()).into_scalar::<f32>());
    assert_gradient_matches_finite_difference("transformer input", x, gradient, objective, STEP, TOLERANCE);
}
