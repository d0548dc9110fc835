//! KDL specs to and from the typed model: the importer (another module), and model → DSL
//! source ([`codegen`]) for build scripts.

pub mod codegen;
// `build` (build-script support: `compile(path)` over `crate::load`) compiles once the KDL
// importer's `pub fn load(path: &Path) -> Result<Image, Error>` is merged; until then it is
// left out here. Enable with `pub mod build;`.
// pub mod build;
