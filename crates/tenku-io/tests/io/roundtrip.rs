//! Write → read round trips for every format.

use std::collections::HashMap;

use tenku_io::{Metadata, VideoFormat, read_metadata, read_video, read_video_with_metadata, write_video};

use crate::common::{clip, entries, errors, metadata};

/// PNG frames store 8 bits: at most half a step of rounding.
const PNG_MAX_ERR: f32 = 0.5 / 255.0 + 1e-6;
/// GIF: one 256-colour NeuQuant palette for the clip, no dithering. The test clip spans a 3-D
/// colour range (two gradients and a per-frame blue level), so ~0.024 mean / ~0.12 max.
const GIF_MEAN_ERR: f32 = 0.03;
const GIF_MAX_ERR: f32 = 0.16;
/// MP4: lossy H.264 4:2:0 at high quality.
const MP4_MEAN_ERR: f32 = 0.02;

#[test]
fn safetensors_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.safetensors");
    let video = clip(5, 32, 48, 16.0);
    let meta = metadata();
    assert_eq!(write_video(&path, &video, &meta).unwrap(), VideoFormat::Safetensors);
    let (back, back_meta) = read_video_with_metadata(&path).unwrap();
    assert_eq!(back, video);
    assert_eq!(back_meta, meta);
    assert_eq!(read_metadata(&path).unwrap(), meta);
    assert_eq!(entries(dir.path()), ["clip.safetensors"]);

    // The header is what other tools see.
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let info = header.metadata().as_ref().unwrap();
    assert_eq!(info["fps"], "16");
    assert_eq!(info["tenku:prompt"], "a fox in snow, 雪の狐");
    assert_eq!(info["tenku:extra:model"], "wan2.1-1.3b");
}

#[test]
fn safetensors_half_precision_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let video = clip(2, 8, 6, 8.0);
    for (name, dtype) in
        [("f16.safetensors", safetensors::Dtype::F16), ("bf16.safetensors", safetensors::Dtype::BF16)]
    {
        let data: Vec<u8> = video
            .frames
            .iter()
            .flat_map(|&v| match dtype {
                safetensors::Dtype::F16 => half::f16::from_f32(v).to_le_bytes(),
                _ => half::bf16::from_f32(v).to_le_bytes(),
            })
            .collect();
        let view = safetensors::tensor::TensorView::new(dtype, video.frames.shape().to_vec(), &data).unwrap();
        let info = HashMap::from([("fps".to_owned(), "8".to_owned())]);
        let path = dir.path().join(name);
        safetensors::serialize_to_file([("video", view)], Some(info), &path).unwrap();
        let back = read_video(&path).unwrap();
        assert_eq!(back.fps, 8.0);
        let (_, max) = errors(&back, &video);
        assert!(max < 4e-3, "{name}: max error {max}");
    }
}

#[test]
fn png_frames_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames");
    let video = clip(5, 32, 48, 12.5);
    let meta = metadata();
    assert_eq!(write_video(&path, &video, &meta).unwrap(), VideoFormat::PngFrames);
    assert_eq!(
        entries(&path),
        [
            "frame_00000.png",
            "frame_00001.png",
            "frame_00002.png",
            "frame_00003.png",
            "frame_00004.png",
            "metadata.json"
        ]
    );
    let (back, back_meta) = read_video_with_metadata(&path).unwrap();
    assert_eq!(back.fps, 12.5);
    assert_eq!(back_meta, meta);
    assert_eq!(read_metadata(&path).unwrap(), meta);
    let (_, max) = errors(&back, &video);
    assert!(max <= PNG_MAX_ERR, "max error {max}");
    // No temporaries beside the output.
    assert_eq!(entries(dir.path()), ["frames"]);

    // A previous Tenku output is replaced...
    let shorter = clip(2, 32, 48, 8.0);
    write_video(&path, &shorter, &Metadata::default()).unwrap();
    assert_eq!(entries(&path).len(), 3);
    let (back, back_meta) = read_video_with_metadata(&path).unwrap();
    assert_eq!((back.num_frames(), back.fps), (2, 8.0));
    assert!(back_meta.is_empty());
    assert_eq!(entries(dir.path()), ["frames"]);

    // ... and so is an empty directory, even one whose name has an extension.
    let empty = dir.path().join("empty.d");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(write_video(&empty, &shorter, &Metadata::default()).unwrap(), VideoFormat::PngFrames);
    assert_eq!(read_video(&empty).unwrap().num_frames(), 2);
}

