//! Every metric's name and help text, so that the code recording one and the README's list
//! agree.
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

pub const HTTP_REQUESTS: &str = "berth_http_requests_total";
pub const HTTP_DURATION: &str = "berth_http_request_duration_seconds";
pub const LAUNCHES: &str = "berth_launches_total";
pub const LAUNCH_DURATION: &str = "berth_launch_duration_seconds";
pub const STREAMS_ACTIVE: &str = "berth_streams_active";
pub const PROXY_BYTES: &str = "berth_proxy_bytes_total";
pub const CHECKIN_DURATION: &str = "berth_agent_checkin_duration_seconds";
pub const SESSIONS: &str = "berth_sessions";
pub const AGENTS_ONLINE: &str = "berth_agents_online";
pub const AGENT_FREE_CORES: &str = "berth_agent_free_cores";
pub const AGENT_FREE_MEMORY: &str = "berth_agent_free_memory_bytes";
pub const DB_CONNECTIONS: &str = "berth_db_pool_connections";
pub const DB_UNAVAILABLE: &str = "berth_db_unavailable_total";
pub const STAGED_SESSIONS: &str = "berth_staged_sessions";
pub const STAGING_HAND_OVERS: &str = "berth_staging_hand_overs_total";

pub(super) fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, matched route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request (to its response's headers), by matched route"
    );
    describe_counter!(
        LAUNCHES,
        "Session launches that ended, by image and outcome (running, or the failure's reason)"
    );
    describe_histogram!(
        LAUNCH_DURATION,
        Unit::Seconds,
        "Time from a launch request to a streaming desktop, by image"
    );
    describe_gauge!(
        STREAMS_ACTIVE,
        "Streams open on this replica, by kind (desktop, chat)"
    );
    describe_counter!(
        PROXY_BYTES,
        Unit::Bytes,
        "Bytes relayed between browsers and desktops, by direction (to_browser, to_desktop)"
    );
    describe_histogram!(
        CHECKIN_DURATION,
        Unit::Seconds,
        "Time to handle an agent's check-in"
    );
    describe_gauge!(
        SESSIONS,
        "Sessions not yet deleted, by status and image (the whole deployment)"
    );
    describe_gauge!(
        AGENTS_ONLINE,
        "Agents online and enabled (the whole deployment)"
    );
    describe_gauge!(
        AGENT_FREE_CORES,
        "Cores placement may still give on each agent, by hostname"
    );
    describe_gauge!(
        AGENT_FREE_MEMORY,
        Unit::Bytes,
        "Memory placement may still give on each agent, by hostname"
    );
    describe_gauge!(
        DB_CONNECTIONS,
        "This replica's PostgreSQL pool, by state (in_use, idle)"
    );
    describe_gauge!(
        STAGED_SESSIONS,
        "Staging pool sessions by image, agent (any: placement's choice) and state (ready, starting, used: handed over and not yet deleted)"
    );
    describe_counter!(
        STAGING_HAND_OVERS,
        "Launches that took a staged session, by outcome (handed_over, failed: started cold instead)"
    );
    describe_counter!(
        DB_UNAVAILABLE,
        "Database calls that failed because PostgreSQL did not answer (or no pooled connection was free in time)"
    );
}
