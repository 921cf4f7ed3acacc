//! The `tenku` binary as a user runs it.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use safetensors::Dtype;
use safetensors::tensor::TensorView;

fn tenku(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenku")).args(args).output().expect("run tenku")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The error output, which must be exactly one line.
fn one_line_error(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim_end().to_owned();
    assert_eq!(err.lines().count(), 1, "expected a one-line error, got:\n{err}");
    err
}

#[test]
fn help_lists_commands_and_every_generate_flag() {
    let out = tenku(&["--help"]);
    assert!(out.status.success());
    for command in ["generate", "info", "samplers"] {
        assert!(stdout(&out).contains(command));
    }
    let out = tenku(&["generate", "--help"]);
    assert!(out.status.success());
    for flag in [
        "--prompt",
        "--negative-prompt",
        "--model",
        "--frames",
        "--height",
        "--width",
        "--steps",
        "--guidance",
        "--guidance-interval",
        "--sampler",
        "--shift",
        "--seed",
        "--noise",
        "--max-sequence-length",
        "--image",
        "--extend",
        "--video",
        "--strength",
        "--device",
        "--output",
        "--quiet",
    ] {
        assert!(stdout(&out).contains(flag), "generate --help lacks {flag}");
    }
}

#[test]
fn samplers_lists_the_catalog() {
    let out = tenku(&["samplers"]);
    assert!(out.status.success());
    for info in tenku::sampler::CATALOG {
        assert!(stdout(&out).contains(info.name), "missing {}", info.name);
    }
}

#[test]
fn invalid_flags_fail_with_one_line_naming_the_flag() {
    let cases: [(&[&str], i32, &str); 10] = [
        (&["generate", "--prompt", "a", "--frames", "80", "-o", "x.mp4"], 1, "nearest valid: 77 or 81"),
        (&["generate", "--prompt", "a", "--height", "100", "-o", "x.mp4"], 1, "--height 100"),
        (&["generate", "--prompt", "a", "--steps", "0", "-o", "x.mp4"], 1, "--steps"),
        (&["generate", "--prompt", "a", "-o", "x.avi"], 1, "`.avi`"),
        (&["generate", "--prompt", "a", "--sampler", "eulr", "-o", "x.mp4"], 2, "unknown sampler `eulr`"),
        (&["generate", "--prompt", "a", "--device", "tpu", "-o", "x.mp4"], 2, "unknown device `tpu`"),
        (&["generate", "--prompt", "a", "--steps", "many", "-o", "x.mp4"], 2, "--steps"),
        (&["generate", "--prompt", "a", "--guidance-interval", "0.3", "-o", "x.mp4"], 2, "LOW,HIGH"),
        (&["generate", "--prompt", "a", "--strength", "0.5", "-o", "x.mp4"], 2, "--video"),
        (
            &["generate", "--prompt", "a", "--guidance-interval", "0.9,0.3", "-o", "x.mp4"],
            1,
            "--guidance-interval 0.9,0.3",
        ),
    ];
    for (args, code, needle) in cases {
        let out = tenku(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = one_line_error(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn generate_uses_the_embedded_model_and_warns_about_unknown_words() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("clip.gif");
    let out = Command::new(env!("CARGO_BIN_EXE_tenku"))
        .args(["generate", "--prompt", "a purple circle moves left", "--steps", "4", "-o"])
        .arg(&output)
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("outside the model's vocabulary: purple"), "{stderr}");
    let video = tenku::io::read_video(&output).unwrap();
    assert_eq!(video.frames.shape(), &[17, 64, 64, 3]);
    assert!((video.fps - 8.0).abs() < 0.5, "fps {}", video.fps);
    assert!(
        dir.path().join("cache/tenku/models").read_dir().unwrap().next().is_some(),
        "unpacked into the cache"
    );
    let metadata = tenku::io::read_metadata(&output).unwrap();
    assert_eq!(metadata.extra["guidance"], "3", "the model's recorded default");
    assert_eq!(metadata.extra["guidance_interval"], "all");

    let unguided = dir.path().join("unguided.gif");
    let out = Command::new(env!("CARGO_BIN_EXE_tenku"))
        .args([
            "--quiet",
            "generate",
            "--prompt",
            "a red circle moves left",
            "--steps",
            "2",
            "--guidance",
            "1",
            "-o",
        ])
        .arg(&unguided)
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata = tenku::io::read_metadata(&unguided).unwrap();
    assert_eq!(metadata.extra["guidance"], "1");
    assert!(!metadata.extra.contains_key("guidance_interval"), "no interval without guidance: {metadata:?}");

    // Video → video takes the clip's size and records the strength; a strength out of range is
    // named, and nothing is written.
    let redrawn = dir.path().join("redrawn.gif");
    let video_to_video = |strength: &str, redrawn: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tenku"))
            .args(["--quiet", "generate", "--prompt", "a red square moves left", "--steps", "4", "--video"])
            .arg(&output)
            .args(["--strength", strength, "-o"])
            .arg(redrawn)
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let out = video_to_video("0.5", &redrawn);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tenku::io::read_video(&redrawn).unwrap().frames.shape(), &[17, 64, 64, 3]);
    assert_eq!(tenku::io::read_metadata(&redrawn).unwrap().extra["strength"], "0.5");
    let refused = dir.path().join("refused.gif");
    let out = video_to_video("0", &refused);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("--strength 0"), "{}", one_line_error(&out));
    assert!(!refused.exists());
}

#[test]
fn reconstruction_with_latent_noise_scores_the_noisy_decode() {
    let cache = tempfile::tempdir().unwrap();
    let eval = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tenku"))
            .args(["eval", "shapes", "--reconstruct", "--prompts", "3", "--json", "-q"])
            .args(extra)
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let clean = eval(&[]);
    assert_eq!(clean, eval(&["--latent-noise", "0"]), "no noise is the plain reconstruction");
    assert_eq!(clean, eval(&["--threads", "1"]), "the report does not depend on the threads");
    assert_ne!(clean, eval(&["--latent-noise", "2"]), "noise on the latents changes the decoded clips");

    let cases: [(&[&str], &str); 2] = [
        (&["eval", "shapes", "--latent-noise", "0.5"], "not provided: --reconstruct"),
        (
            &["eval", "shapes", "--reconstruct", "--latent-noise", "-1"],
            "--latent-noise <LATENT_NOISE>': expected",
        ),
    ];
    for (args, needle) in cases {
        let out = tenku(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = one_line_error(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn denoising_reports_each_noise_level_asked_for() {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenku"))
        .args(["eval", "shapes", "--denoise", "--noise-levels", "0.5,1", "--prompts", "2", "--json", "-q"])
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["clips"], 2);
    assert_eq!(report["task"], "text_to_video");
    let sigmas: Vec<f64> =
        report["levels"].as_array().unwrap().iter().map(|l| l["sigma"].as_f64().unwrap()).collect();
    assert_eq!(sigmas, [0.5, 1.0]);
    for level in report["levels"].as_array().unwrap() {
        assert_eq!(level["decoded"]["clips"], 2, "each level's clean latents are decoded and scored");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_tenku"))
        .args([
            "eval",
            "shapes",
            "--denoise",
            "--no-decode",
            "--noise-levels",
            "0.5",
            "--prompts",
            "1",
            "--json",
            "-q",
        ])
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let latent_only: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let level = &latent_only["levels"][0];
    assert!(level["velocity_mse"].is_f64() && level.get("decoded").is_none(), "{level}");

    let cases: [(&[&str], &str); 4] = [
        (&["eval", "shapes", "--no-decode"], "not provided: --denoise"),
        (&["eval", "shapes", "--denoise", "--reconstruct"], "cannot be used with"),
        (&["eval", "shapes", "--noise-levels", "0.5"], "not provided: --denoise"),
        (&["eval", "shapes", "--denoise", "--noise-levels", "0.5,0"], "expected a noise level"),
    ];
    for (args, needle) in cases {
        let out = tenku(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = one_line_error(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_backend_left_out_of_the_build_names_its_feature() {
    let out = tenku(&["generate", "--prompt", "a", "--device", "cuda", "-o", "x.mp4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("--features cuda"));
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_weights(path: &Path, tensors: &[(&str, Dtype, &[usize])]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, d, s)| vec![0u8; d.bitsize() / 8 * s.iter().product::<usize>()]).collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, dtype, shape), b)| (*name, TensorView::new(*dtype, shape.to_vec(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None::<HashMap<String, String>>, path).unwrap();
}

/// The real Wan2.1-T2V-1.3B-Diffusers layout with its real configs and tiny stand-in weights.
fn wan_dir(root: &Path) {
    write(
        &root.join("model_index.json"),
        r#"{"_class_name": "WanPipeline", "_diffusers_version": "0.33.0.dev0",
            "scheduler": ["diffusers", "UniPCMultistepScheduler"], "text_encoder": ["transformers", "UMT5EncoderModel"],
            "tokenizer": ["transformers", "T5TokenizerFast"], "transformer": ["diffusers", "WanTransformer3DModel"],
            "vae": ["diffusers", "AutoencoderKLWan"]}"#,
    );
    write(
        &root.join("scheduler/scheduler_config.json"),
        r#"{"_class_name": "UniPCMultistepScheduler", "flow_shift": 3.0, "solver_order": 2,
            "use_flow_sigmas": true, "prediction_type": "flow_prediction"}"#,
    );
    write(&root.join("tokenizer/tokenizer_config.json"), "{}");
    write(
        &root.join("text_encoder/config.json"),
        r#"{"d_model": 4096, "num_heads": 64, "vocab_size": 256384}"#,
    );
    write_weights(&root.join("text_encoder/model.safetensors"), &[("shared.weight", Dtype::BF16, &[8, 4])]);
    write(
        &root.join("vae/config.json"),
        r#"{"_class_name": "AutoencoderKLWan", "base_dim": 96, "z_dim": 16}"#,
    );
    write_weights(
        &root.join("vae/diffusion_pytorch_model.safetensors"),
        &[("decoder.conv_in.bias", Dtype::F32, &[384])],
    );
    write(
        &root.join("transformer/config.json"),
        r#"{"_class_name": "WanTransformer3DModel", "num_layers": 30, "num_attention_heads": 12, "attention_head_dim": 128}"#,
    );
    write_weights(
        &root.join("transformer/diffusion_pytorch_model-00001-of-00002.safetensors"),
        &[("a.weight", Dtype::F32, &[1000, 1000])],
    );
    write_weights(
        &root.join("transformer/diffusion_pytorch_model-00002-of-00002.safetensors"),
        &[("b.weight", Dtype::BF16, &[10, 10])],
    );
    write(
        &root.join("transformer/diffusion_pytorch_model.safetensors.index.json"),
        r#"{"metadata": {}, "weight_map": {"a.weight": "diffusion_pytorch_model-00001-of-00002.safetensors",
            "b.weight": "diffusion_pytorch_model-00002-of-00002.safetensors"}}"#,
    );
}

#[test]
fn info_lists_components_configs_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    wan_dir(dir.path());
    let out = tenku(&["info", dir.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "WanPipeline",
        "transformer: WanTransformer3DModel (diffusers)",
        "num_layers=30",
        "1.00M parameters",
        "F32 1.00M",
        "BF16 100",
        "in 2 file(s)",
        "scheduler: UniPCMultistepScheduler",
        "flow_shift=3.0",
        "text_encoder: UMT5EncoderModel (transformers)",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn info_names_a_missing_shard_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    wan_dir(dir.path());
    std::fs::remove_file(dir.path().join("transformer/diffusion_pytorch_model-00002-of-00002.safetensors"))
        .unwrap();
    let out = tenku(&["info", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("diffusion_pytorch_model-00002-of-00002.safetensors"));
    assert!(stdout(&out).contains("vae: AutoencoderKLWan"), "the other components are still listed");
}

#[test]
fn generate_names_what_it_cannot_load() {
    // The real configs with stand-in weights: the tokenizer file is the first thing missing.
    let dir = tempfile::tempdir().unwrap();
    wan_dir(dir.path());
    let out = tenku(&["generate", "--prompt", "a", "--model", dir.path().to_str().unwrap(), "-o", "x.gif"]);
    assert_eq!(out.status.code(), Some(1));
    let err = one_line_error(&out);
    assert!(err.contains("tokenizer.json"), "{err}");
    let out = tenku(&["generate", "--prompt", "a", "--model", "/nonexistent/model", "-o", "x.gif"]);
    assert!(one_line_error(&out).contains("/nonexistent/model"));
    // A pipeline class Tenku does not implement is named with the index file.
    write(&dir.path().join("model_index.json"), r#"{"_class_name": "CogVideoXPipeline"}"#);
    let out = tenku(&["generate", "--prompt", "a", "--model", dir.path().to_str().unwrap(), "-o", "x.gif"]);
    let err = one_line_error(&out);
    assert!(err.contains("CogVideoXPipeline") && err.contains("model_index.json"), "{err}");
}

/// `tenku generate --model DIR --noise FILE --output out.safetensors` gives diffusers' frames.
#[test]
fn generate_reproduces_diffusers_frames_from_the_command_line() {
    for case in tenku_testing::wan_cases() {
        let meta = tenku_testing::reference_metadata(&case);
        let dir = tempfile::tempdir().unwrap();
        let noise = dir.path().join("noise.safetensors");
        tenku_testing::write_reference_tensor(&case, "pipeline.noise", "latents", &noise);
        let output = dir.path().join("out.safetensors");
        let model = tenku_testing::wan_case(&case).join("pipeline");
        let args: Vec<String> = [
            "--quiet",
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--noise",
            noise.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--prompt",
            &meta["prompt"],
            "--negative-prompt",
            &meta["negative_prompt"],
            "--frames",
            &meta["num_frames"],
            "--height",
            &meta["height"],
            "--width",
            &meta["width"],
            "--steps",
            &meta["num_inference_steps"],
            "--guidance",
            &meta["guidance_scale"],
            "--max-sequence-length",
            &meta["max_sequence_length"],
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_tenku")).args(&args).output().unwrap();
        assert!(out.status.success(), "{case}: {}", String::from_utf8_lossy(&out.stderr));
        let written = tenku::core::WeightStore::open(&output).unwrap();
        let device = tenku_testing::device();
        let got = written.tensor::<4>("video", &device).unwrap();
        let want = tenku_testing::tensor::<4>(&tenku_testing::reference(&case), "pipeline.frames");
        tenku_testing::assert_close(&format!("{case} via the CLI"), got, want, 2e-5);
    }
}

#[test]
fn train_warm_start_continues_a_model_under_the_given_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("tiny.json");
    std::fs::write(&recipe, serde_json::to_string(&tenku::train::Recipe::tiny()).unwrap()).unwrap();
    let (recipe, base, next) = (recipe.to_str().unwrap(), dir.path().join("base"), dir.path().join("next"));
    let out = tenku(&["--quiet", "train", "--out", base.to_str().unwrap(), "--recipe", recipe]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let model = base.join("model");
    let next_dir = next.to_str().unwrap();
    let warm = ["--quiet", "train", "--out", next_dir, "--recipe", recipe, "--warm-start"];
    let out = tenku(&[&warm[..], &[model.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(next.join("recipe.json")).unwrap()).unwrap();
    assert_eq!(written["warm_start"], model.to_str().unwrap(), "the run records where it started");

    let missing = dir.path().join("missing");
    let out = tenku(&[
        "--quiet",
        "train",
        "--out",
        dir.path().join("third").to_str().unwrap(),
        "--recipe",
        recipe,
        "--warm-start",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(one_line_error(&out).contains(missing.to_str().unwrap()));
}

#[test]
fn eval_analyze_reads_a_clip_and_scores_it_against_its_recorded_caption() {
    use tenku::shapes::{Scene, SceneSpec, WorldConfig};
    let caption = "a big blue square moves up and a small yellow triangle stays still on a white background";
    let world = WorldConfig::default();
    let scene = Scene::place(SceneSpec::parse(caption).unwrap(), world, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.gif");
    let video = tenku::io::Video::new(scene.render(), world.fps).unwrap();
    let metadata = tenku::io::Metadata { prompt: Some(caption.into()), ..Default::default() };
    tenku::io::write_video(&clip, &video, &metadata).unwrap();

    let out = tenku(&["eval", "analyze", clip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["analysis"]["background"], "white");
    assert_eq!(report["analysis"]["objects"].as_array().map(Vec::len), Some(2));
    let score: tenku::shapes::ClipScore = serde_json::from_value(report["score"].clone()).unwrap();
    assert!(score.count_correct && score.background_correct, "{score:?}");
    for object in &score.objects {
        assert!(object.shape_correct && object.size_correct && object.direction_correct, "{object:?}");
    }

    let other = tenku(&["eval", "analyze", clip.to_str().unwrap(), "--caption", "a red circle moves left"]);
    let report: serde_json::Value = serde_json::from_slice(&other.stdout).unwrap();
    assert_eq!(report["score"]["objects"][0]["found"], false, "no red object in the clip");
    let out = tenku(&["eval", "analyze", clip.to_str().unwrap(), "--caption", "a red blob moves left"]);
    let error = one_line_error(&out);
    assert!(!out.status.success() && error.contains("--caption") && error.contains("blob"), "{error}");
    let out = tenku(&["eval", "analyze", dir.path().join("missing.gif").to_str().unwrap()]);
    assert!(
        !out.status.success() && one_line_error(&out).contains("missing.gif"),
        "{}",
        one_line_error(&out)
    );
}

#[test]
fn train_lists_the_built_in_recipes_in_run_order() {
    let out = tenku(&["train", "--list-recipes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(names, tenku::train::Recipe::BUILT_IN);
    let out = tenku(&["train", "--recipe", "shapes-default"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--out"), "training needs a run directory: {stderr}");
    let out = tenku(&["train", "--out", "unused", "--threads", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--threads"), "at least one thread: {stderr}");
}

#[test]
fn train_takes_the_shipped_model_runs_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let last = *tenku::train::Recipe::BUILT_IN.last().unwrap();
    let named = ["--quiet", "train", "--out", run.to_str().unwrap(), "--recipe", last];
    let out = tenku(&named);
    assert!(!out.status.success(), "a continuing run without a model to continue");
    let error = one_line_error(&out);
    assert!(error.contains(last) && error.contains("warm start"), "{error}");
    let out = tenku(&["--quiet", "train", "--out", run.to_str().unwrap(), "--recipe", "shapes-avg"]);
    let error = one_line_error(&out);
    assert!(
        !out.status.success() && error.contains("shapes-avg") && error.contains("shapes-averaged"),
        "{error}"
    );

    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tenku-shapes");
    let out = tenku(&[&named[..], &["--warm-start", shipped, "--stop-after", "0"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stopped_after_the_vae =
        stderr.contains("stopped in the denoiser stage") || stderr.contains("stopped in the decoder stage");
    assert!(stopped_after_the_vae, "a warm start skips the VAE stage: {stderr}");
    assert!(stderr.contains("before its first checkpoint"), "no checkpoint was written: {stderr}");
    let written: tenku::train::Recipe =
        serde_json::from_str(&std::fs::read_to_string(run.join("recipe.json")).unwrap()).unwrap();
    let expected = tenku::train::Recipe::built_in(last, Some(shipped.into())).unwrap().unwrap();
    assert_eq!(written, expected, "{last}");
}
