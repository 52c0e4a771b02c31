//! The PostgreSQL and Redis the tests run against (./scripts/test's, as ./scripts/run's) are
//! locked down: the server's database role and the tests' are no superusers and cannot make
//! roles (the server's cannot even make databases), and Redis answers nothing without its
//! password.
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a database role may do beyond its own objects.
#[derive(Debug, sqlx::FromRow)]
struct RoleRights {
    rolname: String,
    rolsuper: bool,
    rolcreaterole: bool,
    rolcreatedb: bool,
    rolreplication: bool,
    rolbypassrls: bool,
}

async fn rights_of(url: &str) -> RoleRights {
    let mut connection = PgConnection::connect(url).await.expect("connect");
    sqlx::query_as(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
         FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_database_roles_have_only_the_rights_they_need() {
    let test_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    // ./scripts/test gives the server's own URL beside the tests' (whose role may create the
    // test databases).
    let server_url = std::env::var("BERTH_SERVER_DATABASE_URL").unwrap_or(test_url.clone());
    let tests = rights_of(&test_url).await;
    let server = rights_of(&server_url).await;
    for role in [&tests, &server] {
        assert!(
            !role.rolsuper && !role.rolcreaterole && !role.rolreplication && !role.rolbypassrls,
            "the role {} has rights it does not need: {role:?}",
            role.rolname
        );
    }
    if server_url != test_url {
        assert!(!server.rolcreatedb, "the server's role: {server:?}");
    }
}

#[tokio::test]
async fn redis_refuses_commands_without_its_password() {
    let url = url::Url::parse(&crate::support::redis_url()).expect("REDIS_URL is a URL");
    assert!(
        url.password().is_some(),
        "REDIS_URL has no password: Redis must require one (./scripts/test sets it up)"
    );
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379));
    let mut anonymous = tokio::net::TcpStream::connect(&address).await.unwrap();
    anonymous.write_all(b"PING\r\n").await.unwrap();
    let mut answer = [0u8; 256];
    let read = anonymous.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(
        answer.starts_with("-NOAUTH"),
        "PING without a password: {answer}"
    );

    // The URL's password is the one it wants.
    let mut connection = berth::startup::connect_redis(url.as_str())
        .await
        .expect("Redis with REDIS_URL's password");
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");
}
