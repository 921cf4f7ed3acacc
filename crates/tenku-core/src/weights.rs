//! A weight store over safetensors checkpoints: one file, or shards with an index.
//!
//! Files are memory-mapped and their headers checked when the store opens, so a truncated or
//! malformed file is reported before any module is touched. Loading into a Burn module goes
//! through burn-store (PyTorch → Burn layout, float casts) and turns every missing, unexpected or
//! mis-shaped tensor into an [`Error`] naming the key and the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyError, BurnToPyTorchAdapter, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    PyTorchToBurnAdapter, SafetensorsStore,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Dtype and shape of one stored tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The file holding the tensor.
    pub file: PathBuf,
    /// The stored dtype, as safetensors names it (`F32`, `BF16`, ...).
    pub dtype: String,
    /// The stored shape.
    pub shape: Vec<usize>,
}

impl TensorInfo {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// How [`WeightStore::load_into`] maps checkpoint keys onto module parameters.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The float dtype parameters are converted to.
    pub dtype: DType,
    /// Regex rewrites of checkpoint keys, `(pattern, replacement)`, applied before matching;
    /// anchor each pattern (`^…$`) so their order does not matter.
    pub remap: Vec<(String, String)>,
    /// Checkpoint keys (after remapping) that the module may leave unused.
    pub ignore_unexpected: Vec<String>,
}

impl LoadOptions {
    /// f32 parameters, keys used as they are.
    pub fn f32() -> Self {
        Self { dtype: DType::F32, remap: Vec::new(), ignore_unexpected: Vec::new() }
    }

    /// Adds a key rewrite.
    pub fn with_remap(mut self, pattern: impl Into<String>, replacement: impl Into<String>) -> Self {
        self.remap.push((pattern.into(), replacement.into()));
        self
    }
}

/// What a successful load applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Module parameter paths that received a tensor.
    pub applied: Vec<String>,
    /// Checkpoint keys ignored on purpose (listed in [`LoadOptions::ignore_unexpected`]).
    pub ignored: Vec<String>,
}

struct Shard {
    path: PathBuf,
    map: Mmap,
}

/// Memory-mapped safetensors weights, possibly sharded.
pub struct WeightStore {
    origin: PathBuf,
    shards: Vec<Shard>,
    tensors: BTreeMap<String, (usize, TensorInfo)>,
}

impl std::fmt::Debug for WeightStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightStore")
            .field("origin", &self.origin)
            .field("shards", &self.shards.iter().map(|s| &s.path).collect::<Vec<_>>())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

