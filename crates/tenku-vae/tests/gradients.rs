//! The gradients training relies on: autodiff through the chunked encode and the streaming
//! decode (causal caches included) against central finite differences.
//!
//! A directional derivative along the autodiff gradient `g` must equal `‖g‖`; a gradient that is
//! scaled wrong or that loses the path through a cache fails this by far more than the f32
//! finite-difference noise (observed 7.6e-4 relative at step 0.01 on both checks).

use burn::tensor::{Distribution, Tensor};
use tenku_testing::{assert_gradient_matches_finite_difference, device, wan_case};
use tenku_vae::WanVae;

/// Relative tolerance between the finite difference and `‖g‖`.
const TOLERANCE: f64 = 3e-3;

/// Finite-difference step along the unit direction.
const STEP: f32 = 0.01;

/// `Σ r · decode(encode_mean(x))`, the decode unclamped and streamed as the training loss uses it.
fn objective(vae: &WanVae, x: Tensor<5>, r: Tensor<5>) -> Tensor<1> {
    let mut chunks = Vec::new();
    vae.decode_unclamped_streaming(vae.encode_mean(x), &mut |chunk| chunks.push(chunk));
    (Tensor::cat(chunks, 2) * r).sum()
}

/// Checks the gradient with respect to the frames `0..through` of a 9-frame clip, with the
/// objective's weights `r` zero on output frames before `from`.
fn check_input_gradient(through: usize, from: usize) {
    let plain = device();
    plain.seed(7);
    let autodiff = plain.clone().autodiff();
    let dir = wan_case("tiny_a").join("pipeline").join("vae");
    let vae = WanVae::load(&dir, &plain).expect("tiny_a VAE");
    let tracked = WanVae::load(&dir, &autodiff).expect("tiny_a VAE");

    let dims = [1, 3, 9, 16, 16];
    let x = Tensor::<5>::random(dims, Distribution::Uniform(-1.0, 1.0), &plain);
    let r = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &plain);
    let r = r.slice_assign([0..1, 0..3, 0..from, 0..16, 0..16], Tensor::zeros([1, 3, from, 16, 16], &plain));

    let x_tracked = Tensor::<5>::from_data(x.clone().into_data(), &autodiff).require_grad();
    let r_tracked = Tensor::<5>::from_data(r.clone().into_data(), &autodiff);
    let grads = objective(&tracked, x_tracked.clone(), r_tracked).backward();
    let gradient = x_tracked.grad(&grads).expect("the input is tracked");
    // Only the first `through` frames move.
    let keep = Tensor::<5>::zeros(dims, &plain)
        .slice_assign([0..1, 0..3, 0..through, 0..16, 0..16], Tensor::ones([1, 3, through, 16, 16], &plain));
    let objective = |x: Tensor<5>| f64::from(objective(&vae, x, r.clone()).into_scalar::<f32>());
    let label = format!("frames 0..{through} → outputs {from}..");
    assert_gradient_matches_finite_difference(&label, x, gradient * keep, objective, STEP, TOLERANCE);
}

#[test]
fn gradient_through_encode_and_streamed_decode_is_exact() {
    check_input_gradient(9, 0);
}

/// Output frames 5..9 depend on input frame 0 only through the encoder's and the decoder's
/// causal caches: a cache that dropped its gradient would leave this one at zero.
#[test]
fn gradient_flows_through_the_causal_caches() {
    check_input_gradient(1, 5);
}
