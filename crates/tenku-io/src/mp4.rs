//! H.264 in MP4: encoding with OpenH264 (built from source by the `openh264` crate), muxing and
//! demuxing with the `mp4` crate.
//!
//! - Colour: RGB is converted to 8-bit YUV 4:2:0 with BT.709 coefficients in limited ("TV")
//!   range, chroma averaged over 2×2 blocks, and the SPS says so (VUI: BT.709 primaries,
//!   transfer and matrix, limited range). The reader uses whatever matrix and range a stream
//!   declares in its SPS (see `h264.rs`).
//! - Size: 4:2:0 needs an even width and height, and OpenH264 needs at least 16×16. A frame
//!   that is odd-sized or smaller is padded on the right/bottom by replicating its edge pixels;
//!   the original size is recorded in the metadata and the reader crops back to it (other
//!   players show the padded frame). OpenH264 limits frames to 3840×2160 (or 2160×3840).
//! - Quality: buffer-based rate control with the quantizer held in 16..=20 (visually
//!   near-transparent; starts at 20 and settles at 16 within a few frames), no frame
//!   skipping, an IDR frame every ~2 s. On smooth content the mean absolute error after a
//!   round trip is about 0.007–0.012, dominated by 4:2:0 chroma subsampling at sharp colour
//!   edges.
//! - Timing: the track timescale is `round(fps * 1000)` with each sample lasting 1000 ticks, so
//!   fractional rates such as 23.976 are exact to 1/1000 fps.
//! - Metadata: a `moov/udta/meta/ilst` box with `©nam` (title) = the prompt and `desc`
//!   (description) = a JSON object of the [`Metadata::to_pairs`] entries plus `fps`, `width`,
//!   `height` (the unpadded size). `ffprobe` shows them as the `title` and `description` tags.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use bytes::Bytes;
use mp4::Metadata as _;
use mp4::{AvcConfig, MediaConfig, Mp4Config, Mp4Reader, Mp4Sample, Mp4Writer, TrackConfig, TrackType};
use ndarray::{Array4, ArrayView3};
use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, VuiConfig,
};
use openh264::formats::{YUVBuffer, YUVSource};

use crate::atomic;
use crate::error::Error;
use crate::h264::YuvMatrix;
use crate::metadata::{Metadata, parse_fps};
use crate::video::{DEFAULT_FPS, Video};

/// Quantizer range (lower is better quality; H.264 allows 0..=51, OpenH264 raises the minimum to
/// at least 12). Buffer-based rate control starts at the maximum and steps down to the minimum
/// over the first frames.
const MIN_QP: u8 = 16;
const MAX_QP: u8 = 20;
/// OpenH264 rejects frames smaller than this in either dimension.
const MIN_SIDE: usize = 16;
/// Ticks per sample in the track timescale (see the module docs).
const SAMPLE_TICKS: u32 = 1000;
const MOVIE_TIMESCALE: u32 = 1000;
/// OpenH264's frame size limit.
const MAX_LONG_SIDE: usize = 3840;
const MAX_SHORT_SIDE: usize = 2160;

// BT.709 luma coefficients, used for writing.
const KR: f32 = YuvMatrix::BT709.kr;
const KB: f32 = YuvMatrix::BT709.kb;
const KG: f32 = 1.0 - KR - KB;

/// One encoded access unit: length-prefixed NAL units and whether it is an IDR frame.
struct Sample {
    data: Vec<u8>,
    is_sync: bool,
}

