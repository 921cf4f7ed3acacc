//! The weight store against real safetensors files written here: layouts, dtypes, shards and
//! every kind of mismatch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::Device;
use safetensors::{Dtype, View};
use tenku_core::{Error, LoadOptions, WeightStore};

#[derive(Module, Debug)]
struct Tiny {
    proj: Linear,
    norm: LayerNorm,
}

fn tiny(device: &Device) -> Tiny {
    Tiny { proj: LinearConfig::new(3, 2).init(device), norm: LayerNormConfig::new(2).init(device) }
}

/// A raw tensor to serialize.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn raw(dtype: Dtype, shape: &[usize], values: &[f32]) -> Raw {
    let bytes = match dtype {
        Dtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Dtype::F16 => values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        Dtype::BF16 => values.iter().flat_map(|v| half::bf16::from_f32(*v).to_le_bytes()).collect(),
        Dtype::I64 => values.iter().flat_map(|v| (*v as i64).to_le_bytes()).collect(),
        other => panic!("unused dtype {other:?}"),
    };
    Raw { dtype, shape: shape.to_vec(), bytes }
}

/// PyTorch layout of `Tiny`: Linear weight `[out, in]`, LayerNorm `weight`/`bias`.
fn torch_tensors(dtype: Dtype) -> Vec<(String, Raw)> {
    vec![
        ("proj.weight".into(), raw(dtype, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ("proj.bias".into(), raw(dtype, &[2], &[0.5, -0.5])),
        ("norm.weight".into(), raw(dtype, &[2], &[1.5, 2.5])),
        ("norm.bias".into(), raw(dtype, &[2], &[0.25, 0.75])),
    ]
}

fn write(path: &Path, tensors: &[(String, Raw)]) {
    let views: Vec<(&str, &Raw)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    safetensors::serialize_to_file(views, None::<HashMap<String, String>>, path).unwrap();
}

fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn load(path: &Path, options: &LoadOptions) -> Result<Tiny, Error> {
    let device = Device::flex();
    WeightStore::open(path)?.load_into(tiny(&device), options).map(|(m, _)| m)
}

#[test]
fn loads_pytorch_layout_in_every_float_dtype() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in [Dtype::F32, Dtype::F16, Dtype::BF16] {
        let path = dir.path().join(format!("{dtype:?}.safetensors"));
        write(&path, &torch_tensors(dtype));
        let model = load(&path, &LoadOptions::f32()).unwrap();
        // Burn keeps Linear weights as [in, out]: the transpose of PyTorch's [out, in].
        assert_eq!(values(model.proj.weight.val()), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0], "{dtype:?}");
        assert_eq!(values(model.proj.bias.unwrap().val()), vec![0.5, -0.5]);
        assert_eq!(values(model.norm.gamma.val()), vec![1.5, 2.5]);
        assert_eq!(values(model.norm.beta.unwrap().val()), vec![0.25, 0.75]);
    }
}

fn shard_index(dir: &Path) -> PathBuf {
    let tensors = torch_tensors(Dtype::F32);
    let (first, second) = tensors.split_at(2);
    write(&dir.join("model-00001-of-00002.safetensors"), first);
    write(&dir.join("model-00002-of-00002.safetensors"), second);
    let weight_map: serde_json::Map<String, serde_json::Value> = tensors
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), format!("model-0000{}-of-00002.safetensors", 1 + i / 2).into()))
        .collect();
    let index = dir.join("model.safetensors.index.json");
    let json = serde_json::json!({ "metadata": { "total_size": 0 }, "weight_map": weight_map });
    std::fs::write(&index, json.to_string()).unwrap();
    index
}

#[test]
fn loads_sharded_checkpoints_from_the_index_or_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let index = shard_index(dir.path());
    for path in [index.as_path(), dir.path()] {
        let store = WeightStore::open(path).unwrap();
        assert_eq!(store.files().count(), 2);
        assert_eq!(store.parameter_count(), 6 + 2 + 2 + 2);
        let model = load(path, &LoadOptions::f32()).unwrap();
        assert_eq!(values(model.norm.gamma.val()), vec![1.5, 2.5]);
        assert_eq!(values(model.proj.weight.val()), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}

#[test]
fn a_missing_shard_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let index = shard_index(dir.path());
    std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors")).unwrap();
    let err = WeightStore::open(&index).unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { path, .. } if path.ends_with("model-00002-of-00002.safetensors")),
        "{err}"
    );
}

