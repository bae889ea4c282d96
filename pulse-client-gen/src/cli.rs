//! Writing the module to disk, checking it is current, and the command line around both.

use std::path::Path;
use std::process::ExitCode;

use crate::Module;
use crate::render::RenderError;

/// Why writing or checking failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The module could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The committed file differs from the Rust declarations.
    #[error(
        "{path} is stale: it does not match the Rust declarations; regenerate it (run the same command without --check)"
    )]
    Stale {
        /// The file.
        path: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckError + '_ {
    move |source| CheckError::Io { path: path.display().to_string(), source }
}

pub(crate) fn write(module: &Module, path: &Path) -> Result<bool, CheckError> {
    let source = module.render()?;
    if std::fs::read_to_string(path).ok().as_deref() == Some(source.as_str()) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(path, source).map_err(io_error(path))?;
    Ok(true)
}

pub(crate) fn check(module: &Module, path: &Path) -> Result<(), CheckError> {
    let source = module.render()?;
    let committed = std::fs::read_to_string(path).map_err(io_error(path))?;
    if committed == source { Ok(()) } else { Err(CheckError::Stale { path: path.display().to_string() }) }
}

pub(crate) fn run(module: &Module, args: impl Iterator<Item = String>) -> ExitCode {
    let mut check_only = false;
    let mut path = None;
    for arg in args {
        match arg.as_str() {
            "--check" => check_only = true,
            "-h" | "--help" => {
                println!(
                    "usage: [--check] <output.ts>\n  writes the TypeScript module, or with --check fails if it is stale"
                );
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') => {
                eprintln!("unknown option {other}; usage: [--check] <output.ts>");
                return ExitCode::from(2);
            }
            other => path = Some(other.to_owned()),
        }
    }
    let Some(path) = path else {
        eprintln!("missing output path; usage: [--check] <output.ts>");
        return ExitCode::from(2);
    };
    let path = Path::new(&path);
    let outcome = if check_only {
        check(module, path).map(|()| format!("{} is up to date", path.display()))
    } else {
        write(module, path).map(|changed| {
            if changed { format!("wrote {}", path.display()) } else { format!("{} unchanged", path.display()) }
        })
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
