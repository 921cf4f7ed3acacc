//! The diffusers model-directory layout: `model_index.json` plus one folder per component.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::weights::{WeightStore, read_json};

/// One component listed in `model_index.json`, e.g. `"vae": ["diffusers", "AutoencoderKLWan"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The component's name, which is also its folder (`transformer`, `vae`, ...).
    pub name: String,
    /// The library that defines the class (`diffusers`, `transformers`).
    pub library: String,
    /// The class name (`WanTransformer3DModel`, ...).
    pub class_name: String,
    /// The component's folder.
    pub dir: PathBuf,
}

/// Config file names, in the order they are looked for in a component folder.
const CONFIG_FILES: [&str; 3] = ["config.json", "scheduler_config.json", "tokenizer_config.json"];

impl Component {
    /// The component's configuration file (`config.json`, or `scheduler_config.json` for a
    /// scheduler, `tokenizer_config.json` for a tokenizer).
    pub fn config_path(&self) -> Result<PathBuf> {
        CONFIG_FILES
            .iter()
            .map(|name| self.dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| Error::NotFound { what: "component config", path: self.dir.join(CONFIG_FILES[0]) })
    }

    /// Deserializes the component's configuration.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        read_json(&self.config_path()?)
    }

    /// Opens the component's weights (a single file or shards with an index).
    pub fn weights(&self) -> Result<WeightStore> {
        WeightStore::open(&self.dir)
    }

    /// Fails with [`Error::UnsupportedClass`] unless the class is one of `supported`.
    pub fn expect_class(&self, supported: &[&str], index_path: &Path) -> Result<()> {
        if supported.contains(&self.class_name.as_str()) {
            return Ok(());
        }
        Err(Error::UnsupportedClass {
            component: self.name.clone(),
            class: self.class_name.clone(),
            path: index_path.to_owned(),
            supported: supported.join(", "),
        })
    }
}

/// A model directory in the diffusers layout.
#[derive(Clone, Debug)]
pub struct ModelDir {
    root: PathBuf,
    pipeline_class: String,
    components: Vec<Component>,
    settings: serde_json::Map<String, Value>,
}

impl ModelDir {
    /// The index file's name.
    pub const INDEX: &'static str = "model_index.json";

    /// Reads `model_index.json` in `root`.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::NotFound { what: "model directory", path: root.to_owned() });
        }
        let index_path = root.join(Self::INDEX);
        let index: serde_json::Map<String, Value> = read_json(&index_path)?;
        let pipeline_class = match index.get("_class_name") {
            Some(Value::String(class)) => class.clone(),
            _ => {
                return Err(Error::InvalidConfig {
                    path: index_path,
                    reason: "`_class_name` (the pipeline class) is missing or not a string".into(),
                });
            }
        };
        let mut components = Vec::new();
        let mut settings = serde_json::Map::new();
        for (key, value) in index {
            if key.starts_with('_') {
                continue;
            }
            match value.as_array().map(Vec::as_slice) {
                Some([Value::String(library), Value::String(class)]) => components.push(Component {
                    dir: root.join(&key),
                    name: key,
                    library: library.clone(),
                    class_name: class.clone(),
                }),
                // `[null, null]` marks an optional component this checkpoint does not have.
                Some([Value::Null, Value::Null]) => {}
                _ => {
                    settings.insert(key, value);
                }
            }
        }
        Ok(Self { root: root.to_owned(), pipeline_class, components, settings })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `model_index.json`.
    pub fn index_path(&self) -> PathBuf {
        self.root.join(Self::INDEX)
    }

    /// The pipeline class (`WanPipeline`, ...).
    pub fn pipeline_class(&self) -> &str {
        &self.pipeline_class
    }

    /// Every component the index lists, in file order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Pipeline-level settings that are not components (`boundary_ratio`, `expand_timesteps`, ...).
    pub fn settings(&self) -> &serde_json::Map<String, Value> {
        &self.settings
    }

    /// The component called `name`, failing with the list of those present.
    pub fn component(&self, name: &str) -> Result<&Component> {
        let component =
            self.components.iter().find(|c| c.name == name).ok_or_else(|| Error::MissingComponent {
                path: self.root.clone(),
                component: name.to_owned(),
                listed: self.components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            })?;
        if !component.dir.is_dir() {
            return Err(Error::NotFound { what: "component folder", path: component.dir.clone() });
        }
        Ok(component)
    }
}
