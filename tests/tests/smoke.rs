use clientele_e2e::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_basic_end_to_end_smoke() {
    let s = TestServer::start().await;
    s.publish_points_basic("1.0.0").await;
    let key = s.store("acme").await;
    s.install("acme", &key, "points-basic", "1.0.0", json!({})).await;
    let r = s.events_wait("acme", &key, vec![order("e1", "c1", "2026-03-05T10:00:00Z", 12_345)]).await;
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    let p = s.points("acme", &key, "c1").await;
    assert_eq!(p["balance"], 123);
}
