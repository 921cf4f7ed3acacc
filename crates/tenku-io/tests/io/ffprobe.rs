//! The MP4 output is a standard H.264 file: checked with `ffprobe` when it is installed.

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
        let args = [
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ];
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
        let desc: serde_json::Value =
            serde_json::from_str(tags["description"].as_str().unwrap()).unwrap();
        assert_eq!(desc["tenku:seed"], "1234567890123");
        assert_eq!(desc["fps"], fps.to_string());
    }
}