pub(crate) fn write(path: &Path, video: &Video, meta: &Metadata) -> Result<(), Error> {
    let (w, h) = (video.width(), video.height());
    let (ew, eh) = (encoded_side(w), encoded_side(h));
    if ew.max(eh) > MAX_LONG_SIDE || ew.min(eh) > MAX_SHORT_SIDE {
        return Err(Error::UnsupportedSize {
            path: path.to_path_buf(),
            width: w,
            height: h,
            reason: "openh264 encodes at most 3840x2160 (or 2160x3840)".to_owned(),
        });
    }
    let timescale = (f64::from(video.fps) * f64::from(SAMPLE_TICKS)).round();
    if !(1.0..=f64::from(u32::MAX)).contains(&timescale) {
        return Err(Error::InvalidVideo {
            path: Some(path.to_path_buf()),
            reason: format!("fps {} cannot be stored in mp4, expected 0.001 to 4000000", video.fps),
        });
    }
    let timescale = timescale as u32;

    let (sps, pps, samples) = encode(path, video, ew, eh).map_err(|source| Error::H264 {
        path: path.to_path_buf(),
        action: "encoding",
        source: Box::new(source),
    })?;
    let (Some(sps), Some(pps)) = (sps, pps) else {
        return Err(Error::malformed(path, "h.264 stream", "the encoder produced no sps/pps"));
    };

    let mut bytes = mux(video, ew, eh, timescale, sps, pps, samples)
        .map_err(|source| Error::Mp4 { path: path.to_path_buf(), source })?;
    let udta = udta_box(video, meta);
    append_to_moov(&mut bytes, &udta).map_err(|reason| Error::malformed(path, "mp4", reason))?;
    atomic::write_bytes(path, &bytes)
}

/// The encoded size of a side: even, and at least [`MIN_SIDE`].
fn encoded_side(n: usize) -> usize {
    (n + n % 2).max(MIN_SIDE)
}

type Encoded = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<Sample>);

fn encode(path: &Path, video: &Video, ew: usize, eh: usize) -> Result<Encoded, openh264::Error> {
    // Buffer-based rate control ignores the target bitrate, but OpenH264 still validates it
    // (and may pick the level from it): give a plausible value for the quantizer range.
    let pixels_per_sec = ew as f64 * eh as f64 * f64::from(video.fps);
    let bitrate = (pixels_per_sec * 0.5).clamp(500_000.0, 50_000_000.0) as u32;
    let gop = (video.fps * 2.0).round().clamp(1.0, 600.0) as u32;
    let config = EncoderConfig::new()
        .rate_control_mode(RateControlMode::Bufferbased)
        .bitrate(BitRate::from_bps(bitrate))
        .max_frame_rate(FrameRate::from_hz(video.fps))
        .skip_frames(false)
        .qp(QpRange::new(MIN_QP, MAX_QP))
        .complexity(Complexity::High)
        .intra_frame_period(IntraFramePeriod::from_num_frames(gop))
        .num_threads(1)
        .vui(VuiConfig::bt709());
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)?;

    let (mut sps, mut pps) = (None, None);
    let mut samples = Vec::with_capacity(video.num_frames());
    for i in 0..video.num_frames() {
        let yuv = YUVBuffer::from_vec(rgb_to_yuv420(video.frame(i), ew, eh), ew, eh);
        let millis = (i as f64 * 1000.0 / f64::from(video.fps)) as u64;
        let stream = encoder.encode_at(&yuv, openh264::Timestamp::from_millis(millis))?;
        let frame_type = stream.frame_type();
        let mut data = Vec::new();
        let mut is_idr = frame_type == FrameType::IDR;
        for l in 0..stream.num_layers() {
            let Some(layer) = stream.layer(l) else { continue };
            for n in 0..layer.nal_count() {
                let Some(nal) = layer.nal_unit(n).map(strip_start_code) else { continue };
                let Some(&header) = nal.first() else { continue };
                match header & 0x1F {
                    7 => {
                        sps.get_or_insert_with(|| nal.to_vec());
                    }
                    8 => {
                        pps.get_or_insert_with(|| nal.to_vec());
                    }
                    9 => {} // access unit delimiter: not used in MP4 samples
                    t => {
                        is_idr |= t == 5;
                        data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                        data.extend_from_slice(nal);
                    }
                }
            }
        }
        if data.is_empty() {
            return Err(openh264::Error::msg_string(format!(
                "encoder produced no picture for frame {i} of {} (frame type {frame_type:?})",
                path.display()
            )));
        }
        samples.push(Sample { data, is_sync: is_idr });
    }
    Ok((sps, pps, samples))
}

/// Removes a leading Annex-B start code (`00 00 01` or `00 00 00 01`).
fn strip_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&b| b == 0).count();
    if zeros >= 2 && nal.get(zeros) == Some(&1) { &nal[zeros + 1..] } else { nal }
}

