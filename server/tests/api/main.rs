//! Integration tests: the real server on 127.0.0.1:0 against real PostgreSQL (one database
//! per test, via #[sqlx::test]) and real Redis (one key prefix per test).
mod access_changes;
mod accounts;
mod admin_images;
mod admin_servers;
mod admin_sessions;
mod admin_users;
mod agent_identity;
mod api_permissions;
mod connection_limits;
mod docker_sessions;
mod health;
mod hostile_input;
mod isolation;
mod kasm_api;
mod kasm_exec;
mod local_services;
mod manager_races;
mod metrics;
mod openapi;
mod outages;
mod request_log;
mod restarts;
mod serve;
mod sharing;
mod startup;
mod support;
