//! Parity with diffusers' WanPipeline text path on the tiny fixtures
//! (`crates/tenku-testing/fixtures/wan/<case>`), plus loading errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use safetensors::SafeTensors;
use tenku_core::TextEncoder;
use tenku_testing::{assert_close, device, reference, tensor, wan_case, wan_cases};
use tenku_text::{Error, PromptTokenizer, Umt5Encoder, WanTextEncoder, batch_tensors, zero_padding};

/// Max abs difference allowed for hidden states. Measured on flex: 8.9e-7 (tiny_a) and 1.1e-6
/// (tiny_b), float rounding of different f32 summation orders (values are O(1) after the final
/// RMS norm, so a few ulp); this leaves a ~4× margin.
const HIDDEN_TOLERANCE: f32 = 4e-6;

fn tokenizer_dir(case: &str) -> PathBuf {
    wan_case(case).join("pipeline").join("tokenizer")
}

fn text_encoder_dir(case: &str) -> PathBuf {
    wan_case(case).join("pipeline").join("text_encoder")
}

fn metadata(case: &str) -> HashMap<String, String> {
    let bytes = std::fs::read(wan_case(case).join("reference.safetensors")).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().clone().expect("fixture metadata")
}

/// The prompt, negative prompt and max_sequence_length of a case.
fn prompts(case: &str) -> (String, String, usize) {
    let meta = metadata(case);
    (meta["prompt"].clone(), meta["negative_prompt"].clone(), meta["max_sequence_length"].parse().unwrap())
}

fn cases() -> Vec<String> {
    let cases = wan_cases();
    assert!(!cases.is_empty(), "no fixtures under {}", wan_case("").display());
    cases
}

fn to_u32(t: Tensor<2>) -> Vec<Vec<u32>> {
    let [rows, cols] = t.dims();
    let flat = t.into_data().try_into_vec::<f32>().unwrap();
    (0..rows).map(|r| flat[r * cols..(r + 1) * cols].iter().map(|&v| v as u32).collect()).collect()
}

#[test]
fn token_ids_match_exactly() {
    for case in cases() {
        let (prompt, negative, max_len) = prompts(&case);
        let tokenizer = PromptTokenizer::from_file(tokenizer_dir(&case).join("tokenizer.json")).unwrap();
        let batch = tokenizer.encode(&[&prompt, &negative], max_len).unwrap();
        let store = reference(&case);
        assert_eq!(batch.ids, to_u32(tensor::<2>(&store, "text.input_ids")), "{case}: ids");
        assert_eq!(
            batch.attention_mask(),
            to_u32(tensor::<2>(&store, "text.attention_mask")),
            "{case}: mask"
        );
    }
}

/// Ids from transformers 5.24 (`T5TokenizerFast(…, padding="max_length", max_length=16,
/// truncation=True)`) on the fixture tokenizer, for prompts `prompt_clean` leaves alone:
/// an unknown character, truncation that keeps `</s>`, and unknown letters.
#[test]
fn token_ids_match_transformers_on_edge_cases() {
    let tokenizer = PromptTokenizer::from_file(tokenizer_dir("tiny_a").join("tokenizer.json")).unwrap();
    let long = ["a red circle moves left"; 5].join(" ");
    let cases: [(&str, [u32; 16]); 3] = [
        ("a red 猫 circle", [27, 81, 21, 3, 2, 130, 7, 28, 23, 1, 0, 0, 0, 0, 0, 0]),
        (&long, [27, 81, 21, 130, 7, 28, 23, 36, 43, 6, 200, 27, 81, 21, 130, 1]),
        ("xyzzy qqq", [3, 44, 12, 140, 140, 12, 3, 344, 344, 344, 1, 0, 0, 0, 0, 0]),
    ];
    for (prompt, want) in cases {
        let batch = tokenizer.encode(&[prompt], 16).unwrap();
        assert_eq!(batch.ids[0], want, "{prompt:?}");
        assert_eq!(batch.lengths[0], want.iter().position(|&id| id == 1).unwrap() + 1);
    }
    assert_eq!(tokenizer.unknown_words("a red 猫 circle, 猫"), vec!["猫".to_owned()]);
    assert!(tokenizer.unknown_words("a red circle moves left").is_empty());
    // One slot: only `</s>` fits; zero slots cannot hold it.
    assert_eq!(tokenizer.encode(&["a red circle"], 1).unwrap().ids, vec![vec![1]]);
    assert!(matches!(tokenizer.encode(&["a"], 0), Err(Error::MaxLenTooShort { max_len: 0, special: 1 })));
}

#[test]
fn hidden_states_match_the_reference() {
    for case in cases() {
        let (prompt, negative, max_len) = prompts(&case);
        let encoder =
            WanTextEncoder::load(&tokenizer_dir(&case), &text_encoder_dir(&case), &device()).unwrap();
        let store = reference(&case);

        let batch = encoder.tokenizer.encode(&[&prompt, &negative], max_len).unwrap();
        let raw = encoder.encode_tokens(&batch);
        assert_close(
            &format!("{case}: raw_hidden"),
            raw,
            tensor::<3>(&store, "text.raw_hidden"),
            HIDDEN_TOLERANCE,
        );

        let embeddings = TextEncoder::encode(&encoder, &[&prompt, &negative], max_len).unwrap();
        assert_eq!(embeddings.lengths, batch.lengths);
        let want = tensor::<3>(&store, "text.hidden");
        assert_close(&format!("{case}: hidden"), embeddings.hidden.clone(), want, HIDDEN_TOLERANCE);
        // Padded rows are exact zeros.
        let [_, tokens, dim] = embeddings.hidden.dims();
        let values = embeddings.hidden.into_data().try_into_vec::<f32>().unwrap();
        for (row, &len) in batch.lengths.iter().enumerate() {
            let padded = &values[(row * tokens + len) * dim..(row + 1) * tokens * dim];
            assert!(padded.iter().all(|&v| v == 0.0), "{case}: row {row} past {len} not zero");
        }
    }
}