fn mux(
    video: &Video,
    ew: usize,
    eh: usize,
    timescale: u32,
    sps: Vec<u8>,
    pps: Vec<u8>,
    samples: Vec<Sample>,
) -> Result<Vec<u8>, mp4::Error> {
    let config = Mp4Config {
        major_brand: (*b"isom").into(),
        minor_version: 512,
        compatible_brands: vec![(*b"isom").into(), (*b"iso2").into(), (*b"avc1").into(), (*b"mp41").into()],
        timescale: MOVIE_TIMESCALE,
    };
    let mut writer = Mp4Writer::write_start(Cursor::new(Vec::new()), &config)?;
    writer.add_track(&TrackConfig {
        track_type: TrackType::Video,
        timescale,
        language: "und".to_owned(),
        media_conf: MediaConfig::AvcConfig(AvcConfig {
            // Checked against the 3840 limit above.
            width: ew as u16,
            height: eh as u16,
            seq_param_set: sps,
            pic_param_set: pps,
        }),
    })?;
    debug_assert_eq!(samples.len(), video.num_frames());
    for (i, sample) in samples.into_iter().enumerate() {
        writer.write_sample(
            1,
            &Mp4Sample {
                start_time: i as u64 * u64::from(SAMPLE_TICKS),
                duration: SAMPLE_TICKS,
                rendering_offset: 0,
                is_sync: sample.is_sync,
                bytes: Bytes::from(sample.data),
            },
        )?;
    }
    writer.write_end()?;
    Ok(writer.into_writer().into_inner())
}

/// The `udta` box carrying the metadata (see the module docs), built by hand: the `mp4` crate
/// reads these boxes but does not export the types needed to write them.
fn udta_box(video: &Video, meta: &Metadata) -> Vec<u8> {
    let mut pairs = meta.to_pairs();
    pairs.insert("fps".to_owned(), video.fps.to_string());
    pairs.insert("width".to_owned(), video.width().to_string());
    pairs.insert("height".to_owned(), video.height().to_string());
    // An ilst item: the item box holding one `data` box of type 1 (UTF-8 text), locale 0.
    let item = |kind: &[u8; 4], text: &str| {
        let mut data = Vec::with_capacity(8 + text.len());
        data.extend_from_slice(&1u32.to_be_bytes());
        data.extend_from_slice(&0u32.to_be_bytes());
        data.extend_from_slice(text.as_bytes());
        mp4_box(kind, &mp4_box(b"data", &data))
    };
    let mut ilst = Vec::new();
    if let Some(prompt) = &meta.prompt {
        ilst.extend(item(b"\xa9nam", prompt));
    }
    ilst.extend(item(b"desc", &serde_json::json!(pairs).to_string()));

    // hdlr: version/flags, pre_defined, handler type `mdir`, reserved ("appl", 0, 0), empty name.
    let mut hdlr = vec![0u8; 8];
    hdlr.extend_from_slice(b"mdirappl");
    hdlr.extend_from_slice(&[0u8; 9]);
    let mut meta_box = vec![0u8; 4]; // version/flags
    meta_box.extend(mp4_box(b"hdlr", &hdlr));
    meta_box.extend(mp4_box(b"ilst", &ilst));
    mp4_box(b"udta", &mp4_box(b"meta", &meta_box))
}

