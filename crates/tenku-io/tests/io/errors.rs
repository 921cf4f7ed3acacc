//! Typed errors that name the file, and atomicity after failures.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array4;
use tenku_io::{Error, Metadata, Video, read_image, read_metadata, read_video, write_video};

use crate::common::{clip, entries};

/// Asserts the message names `path`, and returns it.
fn names(err: &Error, path: &Path) -> String {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "message does not name {}: {msg}", path.display());
    msg
}

fn write_st(path: &Path, name: &str, dtype: safetensors::Dtype, shape: &[usize]) {
    let n: usize = shape.iter().product();
    let data = vec![0u8; n * dtype.bitsize() / 8];
    let view = safetensors::tensor::TensorView::new(dtype, shape.to_vec(), &data).unwrap();
    safetensors::serialize_to_file([(name, view)], None::<HashMap<_, _>>, path).unwrap();
}

#[test]
fn unknown_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.avi");
    let err = write_video(&path, &clip(1, 4, 4, 1.0), &Metadata::default()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedExtension { ref extension, .. } if extension == "avi"));
    let msg = names(&err, &path);
    assert!(msg.contains(".mp4") && msg.contains(".safetensors"), "{msg}");
    assert!(matches!(read_video(&path).unwrap_err(), Error::UnsupportedExtension { .. }));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn truncated_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.safetensors");
    write_video(&path, &clip(2, 8, 8, 4.0), &Metadata::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::Safetensors { .. }), "{err:?}");
    names(&err, &path);
    assert!(std::error::Error::source(&err).is_some());

    // Truncated inside the 8-byte length prefix.
    std::fs::write(&path, &bytes[..5]).unwrap();
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::Safetensors { .. }), "{err:?}");
    let err = read_metadata(&path).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn safetensors_wrong_name_rank_and_dtype() {
    let dir = tempfile::tempdir().unwrap();

    let path = dir.path().join("name.safetensors");
    write_st(&path, "frames", safetensors::Dtype::F32, &[1, 2, 2, 3]);
    let err = read_video(&path).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref key, ref found, .. } if key == "video" && found == &["frames"]),
        "{err:?}"
    );
    let msg = names(&err, &path);
    assert!(msg.contains("`video`") && msg.contains("`frames`"), "{msg}");

    let path = dir.path().join("rank.safetensors");
    write_st(&path, "video", safetensors::Dtype::F32, &[2, 2, 3]);
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::TensorShape { ref found, .. } if found == &[2, 2, 3]), "{err:?}");
    let msg = names(&err, &path);
    assert!(msg.contains("[frames, height, width, 3]"), "{msg}");

    let path = dir.path().join("channels.safetensors");
    write_st(&path, "video", safetensors::Dtype::F32, &[1, 2, 2, 4]);
    assert!(matches!(read_video(&path).unwrap_err(), Error::TensorShape { .. }));

    let path = dir.path().join("dtype.safetensors");
    write_st(&path, "video", safetensors::Dtype::I32, &[1, 2, 2, 3]);
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::TensorDtype { .. }), "{err:?}");
    let msg = names(&err, &path);
    assert!(msg.contains("i32") && msg.contains("f32"), "{msg}");
}

#[test]
fn safetensors_bad_fps_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fps.safetensors");
    let data = vec![0u8; 12 * 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1, 2, 2, 3], &data).unwrap();
    let info = HashMap::from([("fps".to_owned(), "fast".to_owned())]);
    safetensors::serialize_to_file([("video", view)], Some(info), &path).unwrap();
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::InvalidMetadata { ref key, .. } if key == "fps"), "{err:?}");
    names(&err, &path);

    let path = dir.path().join("nan.safetensors");
    let data: Vec<u8> = std::iter::repeat_n(f32::NAN.to_le_bytes(), 12).flatten().collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1, 2, 2, 3], &data).unwrap();
    safetensors::serialize_to_file([("video", view)], None::<HashMap<_, _>>, &path).unwrap();
    let err = read_video(&path).unwrap_err();
    assert!(matches!(err, Error::InvalidVideo { .. }), "{err:?}");
    names(&err, &path);
}

#[test]
fn read_image_of_non_image() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["notes.txt", "fake.png"] {
        let path = dir.path().join(name);
        std::fs::write(&path, "this is not an image").unwrap();
        let err = read_image(&path).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err:?}");
        names(&err, &path);
    }
    let missing = dir.path().join("missing.png");
    let err = read_image(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    names(&err, &missing);
}

