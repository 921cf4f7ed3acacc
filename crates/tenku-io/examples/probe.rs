//! temp
fn main() {
    for p in std::env::args().skip(1) {
        match tenku_io::read_video(std::path::Path::new(&p)) {
            Ok(v) => println!("{p}: ok {:?} fps {}", v.frames.shape(), v.fps),
            Err(e) => println!("{p}: {e} / {:?}", std::error::Error::source(&e).map(|s| s.to_string())),
        }
    }
}
