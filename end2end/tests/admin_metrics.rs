//! Admin → Metrics in a browser: the figures and the launch chart render for an administrator
//! (the embedded agent counted online), and the same signed-in tab may read /metrics, which a
//! user's tab may not.
use end2end::*;

#[tokio::test]
async fn an_administrator_sees_the_figures_and_the_launch_chart() {
    let admin = browser().await;
    sign_in(&admin, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    admin
        .goto(&format!("{}/admin/metrics", base()))
        .await
        .unwrap();
    hydrated(&admin).await;
    wait_until(
        &admin,
        "the figures",
        "return !!document.querySelector('#metrics-figures #agents-online');",
    )
    .await;
    let agents = text_of(&admin, "#agents-online").await;
    let online: u32 = agents
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("agents online reads {agents:?}"));
    assert!(
        online >= 1,
        "the embedded agent is not counted online: {agents}"
    );
    let windows = admin
        .execute(
            "return document.querySelectorAll('#launch-chart g.window').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        windows.as_u64(),
        Some(12),
        "one bar per five minutes of the last hour"
    );
    assert_eq!(fetch_status(&admin, "/metrics").await, 200);

    let user = browser().await;
    let name = format!("metrics-{}", unique());
    create_user_as_admin(&admin, &name, "password-123").await;
    sign_in(&user, &name, "password-123").await;
    assert_eq!(fetch_status(&user, "/metrics").await, 403);
    assert_eq!(fetch_status(&user, "/admin/metrics").await, 403);
}
