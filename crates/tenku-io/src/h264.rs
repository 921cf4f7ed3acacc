//! The colour description of an H.264 stream, read from its sequence parameter set (SPS), so
//! that MP4s from other encoders are converted to RGB with the matrix and range they declare.

/// How YUV samples map to RGB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct YuvMatrix {
    /// Red luma coefficient.
    pub kr: f32,
    /// Blue luma coefficient.
    pub kb: f32,
    /// Full (0–255) rather than limited (16–235 / 16–240) range.
    pub full_range: bool,
}

impl YuvMatrix {
    /// BT.709, limited range: what this crate writes.
    pub const BT709: YuvMatrix = YuvMatrix { kr: 0.2126, kb: 0.0722, full_range: false };
    /// BT.601, limited range.
    pub const BT601: YuvMatrix = YuvMatrix { kr: 0.299, kb: 0.114, full_range: false };
    const BT2020: YuvMatrix = YuvMatrix { kr: 0.2627, kb: 0.0593, full_range: false };

    /// The matrix declared by `sps` (a NAL unit without start code). When the stream does not
    /// say (or the SPS cannot be parsed), the usual player convention applies: BT.601 below 720
    /// lines, BT.709 from 720 lines up.
    pub fn from_sps(sps: &[u8], height: usize) -> YuvMatrix {
        let guess = if height < 720 { YuvMatrix::BT601 } else { YuvMatrix::BT709 };
        let Some(signal) = parse_signal_type(sps) else {
            return guess;
        };
        let base = match signal.matrix {
            Some(1) => YuvMatrix::BT709,
            Some(5 | 6) => YuvMatrix::BT601,
            Some(9 | 10) => YuvMatrix::BT2020,
            _ => guess,
        };
        YuvMatrix { full_range: signal.full_range, ..base }
    }
}

/// The `video_signal_type` fields of the SPS VUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct SignalType {
    full_range: bool,
    matrix: Option<u8>,
}

/// Reads bits from an RBSP (emulation-prevention bytes already removed).
struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    fn flag(&mut self) -> Option<bool> {
        self.bit().map(|b| b == 1)
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u64 << zeros) as u32 - 1 + self.bits(zeros)?)
    }

    /// Signed Exp-Golomb.
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// Walks the SPS (ITU-T H.264 §7.3.2.1.1 and Annex E.1.1) up to `video_signal_type`.
fn parse_signal_type(nal: &[u8]) -> Option<SignalType> {
    // Drop the NAL header and emulation-prevention bytes (00 00 03 → 00 00).
    let mut data = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal.get(1..)? {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        data.push(b);
    }
    let mut r = Bits { data, pos: 0 };

    let profile_idc = r.bits(8)?;
    r.bits(16)?; // constraint flags, level_idc
    r.ue()?; // seq_parameter_set_id
    if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        let chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.flag()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.flag()?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.flag()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    r.ue()?; // pic_width_in_mbs_minus1
    r.ue()?; // pic_height_in_map_units_minus1
    if !r.flag()? {
        r.flag()?; // mb_adaptive_frame_field_flag
    }
    r.flag()?; // direct_8x8_inference_flag
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // frame_crop_{left,right,top,bottom}_offset
        }
    }
    if !r.flag()? {
        return Some(SignalType::default()); // no VUI
    }
    if r.flag()? {
        // aspect_ratio_info_present_flag
        if r.bits(8)? == 255 {
            r.bits(32)?; // sar_width, sar_height
        }
    }
    if r.flag()? {
        r.flag()?; // overscan_appropriate_flag
    }
    if !r.flag()? {
        return Some(SignalType::default()); // no video_signal_type
    }
    r.bits(3)?; // video_format
    let full_range = r.flag()?;
    let matrix = if r.flag()? {
        r.bits(16)?; // colour_primaries, transfer_characteristics
        Some(r.bits(8)? as u8)
    } else {
        None
    };
    Some(SignalType { full_range, matrix })
}

fn skip_scaling_list(r: &mut Bits, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 → ue 0, 1, 2, 3
        let mut r = Bits { data: vec![0b1010_0110, 0b0100_0000], pos: 0 };
        assert_eq!((r.ue(), r.ue(), r.ue(), r.ue()), (Some(0), Some(1), Some(2), Some(3)));
        let mut r = Bits { data: vec![0b0100_1100], pos: 0 };
        assert_eq!((r.se(), r.se()), (Some(1), Some(-1)));
    }

    #[test]
    fn garbage_falls_back_to_the_guess() {
        assert_eq!(YuvMatrix::from_sps(&[], 480), YuvMatrix::BT601);
        assert_eq!(YuvMatrix::from_sps(&[0x67, 0xff], 1080), YuvMatrix::BT709);
    }
}
