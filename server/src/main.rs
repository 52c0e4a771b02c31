//! The `berth` binary: parses the command line and runs the role it names.
use berth::config::{Cli, Command, ImagesCommand};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match args.resolve() {
                Ok(config) => config,
                Err(error) => return fail(&error.to_string()),
            };
            berth::telemetry::init(config.log_format);
            for obsolete in &config.obsolete {
                tracing::warn!("{obsolete}");
            }
            if std::env::var_os("BERTH_AGENT_TOKEN").is_some() {
                tracing::warn!(
                    "BERTH_AGENT_TOKEN is no longer used by berth serve: {}",
                    berth::config::OBSOLETE_AGENT_TOKEN
                );
            }
            match berth::startup::serve(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error.to_string()),
            }
        }
        Command::Agent(args) => {
            berth::telemetry::init(args.log_format);
            let (config, warnings) = match args.resolve(std::env::var("BERTH_AGENT_TOKEN").ok()) {
                Ok(resolved) => resolved,
                Err(error) => return fail(&error.to_string()),
            };
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            match berth::agent::run(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error.to_string()),
            }
        }
        Command::Images {
            command: ImagesCommand::Build { names, all, dir },
        } => match berth::images::build(&dir, &names, all).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error.to_string()),
        },
    }
}

/// One clear line on stderr and a non-zero exit: startup errors say what is missing and how
/// to provide it.
fn fail(message: &str) -> ExitCode {
    eprintln!("berth: error: {message}");
    ExitCode::FAILURE
}
