//! Raw safetensors video files: one tensor `video`, `[frames, height, width, 3]`.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use ndarray::Array4;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::atomic;
use crate::error::Error;
use crate::metadata::{Metadata, parse_fps};
use crate::video::{DEFAULT_FPS, Video};

/// The name of the tensor holding the frames.
pub const VIDEO_TENSOR: &str = "video";
/// The `__metadata__` key holding the frame rate.
pub const FPS_KEY: &str = "fps";

const EXPECTED_SHAPE: &str = "[frames, height, width, 3] with non-zero frames, height, width";
const EXPECTED_DTYPE: &str = "f32, f16 or bf16";

/// Writes `video` as an `f32` tensor named `video`; `__metadata__` holds `meta.to_pairs()`
/// and `fps`.
pub(crate) fn write(path: &Path, video: &Video, meta: &Metadata) -> Result<(), Error> {
    let data: Vec<u8> = video.frames.iter().flat_map(|v| v.to_le_bytes()).collect();
    let shape = video.frames.shape().to_vec();
    let view = TensorView::new(Dtype::F32, shape, &data)
        .map_err(|source| Error::Safetensors { path: path.to_path_buf(), source })?;
    let mut info: HashMap<String, String> = meta.to_pairs().into_iter().collect();
    info.insert(FPS_KEY.to_owned(), video.fps.to_string());
    let bytes = safetensors::serialize([(VIDEO_TENSOR, view)], Some(info))
        .map_err(|source| Error::Safetensors { path: path.to_path_buf(), source })?;
    atomic::write_bytes(path, &bytes)
}

/// Reads the `video` tensor (`f32`, `f16` or `bf16`) and the metadata.
pub(crate) fn read(path: &Path) -> Result<(Video, Metadata), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|source| Error::Safetensors { path: path.to_path_buf(), source })?;
    let tensor = st.tensor(VIDEO_TENSOR).map_err(|_| {
        let mut found: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
        found.sort();
        Error::MissingTensor { path: path.to_path_buf(), key: VIDEO_TENSOR.to_owned(), found }
    })?;
    let shape = tensor.shape().to_vec();
    if shape.len() != 4 || shape[3] != 3 || shape.contains(&0) {
        return Err(Error::TensorShape {
            path: path.to_path_buf(),
            key: VIDEO_TENSOR.to_owned(),
            found: shape,
            expected: EXPECTED_SHAPE,
        });
    }
    let raw = tensor.data();
    let values: Vec<f32> = match tensor.dtype() {
        Dtype::F32 => raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => {
            raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect()
        }
        other => {
            return Err(Error::TensorDtype {
                path: path.to_path_buf(),
                key: VIDEO_TENSOR.to_owned(),
                found: format!("{other:?}").to_lowercase(),
                expected: EXPECTED_DTYPE,
            });
        }
    };
    let frames = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), values)
        .map_err(|e| Error::malformed(path, "safetensors", e.to_string()))?;

    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|source| Error::Safetensors { path: path.to_path_buf(), source })?;
    let info = header.metadata().clone().unwrap_or_default();
    let (fps, meta) = parse_info(&info).map_err(|e| e.at(path))?;
    let video = Video::new(frames, fps).map_err(|e| e.at(path))?;
    Ok((video, meta))
}

/// Reads only the `__metadata__` of a safetensors file (the header, not the tensor data).
pub(crate) fn read_metadata(path: &Path) -> Result<(Option<f32>, Metadata), Error> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|_| Error::malformed(path, "safetensors", "shorter than the 8-byte header length"))?;
    let header_len = u64::from_le_bytes(len_bytes);
    // The same bound the safetensors crate enforces.
    if header_len > 100_000_000 || header_len > file_len.saturating_sub(8) {
        return Err(Error::malformed(
            path,
            "safetensors",
            format!("header length {header_len} exceeds the file ({file_len} bytes)"),
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(|e| Error::io(path, e))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
    let info: HashMap<String, String> = match header.get("__metadata__") {
        Some(serde_json::Value::Object(map)) => {
            map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect()
        }
        _ => HashMap::new(),
    };
    let fps = info.get(FPS_KEY).map(|v| parse_fps(v)).transpose().map_err(|e| e.at(path))?;
    let meta = Metadata::from_pairs(&info).map_err(|e| e.at(path))?;
    Ok((fps, meta))
}

fn parse_info(info: &HashMap<String, String>) -> Result<(f32, Metadata), Error> {
    let fps = match info.get(FPS_KEY) {
        Some(v) => parse_fps(v)?,
        None => DEFAULT_FPS,
    };
    Ok((fps, Metadata::from_pairs(info)?))
}