impl WeightStore {
    /// Opens a checkpoint: a `.safetensors` file, a `*.safetensors.index.json` shard index, or a
    /// directory holding either (an index wins; otherwise every `.safetensors` file is a shard).
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Self::open_dir(path);
        }
        if !path.exists() {
            return Err(Error::NotFound { what: "weights file", path: path.to_owned() });
        }
        if path.to_string_lossy().ends_with(".index.json") {
            return Self::open_index(path);
        }
        Self::from_files(path, vec![path.to_owned()])
    }

    fn open_dir(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        if let Some(index) = files.iter().find(|p| p.to_string_lossy().ends_with(".safetensors.index.json")) {
            return Self::open_index(index);
        }
        let shards: Vec<PathBuf> =
            files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "safetensors")).collect();
        if shards.is_empty() {
            return Err(Error::NotFound { what: "safetensors weights", path: dir.to_owned() });
        }
        Self::from_files(dir, shards)
    }

    fn open_index(index_path: &Path) -> Result<Self> {
        let index: ShardIndex = read_json(index_path)?;
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let files: BTreeSet<&String> = index.weight_map.values().collect();
        let shards = files.into_iter().map(|f| dir.join(f)).collect();
        let store = Self::from_files(index_path, shards)?;
        for (key, file) in &index.weight_map {
            if !store.tensors.contains_key(key) {
                return Err(Error::MissingTensor { key: key.clone(), path: dir.join(file) });
            }
        }
        Ok(store)
    }

    fn from_files(origin: &Path, files: Vec<PathBuf>) -> Result<Self> {
        let mut shards = Vec::with_capacity(files.len());
        let mut tensors = BTreeMap::new();
        for path in files {
            if !path.exists() {
                return Err(Error::NotFound { what: "weights shard", path });
            }
            let file = File::open(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            // SAFETY: the map is read-only; like every mmap-based loader, we rely on nobody
            // truncating the checkpoint while it is open.
            let map =
                unsafe { Mmap::map(&file) }.map_err(|source| Error::Io { path: path.clone(), source })?;
            let parsed = SafeTensors::deserialize(&map)
                .map_err(|e| Error::Safetensors { path: path.clone(), reason: e.to_string() })?;
            for (key, view) in parsed.tensors() {
                let info = TensorInfo {
                    file: path.clone(),
                    dtype: format!("{:?}", view.dtype()),
                    shape: view.shape().to_vec(),
                };
                tensors.insert(key, (shards.len(), info));
            }
            drop(parsed);
            shards.push(Shard { path, map });
        }
        Ok(Self { origin: origin.to_owned(), shards, tensors })
    }

    /// The path the store was opened from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The shard files, in load order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.shards.iter().map(|s| s.path.as_path())
    }

    /// Every tensor key with its dtype and shape, sorted by key.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &TensorInfo)> {
        self.tensors.iter().map(|(k, (_, info))| (k.as_str(), info))
    }

    /// Dtype and shape of `key`, if stored.
    pub fn info(&self, key: &str) -> Option<&TensorInfo> {
        self.tensors.get(key).map(|(_, info)| info)
    }

    /// Total number of stored elements (parameters).
    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(|(_, info)| info.numel()).sum()
    }

    /// Reads `key` as f32 values with its shape (f16, bf16 and f64 are converted).
    pub fn read_f32(&self, key: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let (shard, info) = self
            .tensors
            .get(key)
            .ok_or_else(|| Error::MissingTensor { key: key.to_owned(), path: self.origin.clone() })?;
        let shard = &self.shards[*shard];
        let parsed = SafeTensors::deserialize(&shard.map)
            .map_err(|e| Error::Safetensors { path: shard.path.clone(), reason: e.to_string() })?;
        let view = parsed
            .tensor(key)
            .map_err(|e| Error::Safetensors { path: shard.path.clone(), reason: e.to_string() })?;
        let values = bytes_to_f32(view.dtype(), view.data()).ok_or_else(|| Error::UnsupportedDtype {
            key: key.to_owned(),
            path: shard.path.clone(),
            found: info.dtype.clone(),
        })?;
        Ok((values, info.shape.clone()))
    }

    /// Reads `key` as an f32 tensor of rank `D` on `device`.
    pub fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Result<Tensor<D>> {
        let (values, shape) = self.read_f32(key)?;
        if shape.len() != D {
            let info = self.info(key).expect("read_f32 found the key");
            return Err(Error::ShapeMismatch {
                key: key.to_owned(),
                path: info.file.clone(),
                expected: vec![0; D],
                found: shape,
            });
        }
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Loads every parameter of `module` from the checkpoint.
    ///
    /// Checkpoint keys are PyTorch state-dict paths; Linear weights are transposed and norm
    /// parameters renamed to Burn's layout. Fails, naming the keys, when the module needs a tensor
    /// no file holds, when a file holds a tensor no parameter takes (unless ignored in `options`),
    /// or when a shape differs from the module's.
    pub fn load_into<M: Module + ModuleSnapshot>(
        &self,
        module: M,
        options: &LoadOptions,
    ) -> Result<(M, LoadReport)> {
        let mut module = module;
        let remapper = KeyRemapper::from_patterns(options.remap.clone()).map_err(|e| Error::Load {
            path: self.origin.clone(),
            reason: format!("bad key pattern: {e}"),
        })?;
        let mut applied = BTreeSet::new();
        let mut missing_everywhere: Option<BTreeSet<String>> = None;
        let mut unused = BTreeSet::new();
        for shard in &self.shards {
            let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(options.dtype));
            let mut store = SafetensorsStore::from_file(&shard.path)
                .with_from_adapter(adapter)
                .remap(remapper.clone())
                .allow_partial(true)
                .validate(false);
            let result = module
                .load_from(&mut store)
                .map_err(|e| Error::Load { path: shard.path.clone(), reason: e.to_string() })?;
            if let Some(error) = result.errors.first() {
                return Err(self.apply_error(error, &shard.path));
            }
            let missing: BTreeSet<String> = result.missing.into_iter().map(|(key, _)| key).collect();
            missing_everywhere = Some(match missing_everywhere {
                None => missing,
                Some(previous) => previous.intersection(&missing).cloned().collect(),
            });
            applied.extend(result.applied);
            unused.extend(result.unused);
        }
        let missing: Vec<String> = missing_everywhere.unwrap_or_default().into_iter().collect();
        let (ignored, unexpected): (Vec<String>, Vec<String>) =
            unused.into_iter().partition(|key| options.ignore_unexpected.contains(key));
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Error::KeyMismatch { path: self.origin.clone(), missing, unexpected });
        }
        Ok((module, LoadReport { applied: applied.into_iter().collect(), ignored }))
    }

    /// Turns burn-store's error into ours, with shapes in the file's (PyTorch) layout: a Linear
    /// weight that the adapter transposed is reported untransposed.
    fn apply_error(&self, error: &ApplyError, path: &Path) -> Error {
        match error {
            ApplyError::ShapeMismatch { path: key, expected, found } => {
                let (mut expected, adapted) = (expected.to_vec(), found.to_vec());
                let stored = self.info(key).map_or_else(|| adapted.clone(), |info| info.shape.clone());
                if stored.len() == 2 && stored != adapted {
                    expected.reverse();
                }
                Error::ShapeMismatch { key: key.clone(), path: path.to_owned(), expected, found: stored }
            }
            other => Error::Load { path: path.to_owned(), reason: other.to_string() },
        }
    }
}