/// A box: 32-bit big-endian size, type, payload.
fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(8 + payload.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// Appends `udta` as the last child of the top-level `moov` box, which the `mp4` writer puts at
/// the end of the file (so no chunk offsets move), and fixes up `moov`'s size.
fn append_to_moov(file: &mut Vec<u8>, udta: &[u8]) -> Result<(), String> {
    let mut pos = 0usize;
    let (moov_start, header_len) = loop {
        let header = file.get(pos..pos + 8).ok_or("no moov box in the muxed file")?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let (size, header_len) = match size32 {
            1 => {
                let large = file.get(pos + 8..pos + 16).ok_or("truncated box header")?;
                (u64::from_be_bytes(large.try_into().map_err(|_| "bad header")?), 16)
            }
            0 => ((file.len() - pos) as u64, 8),
            s => (s, 8),
        };
        if &header[4..8] == b"moov" {
            if pos as u64 + size != file.len() as u64 {
                return Err("moov is not the last box".to_owned());
            }
            break (pos, header_len);
        }
        pos = usize::try_from(size)
            .ok()
            .and_then(|s| pos.checked_add(s))
            .filter(|_| size >= 8)
            .ok_or("bad box size")?;
    };
    file.extend_from_slice(udta);
    let new_size = (file.len() - moov_start) as u64;
    if header_len == 16 {
        file[moov_start + 8..moov_start + 16].copy_from_slice(&new_size.to_be_bytes());
    } else {
        let size = u32::try_from(new_size).map_err(|_| "moov box larger than 4 GiB")?;
        file[moov_start..moov_start + 4].copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

/// Converts one `[h, w, 3]` frame to I420 at `ew × eh` (padding by edge replication).
fn rgb_to_yuv420(frame: ArrayView3<'_, f32>, ew: usize, eh: usize) -> Vec<u8> {
    let (h, w, _) = frame.dim();
    let px = |x: usize, y: usize| -> [f32; 3] {
        let (x, y) = (x.min(w - 1), y.min(h - 1));
        [0, 1, 2].map(|c| {
            let v = frame[[y, x, c]];
            if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) }
        })
    };
    let luma = |[r, g, b]: [f32; 3]| KR * r + KG * g + KB * b;
    let byte = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    let (cw, ch) = (ew / 2, eh / 2);
    let mut out = vec![0u8; ew * eh + 2 * cw * ch];
    let (y_plane, uv) = out.split_at_mut(ew * eh);
    let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
    for y in 0..eh {
        for x in 0..ew {
            y_plane[y * ew + x] = byte(16.0 + 219.0 * luma(px(x, y)));
        }
    }
    for cy in 0..ch {
        for cx in 0..cw {
            let mut sum = [0.0f32; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(2 * cx + dx, 2 * cy + dy);
                for c in 0..3 {
                    sum[c] += p[c] / 4.0;
                }
            }
            let l = luma(sum);
            u_plane[cy * cw + cx] = byte(128.0 + 224.0 * (sum[2] - l) / (2.0 * (1.0 - KB)));
            v_plane[cy * cw + cx] = byte(128.0 + 224.0 * (sum[0] - l) / (2.0 * (1.0 - KR)));
        }
    }
    out
}

/// Converts a decoded I420 picture to RGB `f32` (`[h, w, 3]` flattened), cropped to `w × h`.
/// Chroma is upsampled by replication (the inverse of the writer's 2×2 averaging).
fn yuv420_to_rgb(yuv: &DecodedYUV<'_>, w: usize, h: usize, m: YuvMatrix, out: &mut Vec<f32>) {
    let (ys, us, vs) = yuv.strides();
    let (y_plane, u_plane, v_plane) = (yuv.y(), yuv.u(), yuv.v());
    let (y_off, y_scale, c_scale) = if m.full_range { (0.0, 255.0, 255.0) } else { (16.0, 219.0, 224.0) };
    let kg = 1.0 - m.kr - m.kb;
    for y in 0..h {
        for x in 0..w {
            let luma = f32::from(*y_plane.get(y * ys + x).unwrap_or(&16));
            let cb = f32::from(*u_plane.get(y / 2 * us + x / 2).unwrap_or(&128));
            let cr = f32::from(*v_plane.get(y / 2 * vs + x / 2).unwrap_or(&128));
            let l = (luma - y_off) / y_scale;
            let pb = (cb - 128.0) / c_scale;
            let pr = (cr - 128.0) / c_scale;
            let r = l + 2.0 * (1.0 - m.kr) * pr;
            let b = l + 2.0 * (1.0 - m.kb) * pb;
            let g = (l - m.kr * r - m.kb * b) / kg;
            out.extend([r, g, b].map(|v| v.clamp(0.0, 1.0)));
        }
    }
}

/// What the demuxer extracts from the file.
struct Demuxed {
    /// The first SPS NAL unit (for the colour description).
    sps: Vec<u8>,
    /// SPS and PPS NAL units in Annex-B form.
    parameter_sets: Vec<u8>,
    /// Each sample converted to Annex-B.
    samples: Vec<Vec<u8>>,
    /// Frames per second from the track timing.
    fps: Option<f32>,
    /// The `desc` metadata entry.
    summary: Option<String>,
}

pub(crate) fn read(path: &Path) -> Result<(Video, Metadata), Error> {
    let demuxed = demux_file(path, true)?;
    let (fps, meta, size) = parse_summary(demuxed.summary.as_deref()).map_err(|e| e.at(path))?;
    let h264_err =
        |source| Error::H264 { path: path.to_path_buf(), action: "decoding", source: Box::new(source) };
    // Frames come out when the decoder has them (B-frame streams are reordered); the rest are
    // flushed at the end. Flushing after every packet breaks streams with B-frames.
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config).map_err(h264_err)?;
    let mut rgb = Vec::new();
    let mut dims: Option<(usize, usize)> = None;
    let mut count = 0usize;
    let mut take = |yuv: &DecodedYUV<'_>, rgb: &mut Vec<f32>| -> Result<(), Error> {
        let (dw, dh) = yuv.dimensions();
        // Crop the padding added for odd sizes, if the file records the original size.
        let (w, h) = match size {
            Some((w, h)) if w <= dw && h <= dh => (w, h),
            _ => (dw, dh),
        };
        if *dims.get_or_insert((w, h)) != (w, h) {
            return Err(Error::malformed(
                path,
                "mp4",
                format!("frame {count} is {w}x{h}, expected a constant frame size"),
            ));
        }
        yuv420_to_rgb(yuv, w, h, YuvMatrix::from_sps(&demuxed.sps, dh), rgb);
        count += 1;
        Ok(())
    };
    decoder.decode(&demuxed.parameter_sets).map_err(h264_err)?.map(|yuv| take(&yuv, &mut rgb)).transpose()?;
    for sample in &demuxed.samples {
        if let Some(yuv) = decoder.decode(sample).map_err(h264_err)? {
            take(&yuv, &mut rgb)?;
        }
    }
    for yuv in decoder.flush_remaining().map_err(h264_err)? {
        take(&yuv, &mut rgb)?;
    }
    let Some((w, h)) = dims else {
        return Err(Error::malformed(path, "mp4", "no frames could be decoded"));
    };
    let frames = Array4::from_shape_vec((count, h, w, 3), rgb)
        .map_err(|e| Error::malformed(path, "mp4", e.to_string()))?;
    let fps = fps.or(demuxed.fps).unwrap_or(DEFAULT_FPS);
    let video = Video::new(frames, fps).map_err(|e| e.at(path))?;
    Ok((video, meta))
}

