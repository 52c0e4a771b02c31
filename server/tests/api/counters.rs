//! The request limits' counters in a real Redis: a count taken back after its window expired
//! (a right API key secret after a wrong-guess window ran out) leaves no counter behind, least
//! of all one below zero without an expiry, and the next count starts a fresh window.
use crate::support::redis_url;
use std::time::Duration;

#[tokio::test]
async fn a_count_taken_back_after_its_window_expired_leaves_nothing_behind() {
    let mut redis = berth::startup::connect_redis(&redis_url()).await.unwrap();
    let key = format!("berth-test:{}:rate:api_key:10.0.0.7", uuid::Uuid::new_v4());

    let first = store::counters::add_in_fixed_window(&mut redis, &key, 1)
        .await
        .unwrap();
    assert_eq!(first.value, 1);
    assert!(first.ttl_secs > 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        store::counters::read(&mut redis, &key).await.unwrap().value,
        0
    );

    store::counters::subtract_one(&mut redis, &key)
        .await
        .unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        !exists,
        "a take-back after expiry left a counter without an expiry"
    );
    assert_eq!(
        store::counters::read(&mut redis, &key).await.unwrap().value,
        0
    );

    let again = store::counters::add_in_fixed_window(&mut redis, &key, 60)
        .await
        .unwrap();
    assert_eq!(again.value, 1, "the next count did not start afresh");
    assert!(again.ttl_secs > 0 && again.ttl_secs <= 60);
}