fn bytes_to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let words = |n: usize| bytes.chunks_exact(n);
    Some(match dtype {
        Dtype::F32 => words(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => words(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => words(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::F64 => words(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect(),
        _ => return None,
    })
}

/// Reads and deserializes a JSON file, naming the file on error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { what: "file", path: path.to_owned() },
        _ => Error::Io { path: path.to_owned(), source },
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_owned(), source })
}

/// Writes `module`'s parameters to the safetensors file `path` in the PyTorch layout that
/// [`WeightStore::load_into`] reads (Linear weights transposed back, norm parameters renamed,
/// enum variant segments left out), renaming module paths with the `(pattern, replacement)`
/// regexes in `remap`: the inverse of the remaps the component's loader applies.
///
/// The bytes are canonical — tensors in safetensors' order, metadata `{"format": "pt"}` as
/// PyTorch writes it — so equal parameters give byte-identical files. The file is written beside
/// `path` under a temporary name and renamed into place, so a failed save never leaves a
/// half-written checkpoint.
pub fn save_safetensors<M: Module + ModuleSnapshot>(
    module: &M,
    path: &Path,
    remap: &[(&str, &str)],
) -> Result<()> {
    let patterns = remap.iter().map(|(p, r)| (p.to_string(), r.to_string())).collect();
    let remapper = KeyRemapper::from_patterns(patterns)
        .map_err(|e| Error::Load { path: path.to_owned(), reason: format!("bad key pattern: {e}") })?;
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .remap(remapper);
    module.save_into(&mut store).map_err(|e| Error::Load { path: path.to_owned(), reason: e.to_string() })?;
    let fail = |reason: String| Error::Load { path: path.to_owned(), reason };
    let bytes = store.get_bytes().map_err(|e| fail(e.to_string()))?;
    // burn-store writes its metadata from a hash map, in a different order on every run.
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| fail(e.to_string()))?;
    let metadata = std::collections::HashMap::from([("format".to_owned(), "pt".to_owned())]);
    let canonical =
        safetensors::serialize(tensors.tensors(), Some(metadata)).map_err(|e| fail(e.to_string()))?;
    write_file_atomic(path, &canonical)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, bytes).map_err(io)?;
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        io(source)
    })
}

/// Writes a component's `config.json` as diffusers and transformers do: the config's fields
/// plus `_class_name` (and whatever `extra` adds, such as transformers' `architectures`),
/// pretty-printed, atomically.
pub fn write_config_json(
    path: &Path,
    class_name: &str,
    config: &impl serde::Serialize,
    extra: &[(&str, serde_json::Value)],
) -> Result<()> {
    let json_error = |e: serde_json::Error| Error::Json { path: path.to_owned(), source: e };
    let mut value = serde_json::to_value(config).map_err(json_error)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("_class_name".into(), class_name.into());
        for (key, extra_value) in extra {
            object.insert((*key).into(), extra_value.clone());
        }
    }
    let mut text = serde_json::to_string_pretty(&value).map_err(json_error)?;
    text.push('\n');
    write_file_atomic(path, text.as_bytes())
}