/// Encoding each prompt alone (as the pipeline does) and in one batch agree.
#[test]
fn batching_does_not_change_the_result() {
    let case = &cases()[0];
    let (prompt, negative, max_len) = prompts(case);
    let encoder = WanTextEncoder::load(&tokenizer_dir(case), &text_encoder_dir(case), &device()).unwrap();
    let both = encoder.embed(&[&prompt, &negative], max_len).unwrap().hidden;
    let alone = encoder.embed(&[&negative], max_len).unwrap().hidden;
    assert_close("batched vs alone", both.narrow(0, 1, 1), alone, 1e-6);
}

/// Copies `text_encoder/` into a temporary directory, rewriting its weights with `edit`.
fn edited_text_encoder(
    case: &str,
    edit: impl FnOnce(&mut Vec<(String, safetensors::tensor::TensorView<'_>)>),
) -> tempfile::TempDir {
    let source = text_encoder_dir(case);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(source.join("config.json"), dir.path().join("config.json")).unwrap();
    let bytes = std::fs::read(source.join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = file.tensors();
    edit(&mut tensors);
    safetensors::serialize_to_file(tensors, None, &dir.path().join("model.safetensors")).unwrap();
    dir
}

#[test]
fn a_missing_weight_is_named() {
    let key = "encoder.block.1.layer.0.SelfAttention.q.weight";
    let dir = edited_text_encoder("tiny_a", |tensors| tensors.retain(|(name, _)| name != key));
    let error = Umt5Encoder::load(dir.path(), &device()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(key), "{message}");
    assert!(matches!(error, Error::Weights(tenku_core::Error::KeyMismatch { .. })), "{error:?}");
}

#[test]
fn an_unexpected_weight_is_named() {
    let dir = edited_text_encoder("tiny_a", |tensors| {
        let view =
            tensors.iter().find(|(name, _)| name == "encoder.final_layer_norm.weight").unwrap().1.clone();
        tensors.push(("encoder.extra.weight".to_owned(), view));
    });
    let message = Umt5Encoder::load(dir.path(), &device()).unwrap_err().to_string();
    assert!(message.contains("encoder.extra.weight"), "{message}");
}

/// `encoder.embed_tokens.weight` is the tied copy of `shared.weight`: used when it is the only
/// embedding in the file, ignored when both are there.
#[test]
fn tied_embedding_keys_are_handled() {
    let case = "tiny_a";
    let (prompt, _, max_len) = prompts(case);
    let tokenizer = PromptTokenizer::from_file(tokenizer_dir(case).join("tokenizer.json")).unwrap();
    let batch = tokenizer.encode(&[&prompt], max_len).unwrap();
    let run = |dir: &Path| {
        let encoder = Umt5Encoder::load(dir, &device()).unwrap();
        let (ids, mask) = batch_tensors(&batch, &device());
        encoder.forward(ids, mask)
    };
    let want = run(&text_encoder_dir(case));

    let only_tied = edited_text_encoder(case, |tensors| {
        for (name, _) in tensors.iter_mut() {
            if name == "shared.weight" {
                *name = "encoder.embed_tokens.weight".to_owned();
            }
        }
    });
    assert_close("embed_tokens only", run(only_tied.path()), want.clone(), 0.0);

    let both = edited_text_encoder(case, |tensors| {
        let view = tensors.iter().find(|(name, _)| name == "shared.weight").unwrap().1.clone();
        tensors.push(("encoder.embed_tokens.weight".to_owned(), view));
    });
    assert_close("shared and embed_tokens", run(both.path()), want, 0.0);
}

#[test]
fn a_missing_tokenizer_file_is_named() {
    let path = Path::new("/nonexistent/tokenizer/tokenizer.json");
    let error = PromptTokenizer::from_file(path).unwrap_err();
    assert!(matches!(&error, Error::NotFound { path: p, .. } if p == path), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/tokenizer/tokenizer.json"));

    let error =
        WanTextEncoder::load(Path::new("/nonexistent/tokenizer"), &text_encoder_dir("tiny_a"), &device())
            .unwrap_err();
    assert!(matches!(error, Error::NotFound { what: "tokenizer.json", .. }), "{error:?}");
}

#[test]
fn a_malformed_tokenizer_file_wraps_the_tokenizers_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, r#"{"model": {"type": "Nonsense"}}"#).unwrap();
    let error = PromptTokenizer::from_file(&path).unwrap_err();
    assert!(matches!(error, Error::TokenizerLoad { .. }), "{error:?}");
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn zero_padding_zeroes_rows_past_each_length() {
    let hidden = Tensor::<3>::ones([2, 3, 2], &device());
    let zeroed = zero_padding(hidden, &[1, 3]).into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(zeroed, vec![1., 1., 0., 0., 0., 0., 1., 1., 1., 1., 1., 1.]);
}
