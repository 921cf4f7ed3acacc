//! Spacetime patches for video transformers: cutting a latent video `[batch, channels, frames,
//! height, width]` into a token sequence and back ([`Patchifier`]), and the 3D rotary position
//! tables of Wan ([`Rope3d`]).
//!
//! Token order is row-major over the patch grid, `(frame, row, column)`, as in diffusers:
//! token = `f·H'·W' + h·W' + w`.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use tenku_patch::{Patchifier, Rope3d};
//!
//! let device = Device::flex();
//! let patchifier = Patchifier::new([1, 2, 2]);
//! let latents = Tensor::<5>::ones([1, 4, 3, 8, 8], &device);
//! let grid = patchifier.grid(latents.dims());
//! let tokens = patchifier.patchify(latents.clone());
//! assert_eq!(tokens.dims(), [1, grid.tokens(), 16]);
//! assert_eq!(patchifier.unpatchify(tokens, grid).dims(), latents.dims());
//!
//! let rope = Rope3d::wan(12, 32);
//! let tables = rope.tables(grid, &device);
//! assert_eq!(tables.cos.dims(), [grid.tokens(), 6]);
//! ```

mod patchify;
mod rope;

pub use patchify::{PatchGrid, Patchifier};
pub use rope::{Rope3d, RopeTables};
