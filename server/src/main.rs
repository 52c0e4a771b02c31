use berth::config::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match args.resolve() {
                Ok(config) => config,
                Err(error) => return fail(&error),
            };
            berth::telemetry::init(config.log_format);
            match berth::startup::serve(config).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error.to_string()),
            }
        }
    }
}

/// One clear line on stderr and a non-zero exit: startup errors say what is missing and how
/// to provide it.
fn fail(message: &str) -> ExitCode {
    eprintln!("berth: error: {message}");
    ExitCode::FAILURE
}
