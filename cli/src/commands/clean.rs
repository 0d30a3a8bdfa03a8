//! `cloesce clean`: remove every declared output, the store, and any
//! temporary files a killed run left (see `cloesce_engine::staging`).

use cloesce_engine::host::Host;
use cloesce_engine::staging;
use cloesce_engine::WorkspacePath;

use crate::commands::lock::ProjectLock;
use crate::exit::{self, Exit};
use crate::platform::{Platform, Stream};
use crate::session::Session;

pub async fn clean<P: Platform>(platform: &P, session: &Session<P::Host>) -> Result<i32, Exit> {
    let host = &session.project.host;
    let _lock = ProjectLock::acquire(platform, host, true, false).await?;
    let env_error = |what: &str, e: std::io::Error| {
        Exit::environment(format!("error: cannot remove {what}: {e}\n"))
    };
    let mut removed = 0;
    for rule in &session.pipeline.rules {
        for output in &rule.outputs {
            if host
                .stat(&output.value)
                .map_err(|e| env_error(output.value.as_str(), e))?
                .is_some()
            {
                host.remove_file(&output.value)
                    .map_err(|e| env_error(output.value.as_str(), e))?;
                removed += 1;
            }
        }
    }
    let outputs = session.pipeline.rules.iter().flat_map(|r| &r.outputs);
    staging::sweep_beside(host, outputs.map(|o| &o.value))
        .map_err(|e| env_error("temporary files", e))?;
    for part in ["ac", "cas", "tmp"] {
        let path = WorkspacePath::new(&format!(".cloesce/{part}")).expect("constant path");
        host.remove_dir_all(&path)
            .map_err(|e| env_error(path.as_str(), e))?;
    }
    let state = cloesce_engine::state::State::path();
    host.remove_file(&state)
        .map_err(|e| env_error(state.as_str(), e))?;
    platform.write(
        Stream::Stdout,
        &format!("cloesce: removed {removed} output file(s) and the store in .cloesce/\n"),
    );
    Ok(exit::SUCCESS)
}