pub(crate) fn read_metadata(path: &Path) -> Result<(Option<f32>, Metadata), Error> {
    let demuxed = demux_file(path, false)?;
    let (fps, meta, _) = parse_summary(demuxed.summary.as_deref()).map_err(|e| e.at(path))?;
    Ok((fps.or(demuxed.fps), meta))
}

/// Parses the JSON `desc` entry: `(fps, metadata, original size)`. Anything that is not a
/// Tenku JSON object is ignored.
type Summary = (Option<f32>, Metadata, Option<(usize, usize)>);

fn parse_summary(summary: Option<&str>) -> Result<Summary, Error> {
    let Some(pairs) = summary.and_then(|s| serde_json::from_str::<BTreeMap<String, String>>(s).ok()) else {
        return Ok((None, Metadata::default(), None));
    };
    let fps = pairs.get("fps").map(|v| parse_fps(v)).transpose()?;
    let dim = |k: &str| pairs.get(k).and_then(|v| v.parse::<usize>().ok());
    let size = dim("width").zip(dim("height"));
    Ok((fps, Metadata::from_pairs(&pairs)?, size))
}

/// Demuxes `path`; sample data is read only if `samples` is set.
fn demux_file(path: &Path, samples: bool) -> Result<Demuxed, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // The mp4 crate can panic on some malformed inputs; a bad file must not take the caller down.
    match catch_unwind(AssertUnwindSafe(|| demux(&bytes, samples))) {
        Ok(Ok(Ok(d))) => Ok(d),
        Ok(Ok(Err(reason))) => Err(Error::malformed(path, "mp4", reason)),
        Ok(Err(source)) => Err(Error::Mp4 { path: path.to_path_buf(), source }),
        Err(_) => Err(Error::malformed(path, "mp4", "the mp4 parser rejected the file (internal panic)")),
    }
}

