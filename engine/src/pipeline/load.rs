//! Lowering KDL into a [`Pipeline`], reporting every problem in one pass.
//! (Stub: filled in by the pipeline-loader work.)

use super::*;
use crate::builtin::BuiltinRegistry;

/// What [`load`] reads.
pub struct LoadOptions<'a> {
    /// The user's `cloesce.kdl`; `None` means "no file: use `cloesce:default`".
    pub user: Option<SourceFile>,
    /// Library pipelines a `use` node can name, e.g. `("cloesce:default", KDL)`.
    pub library: &'a [(&'a str, &'a str)],
    /// Known built-ins, to reject unknown names and settings.
    pub builtins: &'a BuiltinRegistry,
}

/// One problem in a pipeline file.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PipelineError {
    #[error("not implemented yet")]
    #[diagnostic(code(cloesce::pipeline::todo))]
    Todo,
}

/// Every problem found in one pass.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the pipeline has {} problem(s)", errors.len())]
pub struct PipelineErrors {
    #[related]
    pub errors: Vec<PipelineError>,
}

/// Parses and checks the pipeline.
pub fn load(options: &LoadOptions<'_>) -> Result<Pipeline, PipelineErrors> {
    let _ = options;
    Err(PipelineErrors {
        errors: vec![PipelineError::Todo],
    })
}