#[test]
fn missing_and_unexpected_keys_are_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut tensors = torch_tensors(Dtype::F32);
    tensors.remove(1); // proj.bias
    tensors.push(("extra.scale".into(), raw(Dtype::F32, &[1], &[1.0])));
    write(&path, &tensors);
    let err = load(&path, &LoadOptions::f32()).unwrap_err();
    match &err {
        Error::KeyMismatch { missing, unexpected, .. } => {
            assert_eq!(missing, &vec!["proj.bias".to_owned()]);
            assert_eq!(unexpected, &vec!["extra.scale".to_owned()]);
        }
        other => panic!("expected KeyMismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("`proj.bias`")
            && message.contains("`extra.scale`")
            && message.contains("w.safetensors")
    );
}

#[test]
fn unexpected_keys_can_be_ignored_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut tensors = torch_tensors(Dtype::F32);
    tensors.push(("extra.scale".into(), raw(Dtype::F32, &[1], &[1.0])));
    write(&path, &tensors);
    let options = LoadOptions { ignore_unexpected: vec!["extra.scale".into()], ..LoadOptions::f32() };
    let (_, report) = WeightStore::open(&path).unwrap().load_into(tiny(&Device::flex()), &options).unwrap();
    assert_eq!(report.ignored, vec!["extra.scale".to_owned()]);
    assert_eq!(report.applied.len(), 4);
}

#[test]
fn remapped_keys_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let tensors: Vec<(String, Raw)> =
        torch_tensors(Dtype::F32).into_iter().map(|(k, v)| (k.replace("proj.", "to_out.0."), v)).collect();
    write(&path, &tensors);
    let options = LoadOptions::f32().with_remap(r"^to_out\.0\.(weight|bias)$", "proj.$1");
    let model = load(&path, &options).unwrap();
    assert_eq!(values(model.proj.bias.unwrap().val()), vec![0.5, -0.5]);
}

#[test]
fn a_wrong_shape_names_key_file_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut tensors = torch_tensors(Dtype::F32);
    tensors[0] = ("proj.weight".into(), raw(Dtype::F32, &[4, 3], &[0.0; 12]));
    write(&path, &tensors);
    let err = load(&path, &LoadOptions::f32()).unwrap_err();
    match &err {
        Error::ShapeMismatch { key, expected, found, .. } => {
            assert_eq!(key, "proj.weight");
            // Reported in the file's [out, in] layout, not Burn's transposed one.
            assert_eq!((expected.as_slice(), found.as_slice()), (&[2, 3][..], &[4, 3][..]));
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    assert!(err.to_string().contains("w.safetensors"), "{err}");
}

#[test]
fn a_truncated_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.safetensors");
    write(&path, &torch_tensors(Dtype::F32));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let err = WeightStore::open(&path).unwrap_err();
    assert!(matches!(err, Error::Safetensors { .. }), "{err}");
    assert!(err.to_string().contains("cut.safetensors"), "{err}");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(matches!(WeightStore::open(&path).unwrap_err(), Error::Safetensors { .. }));
}

#[test]
fn reading_single_tensors_checks_key_rank_and_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut tensors = torch_tensors(Dtype::BF16);
    tensors.push(("steps".into(), raw(Dtype::I64, &[2], &[3.0, 4.0])));
    write(&path, &tensors);
    let store = WeightStore::open(&path).unwrap();
    let device = Device::flex();
    assert_eq!(
        values(store.tensor::<2>("proj.weight", &device).unwrap()),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert!(matches!(store.tensor::<3>("proj.weight", &device), Err(Error::ShapeMismatch { .. })));
    assert!(
        matches!(store.tensor::<1>("nope", &device), Err(Error::MissingTensor { key, .. }) if key == "nope")
    );
    assert!(matches!(store.tensor::<1>("steps", &device), Err(Error::UnsupportedDtype { .. })));
    assert_eq!(store.info("proj.weight").unwrap().dtype, "BF16");
}

#[test]
fn a_directory_without_weights_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(WeightStore::open(dir.path()), Err(Error::NotFound { .. })));
    assert!(matches!(WeightStore::open(&dir.path().join("absent.safetensors")), Err(Error::NotFound { .. })));
}