/// Demuxes the first H.264 (`avc1`) track. The outer error is the mp4 crate's, the inner one
/// a description of content this crate cannot use.
fn demux(bytes: &[u8], with_samples: bool) -> Result<Result<Demuxed, String>, mp4::Error> {
    let size = bytes.len() as u64;
    let mut reader = Mp4Reader::read_header(Cursor::new(bytes), size)?;
    let summary = reader.metadata().summary().map(|s| s.into_owned());
    let mut ids: Vec<u32> = reader.tracks().keys().copied().collect();
    ids.sort_unstable();
    let Some((track_id, avcc, fps, sample_count)) = ids.into_iter().find_map(|id| {
        let track = &reader.tracks()[&id];
        let stbl = &track.trak.mdia.minf.stbl;
        let avc1 = stbl.stsd.avc1.as_ref()?;
        let delta = stbl.stts.entries.first().map_or(0, |e| e.sample_delta);
        let fps = (delta > 0 && track.timescale() > 0)
            .then(|| (f64::from(track.timescale()) / f64::from(delta)) as f32);
        Some((id, avc1.avcc.clone(), fps, track.sample_count()))
    }) else {
        return Ok(Err("it has no h.264 (avc1) video track".to_owned()));
    };
    let stsz = &reader.tracks()[&track_id].trak.mdia.minf.stbl.stsz;
    if let Some(oversized) =
        std::iter::once(&stsz.sample_size).chain(&stsz.sample_sizes).find(|&&s| u64::from(s) > size)
    {
        return Ok(Err(format!("a sample claims {oversized} bytes, more than the whole file")));
    }
    let length_size = usize::from(avcc.length_size_minus_one & 3) + 1;
    let mut parameter_sets = Vec::new();
    for nal in avcc.sequence_parameter_sets.iter().chain(&avcc.picture_parameter_sets) {
        parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
        parameter_sets.extend_from_slice(&nal.bytes);
    }
    if u64::from(sample_count) > size {
        return Ok(Err(format!("the track claims {sample_count} samples, more than the file has bytes")));
    }
    let sample_count = if with_samples { sample_count } else { 0 };
    let mut samples = Vec::with_capacity(sample_count as usize);
    for id in 1..=sample_count {
        let Some(sample) = reader.read_sample(track_id, id)? else {
            continue;
        };
        match to_annex_b(&sample.bytes, length_size) {
            Some(s) => samples.push(s),
            None => return Ok(Err(format!("sample {id} has a truncated nal unit"))),
        }
    }
    let sps = avcc.sequence_parameter_sets.first().map(|n| n.bytes.clone()).unwrap_or_default();
    Ok(Ok(Demuxed { sps, parameter_sets, samples, fps, summary }))
}

/// Converts length-prefixed NAL units to Annex-B; `None` if a length runs past the end.
fn to_annex_b(mut data: &[u8], length_size: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + 16);
    while !data.is_empty() {
        let len_bytes = data.get(..length_size)?;
        let len = len_bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let nal = data.get(length_size..length_size + len)?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
        data = &data[length_size + len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes() {
        assert_eq!(strip_start_code(&[0, 0, 0, 1, 0x67, 9]), &[0x67, 9]);
        assert_eq!(strip_start_code(&[0, 0, 1, 0x68]), &[0x68]);
        assert_eq!(strip_start_code(&[0x65, 1]), &[0x65, 1]);
    }

    #[test]
    fn written_sps_declares_bt709() {
        let video = Video::new(Array4::from_elem((2, 16, 16, 3), 0.5), 8.0).unwrap();
        let (sps, _, samples) = encode(Path::new("t.mp4"), &video, 16, 16).unwrap();
        assert_eq!(samples.len(), 2);
        assert!(samples[0].is_sync);
        assert_eq!(YuvMatrix::from_sps(&sps.unwrap(), 16), YuvMatrix::BT709);
    }

    #[test]
    fn annex_b() {
        let data = [0, 0, 0, 2, 0x65, 7, 0, 0, 0, 1, 0x41];
        assert_eq!(to_annex_b(&data, 4).unwrap(), vec![0, 0, 0, 1, 0x65, 7, 0, 0, 0, 1, 0x41]);
        assert!(to_annex_b(&[0, 0, 0, 9, 1], 4).is_none());
    }
}