#[test]
fn png_directory_from_other_tools() {
    // Any PNGs, sorted by name, no metadata.json: default fps; RGBA/gray converted to RGB.
    let dir = tempfile::tempdir().unwrap();
    let a = image::RgbaImage::from_pixel(6, 4, image::Rgba([255, 0, 0, 10]));
    let b = image::GrayImage::from_pixel(6, 4, image::Luma([128]));
    a.save(dir.path().join("0002.png")).unwrap();
    b.save(dir.path().join("0001.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let video = read_video(dir.path()).unwrap();
    assert_eq!(video.fps, tenku_io::DEFAULT_FPS);
    assert_eq!(video.frames.shape(), [2, 4, 6, 3]);
    assert_eq!(video.frame_rgb8(0)[..3], [128, 128, 128]);
    assert_eq!(video.frame_rgb8(1)[..3], [255, 0, 0]);
}

#[test]
fn gif_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.gif");
    let video = clip(5, 32, 48, 16.0);
    let meta = metadata();
    assert_eq!(write_video(&path, &video, &meta).unwrap(), VideoFormat::Gif);
    let (back, back_meta) = read_video_with_metadata(&path).unwrap();
    // The exact fps comes back from the comment, although the delay is round(100/16) = 6.
    assert_eq!(back.fps, 16.0);
    assert_eq!(back_meta, meta);
    assert_eq!(read_metadata(&path).unwrap(), meta);
    let (mean, max) = errors(&back, &video);
    eprintln!("gif: mean abs error {mean:.5}, max {max:.5}");
    assert!(mean < GIF_MEAN_ERR, "mean error {mean}");
    assert!(max < GIF_MAX_ERR, "max error {max}");
    assert_eq!(entries(dir.path()), ["clip.gif"]);

    // What other decoders see: infinite loop, delay 6/100 s on every frame.
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(std::fs::File::open(&path).unwrap()).unwrap();
    let mut delays = Vec::new();
    while let Some(frame) = dec.read_next_frame().unwrap() {
        delays.push(frame.delay);
    }
    assert_eq!(delays, [6; 5]);
    assert_eq!(dec.repeat(), gif::Repeat::Infinite);
}

#[test]
fn gif_without_comment_uses_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.gif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = gif::Encoder::new(file, 4, 2, &[]).unwrap();
        for shade in [0u8, 200] {
            let mut f = gif::Frame::from_rgb(4, 2, &[shade; 4 * 2 * 3]);
            f.delay = 4;
            enc.write_frame(&f).unwrap();
        }
    }
    let (video, meta) = read_video_with_metadata(&path).unwrap();
    assert_eq!(video.fps, 25.0);
    assert_eq!(video.frames.shape(), [2, 2, 4, 3]);
    assert_eq!(video.frame_rgb8(1)[0], 200);
    assert!(meta.is_empty());
}

#[test]
fn mp4_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let video = clip(5, 32, 48, 16.0);
    let meta = metadata();
    assert_eq!(write_video(&path, &video, &meta).unwrap(), VideoFormat::Mp4);
    let (back, back_meta) = read_video_with_metadata(&path).unwrap();
    assert_eq!(back.frames.shape(), video.frames.shape());
    assert_eq!(back.fps, 16.0);
    assert_eq!(back_meta, meta);
    assert_eq!(read_metadata(&path).unwrap(), meta);
    let (mean, max) = errors(&back, &video);
    eprintln!("mp4: mean abs error {mean:.5}, max {max:.5}");
    assert!(mean < MP4_MEAN_ERR, "mean error {mean}");
    assert_eq!(entries(dir.path()), ["clip.mp4"]);
}

#[test]
fn mp4_odd_size_is_padded_and_cropped_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.mp4");
    let video = clip(3, 33, 47, 23.976);
    write_video(&path, &video, &Metadata::default()).unwrap();
    let back = read_video(&path).unwrap();
    assert_eq!(back.frames.shape(), [3, 33, 47, 3]);
    assert!((back.fps - 23.976).abs() < 1e-3, "fps {}", back.fps);
    let (mean, _) = errors(&back, &video);
    assert!(mean < MP4_MEAN_ERR, "mean error {mean}");
}

#[test]
fn mp4_tiny_frames_are_padded_to_16() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.mp4");
    let video = clip(2, 5, 9, 4.0);
    write_video(&path, &video, &Metadata::default()).unwrap();
    let back = read_video(&path).unwrap();
    assert_eq!(back.frames.shape(), [2, 5, 9, 3]);
    // 9x5 pixels are nearly all colour edges, where 4:2:0 chroma loses the most.
    let (mean, _) = errors(&back, &video);
    assert!(mean < 0.1, "mean error {mean}");
}

#[test]
fn mp4_longer_clip_with_keyframes() {
    // 40 frames at 8 fps: several GOPs (an IDR every 16 frames).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mp4");
    let video = clip(40, 64, 96, 8.0);
    write_video(&path, &video, &Metadata::default()).unwrap();
    let back = read_video(&path).unwrap();
    assert_eq!(back.num_frames(), 40);
    let (mean, _) = errors(&back, &video);
    assert!(mean < MP4_MEAN_ERR, "mean error {mean}");
}

#[test]
fn overwrite_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.safetensors");
    std::fs::write(&path, b"old").unwrap();
    write_video(&path, &clip(1, 4, 4, 1.0), &Metadata::default()).unwrap();
    assert_eq!(read_video(&path).unwrap().num_frames(), 1);
    assert_eq!(entries(dir.path()), ["clip.safetensors"]);
}

#[test]
fn read_image_formats() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("rgba.png");
    let mut img = image::RgbaImage::new(3, 2);
    img.put_pixel(2, 1, image::Rgba([10, 20, 30, 0]));
    img.save(&png).unwrap();
    let a = tenku_io::read_image(&png).unwrap();
    assert_eq!(a.shape(), [2, 3, 3]);
    assert_eq!(a[[1, 2, 2]], 30.0 / 255.0);

    let jpg = dir.path().join("gray.jpg");
    image::GrayImage::from_pixel(8, 8, image::Luma([100])).save(&jpg).unwrap();
    let a = tenku_io::read_image(&jpg).unwrap();
    assert_eq!(a.shape(), [8, 8, 3]);
    assert!((a[[4, 4, 0]] - 100.0 / 255.0).abs() < 3.0 / 255.0);
    assert_eq!(a[[4, 4, 0]], a[[4, 4, 2]]);
}
