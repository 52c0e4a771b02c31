//! Berth installs as a progressive web app: Chromium finds nothing in the way, and the
//! service worker serves the app shell but leaves sessions and APIs to the network.
use end2end::*;
use serde_json::json;

#[tokio::test]
async fn chromium_reports_the_app_installable() {
    let client = browser().await;
    sign_in(&client, "admin", &var("BERTH_ADMIN_PASSWORD")).await;
    wait_until(
        &client,
        "the service worker to take control",
        "return !!navigator.serviceWorker.controller;",
    )
    .await;
    client.refresh().await.unwrap();
    hydrated(&client).await;

    let manifest = client
        .issue_cmd(Cdp {
            cmd: "Page.getAppManifest",
            params: json!({}),
        })
        .await
        .unwrap();
    assert!(
        manifest["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/manifest.webmanifest"),
        "{manifest}"
    );
    assert_eq!(manifest["errors"], json!([]), "manifest errors: {manifest}");
    let installability = client
        .issue_cmd(Cdp {
            cmd: "Page.getInstallabilityErrors",
            params: json!({}),
        })
        .await
        .unwrap();
    assert_eq!(
        installability["installabilityErrors"],
        json!([]),
        "not installable: {installability}"
    );

    // The shell is cached; sessions, server functions and APIs never are.
    let cached = client
        .execute_async(
            "const done = arguments[0]; caches.keys().then(async keys => { const urls = []; for (const k of keys) { const c = await caches.open(k); for (const r of await c.keys()) urls.push(new URL(r.url).pathname); } done(urls); });",
            vec![],
        )
        .await
        .unwrap();
    let cached: Vec<String> = serde_json::from_value(cached).unwrap();
    if !cached.contains(&"/pkg/berth.wasm".to_owned()) {
        // Say why: the storage the browser granted, and what storing the bundle now gives.
        let why = client
            .execute_async(
                "const done = arguments[0]; (async () => { const estimate = await navigator.storage.estimate(); let put = 'stored'; try { const c = await caches.open('berth-probe'); await c.put('/probe', await fetch('/pkg/berth.wasm', { cache: 'reload' })); await caches.delete('berth-probe'); } catch (e) { put = `${e.name}: ${e.message}`; } done({ quota: estimate.quota, usage: estimate.usage, put }); })();",
                vec![],
            )
            .await
            .unwrap();
        panic!("the service worker did not cache /pkg/berth.wasm: cached {cached:?}; {why}");
    }
    assert!(
        !cached.contains(&"/pkg/berth_bg.wasm".to_owned()),
        "the bundle is cached twice: {cached:?}"
    );
    for path in &cached {
        for never in ["/desktop/", "/rpc/", "/api/", "/chat/"] {
            assert!(!path.starts_with(never), "{path} was cached");
        }
    }
    client.close().await.unwrap();
}