#[test]
fn corrupt_video_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bad.mp4", "bad.gif"] {
        let path = dir.path().join(name);
        std::fs::write(&path, vec![0x5a; 300]).unwrap();
        let err = read_video(&path).unwrap_err();
        names(&err, &path);
    }
    // A valid mp4 cut in half.
    let path = dir.path().join("cut.mp4");
    write_video(&path, &clip(3, 16, 16, 8.0), &Metadata::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_video(&path).unwrap_err();
    names(&err, &path);
    // A valid container whose H.264 payload is garbage: an error or concealed frames, no panic.
    let path = dir.path().join("noise.mp4");
    write_video(&path, &clip(3, 32, 32, 8.0), &Metadata::default()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    // Samples follow the mdat header and the 8-byte `wide` box the mp4 writer reserves; keep
    // the length prefixes and NAL headers, scramble the slice data.
    let (mut p, end) = (mdat + 12, moov - 4);
    while p + 4 <= end {
        let len = u32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        for (i, b) in bytes[(p + 6).min(end)..(p + 4 + len).min(end)].iter_mut().enumerate() {
            *b ^= (i as u8).wrapping_mul(37) | 1;
        }
        p += 4 + len;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert!(moov > mdat + 100, "mdat too small to corrupt");
    match read_video(&path) {
        Ok(v) => eprintln!("corrupted h.264 decoded (concealed) to {} frames", v.num_frames()),
        Err(err) => {
            eprintln!("corrupted h.264: {err}");
            names(&err, &path);
        }
    }
    // An empty png directory.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = read_video(&empty).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    names(&err, &empty);
}

#[test]
fn write_into_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let video = clip(1, 4, 4, 1.0);
    for name in ["clip.mp4", "clip.gif", "clip.safetensors", "frames"] {
        let path = dir.path().join("no-such-dir").join(name);
        let err = write_video(&path, &video, &Metadata::default()).unwrap_err();
        assert!(matches!(err, Error::MissingParentDir { .. }), "{err:?}");
        names(&err, &path);
        assert!(!path.exists());
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn invalid_video_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Array4::<f32>::zeros((2, 4, 4, 3));
    frames[[1, 0, 0, 0]] = f32::NAN;
    let bad = Video { frames, fps: 8.0 };
    let no_frames = Video { frames: Array4::zeros((0, 4, 4, 3)), fps: 8.0 };
    let bad_fps = Video { frames: Array4::zeros((1, 4, 4, 3)), fps: -1.0 };
    for video in [bad, no_frames, bad_fps] {
        for name in ["clip.mp4", "clip.gif", "clip.safetensors", "frames"] {
            let path = dir.path().join(name);
            let err = write_video(&path, &video, &Metadata::default()).unwrap_err();
            assert!(matches!(err, Error::InvalidVideo { .. }), "{err:?}");
            names(&err, &path);
            assert!(!path.exists());
        }
    }
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn unsupported_size_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.mp4");
    let video = clip(1, 2, 4000, 1.0);
    let err = write_video(&path, &video, &Metadata::default()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedSize { .. }), "{err:?}");
    names(&err, &path);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn refuses_to_overwrite_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("photos");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("holiday.jpg"), b"precious").unwrap();
    let err = write_video(&target, &clip(1, 4, 4, 1.0), &Metadata::default()).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err:?}");
    names(&err, &target);
    assert_eq!(entries(&target), ["holiday.jpg"]);
    assert_eq!(entries(dir.path()), ["photos"]);

    // Frames without the Tenku metadata.json are not ours either.
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    std::fs::write(frames.join("frame_00000.png"), b"x").unwrap();
    let err = write_video(&frames, &clip(1, 4, 4, 1.0), &Metadata::default()).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err:?}");

    // An existing *file* without extension is not replaced by a directory.
    let file = dir.path().join("README");
    std::fs::write(&file, b"keep me").unwrap();
    let err = write_video(&file, &clip(1, 4, 4, 1.0), &Metadata::default()).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn error_messages_are_lowercase() {
    let err = Video::new(Array4::zeros((1, 2, 2, 4)), 1.0).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("invalid video: frames have shape [1, 2, 2, 4]"), "{msg}");
}
