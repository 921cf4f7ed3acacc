use ndarray::Array4;
use std::path::Path;
use tenku_io::*;
fn clip(frames: usize, height: usize, width: usize, fps: f32) -> Video {
    let mut a = Array4::<f32>::zeros((frames, height, width, 3));
    for f in 0..frames {
        let (sx, sy) = (4 + 4 * f, 4 + 2 * f);
        for y in 0..height {
            for x in 0..width {
                let t = f as f32 * 0.1;
                let mut px = [
                    x as f32 / (width - 1) as f32,
                    (y as f32 / (height - 1) as f32 + 0.1*((x as f32 * 0.05 + t).sin())).clamp(0.0,1.0),
                    0.5 + 0.4 * ((x as f32 * 0.11 + y as f32 * 0.07 + t).sin() * (y as f32 * 0.03).cos()),
                ];
                if (sx..sx + 40).contains(&x) && (sy..sy + 40).contains(&y) {
                    px = [1.0, 0.9, 0.1];
                }
                for c in 0..3 { a[[f, y, x, c]] = px[c]; }
            }
        }
    }
    Video::new(a, fps).unwrap()
}
fn main() {
    for (n, h, w) in [(5, 32, 48), (48, 320, 512)] {
        let v = clip(n, h, w, 16.0);
        let p = Path::new("/tmp/scratch.gif");
        let t = std::time::Instant::now();
        write_video(p, &v, &Metadata::default()).unwrap();
        let el = t.elapsed();
        let b = read_video(p).unwrap();
        let mut sum = 0.0f64; let mut worst_frame = 0.0f64;
        for i in 0..n { let d: f64 = v.frame(i).iter().zip(b.frame(i).iter()).map(|(a,b)| (a-b).abs() as f64).sum::<f64>() / (h*w*3) as f64; sum += d; worst_frame = worst_frame.max(d); }
        println!("{w}x{h}x{n}: mean {:.5} worst-frame {:.5} size {} KB, encode {:?}", sum / n as f64, worst_frame, std::fs::metadata(p).unwrap().len()/1024, el);
    }
}
