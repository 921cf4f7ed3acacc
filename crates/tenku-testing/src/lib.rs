//! Test support shared by Tenku's crates: where the reference fixtures live, how to read them and
//! how to compare against them with a stated tolerance.
//!
//! Fixtures are written by `scripts/make_wan_fixtures.py` with the Python reference (diffusers,
//! transformers) and committed under `crates/tenku-testing/fixtures/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use tenku_core::WeightStore;

/// The fixture root, `crates/tenku-testing/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A tiny Wan case: `fixtures/wan/<case>`, holding `pipeline/` (a diffusers directory) and
/// `reference.safetensors` (inputs and outputs of the reference implementation).
pub fn wan_case(case: &str) -> PathBuf {
    fixtures_dir().join("wan").join(case)
}

/// Every tiny Wan case present, sorted.
pub fn wan_cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(fixtures_dir().join("wan"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("reference.safetensors").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases
}

/// The device tests run on: Burn's flex CPU backend.
pub fn device() -> Device {
    Device::flex()
}

/// The reference tensors of a case.
pub fn reference(case: &str) -> WeightStore {
    let path = wan_case(case).join("reference.safetensors");
    WeightStore::open(&path).unwrap_or_else(|e| panic!("cannot open fixture {}: {e}", path.display()))
}

/// Reads a reference tensor of rank `D` onto the test device.
pub fn tensor<const D: usize>(store: &WeightStore, key: &str) -> Tensor<D> {
    store.tensor::<D>(key, &device()).unwrap_or_else(|e| panic!("fixture tensor `{key}`: {e}"))
}

/// Asserts `got` is within `tolerance` (max absolute difference) of `want`, shapes equal.
///
/// The message gives the worst difference and where it is, so a tolerance can be tightened to
/// just above float noise.
pub fn assert_close<const D: usize>(label: &str, got: Tensor<D>, want: Tensor<D>, tolerance: f32) {
    assert_eq!(got.dims(), want.dims(), "{label}: shape");
    let got = got.into_data().try_into_vec::<f32>().expect("f32 tensor");
    let want = want.into_data().try_into_vec::<f32>().expect("f32 tensor");
    let (worst_index, worst) = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .enumerate()
        .fold((0, 0.0f32), |best, (i, d)| if d > best.1 || d.is_nan() { (i, d) } else { best });
    println!("{label}: max abs difference {worst:e} (tolerance {tolerance:e})");
    assert!(
        worst <= tolerance,
        "{label}: max abs difference {worst:e} at flat index {worst_index} (got {}, want {}) exceeds {tolerance:e}",
        got[worst_index],
        want[worst_index]
    );
}

/// The string metadata of a case's `reference.safetensors` (prompt, sizes, steps, versions).
pub fn reference_metadata(case: &str) -> HashMap<String, String> {
    let path = wan_case(case).join("reference.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).expect("valid safetensors header");
    metadata.metadata().clone().unwrap_or_default()
}

/// Writes reference tensor `key` of `case` alone into `path` as the tensor `name` (for feeding
/// a reference input through a file, as a user would).
pub fn write_reference_tensor(case: &str, key: &str, name: &str, path: &Path) {
    let (values, shape) =
        reference(case).read_f32(key).unwrap_or_else(|e| panic!("fixture tensor `{key}`: {e}"));
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &bytes)
        .expect("consistent view");
    safetensors::serialize_to_file([(name, view)], None::<HashMap<String, String>>, path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Asserts that `gradient`, an autodiff gradient of `objective` at `point`, is right: the
/// central finite difference of `objective` along the gradient's direction (step `step`) must
/// equal `‖gradient‖` within `tolerance` (relative). A gradient scaled wrong, pointing wrong or
/// missing a path fails this by far more than the f32 finite-difference noise.
///
/// # Panics
/// When the gradient is (nearly) zero or the two numbers differ; the message gives both.
pub fn assert_gradient_matches_finite_difference<const D: usize>(
    label: &str,
    point: Tensor<D>,
    gradient: Tensor<D>,
    objective: impl Fn(Tensor<D>) -> f64,
    step: f32,
    tolerance: f64,
) {
    let norm = f64::from(gradient.clone().square().sum().sqrt().into_scalar::<f32>());
    assert!(norm > 1e-3, "{label}: no gradient reaches the input");
    let direction = gradient / norm as f32;
    let at = |step: f32| objective(point.clone() + direction.clone() * step);
    let finite_difference = (at(step) - at(-step)) / (2.0 * f64::from(step));
    let error = (finite_difference - norm).abs() / norm;
    assert!(
        error < tolerance,
        "{label}: ‖g‖ {norm:.6}, finite difference {finite_difference:.6} (relative error {error:.2e})"
    );
}
