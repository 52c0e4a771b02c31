use berth::config::{AgentArgs, Cli, Command, ImagesCommand};
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
        Command::Agent(args) => {
            berth::telemetry::init(args.log_format);
            match berth::agent::run(agent_config(args)).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
        Command::Images {
            command: ImagesCommand::Build { names, all, dir },
        } => match berth::images::build(&dir, &names, all).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        },
    }
}

fn agent_config(args: AgentArgs) -> berth::agent::AgentConfig {
    berth::agent::AgentConfig {
        name: args.name.unwrap_or_else(berth::agent::host_name),
        manager_url: args.manager_url,
        token: args.token,
        listen: args.listen,
        advertise_url: args.advertise_url,
        interval: std::time::Duration::from_secs(args.interval.max(1)),
        start_timeout: std::time::Duration::from_secs(90),
        instance_id: uuid::Uuid::new_v4(),
    }
}

/// One clear line on stderr and a non-zero exit: startup errors say what is missing and how
/// to provide it.
fn fail(message: &str) -> ExitCode {
    eprintln!("berth: error: {message}");
    ExitCode::FAILURE
}
