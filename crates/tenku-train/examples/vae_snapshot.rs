use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let run = std::path::Path::new(&args[1]);
    let recipe = tenku_train::Recipe::from_file(&run.join("recipe.json")).unwrap();
    let ckpt = tenku_train::load_latest(&run.join("checkpoints")).unwrap().unwrap();
    println!("step {}", ckpt.state.step);
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(ckpt.files["model.bpk"].clone())).unwrap();
    let vae = recipe.vae.init(&Device::flex()).load_record(record);
    vae.save(std::path::Path::new(&args[2])).unwrap();
}
