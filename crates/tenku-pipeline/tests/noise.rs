//! Initial latents from a seed or a file.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use tenku_pipeline::{Error, latents_from_file, seeded_latents};

fn write(path: &Path, tensors: &[(&str, &[usize], &[f32])]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| (*name, TensorView::new(Dtype::F32, shape.to_vec(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None::<HashMap<String, String>>, path).unwrap();
}

const SHAPE: [usize; 5] = [1, 2, 1, 2, 2];

#[test]
fn the_same_seed_gives_the_same_latents() {
    let device = Device::flex();
    let a = seeded_latents(9, SHAPE, &device).into_data();
    assert_eq!(a, seeded_latents(9, SHAPE, &device).into_data());
    assert_ne!(a, seeded_latents(10, SHAPE, &device).into_data());
}

#[test]
fn latents_load_from_a_named_or_single_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..8).map(|i| i as f32 * 0.5).collect();
    let single = dir.path().join("single.safetensors");
    write(&single, &[("noise", &SHAPE, &values)]);
    let named = dir.path().join("named.safetensors");
    write(&named, &[("latents", &SHAPE, &values), ("other", &[1], &[0.0])]);
    for path in [single, named] {
        let t = latents_from_file(&path, SHAPE, &Device::flex()).unwrap();
        assert_eq!(t.into_data().try_into_vec::<f32>().unwrap(), values);
    }
}

#[test]
fn a_wrong_file_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.safetensors");
    write(&path, &[("latents", &[1, 2, 1, 2, 3], &[0.0; 12])]);
    let err = latents_from_file(&path, SHAPE, &Device::flex()).unwrap_err();
    assert!(matches!(err, Error::Noise { .. }));
    let message = err.to_string();
    assert!(message.contains("wrong.safetensors") && message.contains("[1, 2, 1, 2, 2]"), "{message}");

    write(&path, &[("a", &[1], &[0.0]), ("b", &[1], &[0.0])]);
    let message = latents_from_file(&path, SHAPE, &Device::flex()).unwrap_err().to_string();
    assert!(message.contains("`latents`"), "{message}");

    std::fs::write(&path, b"garbage").unwrap();
    assert!(matches!(latents_from_file(&path, SHAPE, &Device::flex()), Err(Error::Model(_))));
}
