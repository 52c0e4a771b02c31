//! `berth serve` as a process: clear one-line errors for missing or unreachable dependencies.
use std::process::Command;

fn berth() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("BERTH_CONFIG", "/nonexistent/berth.toml")
        .env("BERTH_ADDR", "127.0.0.1:0");
    command
}

fn assert_clean_failure(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "expected a failure exit");
    assert!(!stderr.contains("panicked"), "it panicked: {stderr}");
    stderr
}

#[test]
fn unreachable_database_is_named_with_the_password_masked() {
    let output = berth()
        .args(["serve"])
        .env(
            "DATABASE_URL",
            "postgres://berth:s3cret-pw@127.0.0.1:1/berth",
        )
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at postgres://berth:****@127.0.0.1:1/berth"),
        "{stderr}"
    );
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password leaked: {stderr}"
    );
}

#[test]
fn unreachable_redis_is_named() {
    let database_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let output = berth()
        .args(["serve"])
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", "redis://:hidden-pw@127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains("cannot connect to Redis at redis://:****@127.0.0.1:1"),
        "{stderr}"
    );
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(!stderr.contains("hidden-pw"), "{stderr}");
}

#[test]
fn missing_settings_say_how_to_provide_them() {
    let output = berth().args(["serve"]).output().unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(stderr.contains("set DATABASE_URL"), "{stderr}");
}

#[test]
fn help_documents_every_setting() {
    let output = berth().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "DATABASE_URL",
        "REDIS_URL",
        "BERTH_ADDR",
        "BERTH_ADMIN_PASSWORD",
        "BERTH_LOG_FORMAT",
        "BERTH_CONFIG",
    ] {
        assert!(
            help.contains(setting),
            "--help does not mention {setting}:\n{help}"
        );
    }
}

#[test]
fn an_agent_refuses_a_credential_on_the_command_line_and_says_how_to_give_it() {
    let output = berth()
        .env_remove("BERTH_AGENT_TOKEN")
        .env_remove("BERTH_AGENT_TOKEN_FILE")
        .args(["agent", "--manager", "http://127.0.0.1:1"])
        .args(["--token", "visible-to-ps.secret"])
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains("--token on the command line is refused"),
        "{stderr}"
    );
    assert!(stderr.contains("--token-file"), "{stderr}");
    assert!(!stderr.contains("visible-to-ps.secret"), "{stderr}");

    let output = berth()
        .env_remove("BERTH_AGENT_TOKEN")
        .env_remove("BERTH_AGENT_TOKEN_FILE")
        .args(["agent", "--manager", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(stderr.contains("no agent credential"), "{stderr}");
    assert!(stderr.contains("Admin → Servers"), "{stderr}");
}
