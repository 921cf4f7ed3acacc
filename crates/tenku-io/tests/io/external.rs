//! Interoperability with FFmpeg (skipped when `ffprobe`/`ffmpeg` are not installed): our MP4s
//! are standard H.264 files, and files made by FFmpeg read back correctly.

use std::path::Path;
use std::process::Command;

use tenku_io::write_video;

use crate::common::{clip, metadata};

/// Runs ffprobe with `args` on `path`; `None` if ffprobe is not installed.
fn ffprobe(args: &[&str], path: &Path) -> Option<(serde_json::Value, String)> {
    let out = match Command::new("ffprobe").args(args).arg(path).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running ffprobe: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    Some((serde_json::from_slice(&out.stdout).unwrap(), stderr))
}

#[test]
fn ffprobe_accepts_mp4() {
    let dir = tempfile::tempdir().unwrap();
    for (frames, h, w, fps) in [(5, 32, 48, 16.0), (7, 33, 47, 24.0)] {
        let path = dir.path().join(format!("clip_{w}x{h}.mp4"));
        write_video(&path, &clip(frames, h, w, fps), &metadata()).unwrap();
        let args = ["-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json"];
        let Some((json, stderr)) = ffprobe(&args, &path) else {
            eprintln!("skipping: ffprobe not found (apt-get install ffmpeg)");
            return;
        };
        assert!(stderr.trim().is_empty(), "ffprobe reported: {stderr}");
        let stream = &json["streams"][0];
        assert_eq!(stream["codec_type"], "video");
        assert_eq!(stream["codec_name"], "h264");
        assert_eq!(stream["pix_fmt"], "yuv420p");
        // Odd sizes are padded by one pixel.
        assert_eq!(stream["width"], w + w % 2);
        assert_eq!(stream["height"], h + h % 2);
        assert_eq!(stream["nb_frames"], frames.to_string());
        assert_eq!(stream["nb_read_frames"], frames.to_string());
        assert_eq!(stream["r_frame_rate"], format!("{fps}/1"));
        assert_eq!(stream["color_space"], "bt709");
        assert_eq!(stream["color_range"], "tv");
        let tags = &json["format"]["tags"];
        assert_eq!(tags["title"], "a fox in snow, 雪の狐");
        let desc: serde_json::Value = serde_json::from_str(tags["description"].as_str().unwrap()).unwrap();
        assert_eq!(desc["tenku:seed"], "1234567890123");
        assert_eq!(desc["fps"], fps.to_string());
    }
}

#[test]
fn ffmpeg_decodes_the_same_colours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let video = clip(5, 32, 48, 16.0);
    write_video(&path, &video, &metadata()).unwrap();
    let out = match Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping: ffmpeg not found (apt-get install ffmpeg)");
            return;
        }
        Err(e) => panic!("running ffmpeg: {e}"),
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let original: Vec<u8> = (0..5).flat_map(|i| video.frame_rgb8(i)).collect();
    assert_eq!(out.stdout.len(), original.len());
    let mean = out.stdout.iter().zip(&original).map(|(&a, &b)| f64::from(a.abs_diff(b))).sum::<f64>()
        / original.len() as f64
        / 255.0;
    eprintln!("ffmpeg decode: mean abs error {mean:.5}");
    assert!(mean < 0.02, "ffmpeg decodes different colours: mean error {mean}");
}

/// Runs ffmpeg with `args`; `None` if ffmpeg is not installed. Returns stdout.
fn ffmpeg(args: &[&str]) -> Option<Vec<u8>> {
    let out = match Command::new("ffmpeg").args(["-v", "error"]).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running ffmpeg: {e}"),
    };
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(out.stdout)
}

/// Mean absolute difference between our decode and FFmpeg's `rgb24` decode of `path`.
fn compare_with_ffmpeg(path: &Path, video: &tenku_io::Video) -> Option<f64> {
    let path = path.to_str().unwrap();
    let theirs = ffmpeg(&["-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])?;
    let ours: Vec<u8> = (0..video.num_frames()).flat_map(|i| video.frame_rgb8(i)).collect();
    assert_eq!(theirs.len(), ours.len(), "frame count or size differs from ffmpeg's");
    let sum: f64 = theirs.iter().zip(&ours).map(|(&a, &b)| f64::from(a.abs_diff(b))).sum();
    Some(sum / ours.len() as f64 / 255.0)
}

#[test]
fn reads_ffmpeg_x264_with_b_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x264.mp4");
    let Some(_) = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=12",
        "-frames:v",
        "20",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-bf",
        "2",
        "-pix_fmt",
        "yuv420p",
        path.to_str().unwrap(),
    ]) else {
        eprintln!("skipping: ffmpeg not found (apt-get install ffmpeg)");
        return;
    };
    let video = tenku_io::read_video(&path).unwrap();
    assert_eq!(video.frames.shape(), [20, 64, 96, 3]);
    assert_eq!(video.fps, 12.0);
    let mean = compare_with_ffmpeg(&path, &video).unwrap();
    eprintln!("x264 file: mean abs difference from ffmpeg's decode {mean:.5}");
    assert!(mean < 0.01, "mean difference {mean}");
}

#[test]
fn reads_ffmpeg_gif() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ffmpeg.gif");
    // FFmpeg's GIF muxer crops unchanged regions and uses transparency between frames.
    let Some(_) = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10",
        "-frames:v",
        "8",
        path.to_str().unwrap(),
    ]) else {
        eprintln!("skipping: ffmpeg not found (apt-get install ffmpeg)");
        return;
    };
    let video = tenku_io::read_video(&path).unwrap();
    assert_eq!(video.frames.shape(), [8, 48, 64, 3]);
    assert_eq!(video.fps, 10.0);
    let mean = compare_with_ffmpeg(&path, &video).unwrap();
    eprintln!("ffmpeg gif: mean abs difference from ffmpeg's decode {mean:.5}");
    assert!(mean < 0.002, "mean difference {mean}");
}
