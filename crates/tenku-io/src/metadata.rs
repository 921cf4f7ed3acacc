//! Generation metadata stored alongside a video.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Generation parameters recorded with a video. Every field is optional.
///
/// As key/value pairs ([`Metadata::to_pairs`]) the keys are namespaced with `tenku:`:
///
/// | field             | key                       | value                     |
/// |-------------------|---------------------------|---------------------------|
/// | `prompt`          | `tenku:prompt`            | the text                  |
/// | `negative_prompt` | `tenku:negative_prompt`   | the text                  |
/// | `seed`            | `tenku:seed`              | decimal `u64`             |
/// | `sampler`         | `tenku:sampler`           | the name                  |
/// | `steps`           | `tenku:steps`             | decimal `u32`             |
/// | `extra[k]`        | `tenku:extra:<k>`         | the value                 |
///
/// In JSON (`metadata.json` of a PNG-frame directory) it is an object with the plain field
/// names; absent fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The text prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The negative prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// The random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The sampler / scheduler name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<String>,
    /// The number of denoising steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// Free-form extra entries (model name, guidance scale, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Metadata {
    /// The prefix of every key produced by [`Metadata::to_pairs`].
    pub const KEY_PREFIX: &'static str = "tenku:";
    /// The prefix of keys holding [`Metadata::extra`] entries.
    pub const EXTRA_PREFIX: &'static str = "tenku:extra:";

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }

    /// The entries as `tenku:`-prefixed key/value pairs (see the table on [`Metadata`]).
    pub fn to_pairs(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.insert(format!("{}{k}", Self::KEY_PREFIX), v);
            }
        };
        put("prompt", self.prompt.clone());
        put("negative_prompt", self.negative_prompt.clone());
        put("seed", self.seed.map(|s| s.to_string()));
        put("sampler", self.sampler.clone());
        put("steps", self.steps.map(|s| s.to_string()));
        for (k, v) in &self.extra {
            out.insert(format!("{}{k}", Self::EXTRA_PREFIX), v.clone());
        }
        out
    }

    /// Parses pairs produced by [`Metadata::to_pairs`]. Keys without the `tenku:` prefix (such as
    /// `fps`) and unknown `tenku:` keys are ignored.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] if `tenku:seed` or `tenku:steps` is not a decimal integer.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut meta = Metadata::default();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            if let Some(extra) = key.strip_prefix(Self::EXTRA_PREFIX) {
                meta.extra.insert(extra.to_owned(), value.to_owned());
                continue;
            }
            let Some(field) = key.strip_prefix(Self::KEY_PREFIX) else {
                continue;
            };
            let invalid = |expected| Error::InvalidMetadata {
                path: None,
                key: key.to_owned(),
                value: value.to_owned(),
                expected,
            };
            match field {
                "prompt" => meta.prompt = Some(value.to_owned()),
                "negative_prompt" => meta.negative_prompt = Some(value.to_owned()),
                "sampler" => meta.sampler = Some(value.to_owned()),
                "seed" => {
                    meta.seed = Some(value.parse().map_err(|_| invalid("an unsigned 64-bit integer"))?);
                }
                "steps" => {
                    meta.steps = Some(value.parse().map_err(|_| invalid("an unsigned 32-bit integer"))?);
                }
                _ => {}
            }
        }
        Ok(meta)
    }
}

/// Parses an `fps` metadata value: a finite number > 0.
pub(crate) fn parse_fps(value: &str) -> Result<f32, Error> {
    match value.trim().parse::<f32>() {
        Ok(fps) if fps.is_finite() && fps > 0.0 => Ok(fps),
        _ => Err(Error::InvalidMetadata {
            path: None,
            key: "fps".to_owned(),
            value: value.to_owned(),
            expected: "a finite number > 0",
        }),
    }
}

/// Serializes `value` to JSON that is pure ASCII (non-ASCII characters become `\uXXXX` escapes),
/// for containers whose text fields are nominally 7-bit (GIF comments).
pub(crate) fn to_ascii_json(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            prompt: Some("a cat, 猫 🐈".into()),
            negative_prompt: None,
            seed: Some(u64::MAX),
            sampler: Some("euler".into()),
            steps: Some(30),
            extra: [("cfg".to_owned(), "5.0".to_owned())].into(),
        }
    }

    #[test]
    fn pairs_round_trip() {
        let m = sample();
        let pairs = m.to_pairs();
        assert_eq!(pairs["tenku:seed"], u64::MAX.to_string());
        assert_eq!(pairs["tenku:extra:cfg"], "5.0");
        assert!(!pairs.contains_key("tenku:negative_prompt"));
        assert_eq!(Metadata::from_pairs(&pairs).unwrap(), m);
    }

    #[test]
    fn bad_seed() {
        let err = Metadata::from_pairs([("tenku:seed", "-1")]).unwrap_err();
        assert!(matches!(err, Error::InvalidMetadata { .. }));
        assert!(err.to_string().contains("tenku:seed"), "{err}");
    }

    #[test]
    fn ascii_json() {
        let v = serde_json::to_value(sample()).unwrap();
        let s = to_ascii_json(&v);
        assert!(s.is_ascii());
        let back: Metadata = serde_json::from_str(&s).unwrap();
        assert_eq!(back, sample());
    }
}
