//! The explorer API over a real HTTP connection.

use crate::common::*;

#[tokio::test]
async fn explorer_endpoints() {
    let net = Net::new().await;
    let (addr, _task) = net.serve_http().await;
    let (b, w, beacon, _) = net.baseline().await;
    // A self-witness to have a rejection reason to show.
    net.oracle
        .submit_witness(witness_report(&b, &beacon, RSSI, SNR))
        .await
        .unwrap();
    net.settle().await;

    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");

    let (status, body) = get(addr, "/api/v1/hotspots").await;
    assert_eq!(status, 200);
    let list = body["hotspots"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .all(|h| h["region"] == "US915" && h["lat"].is_number()));

    let path = format!("/api/v1/hotspots/{}", b.key.address());
    let (status, body) = get(addr, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"]["beacons_valid"], 1);
    assert_eq!(body["rejection_reasons"]["self_witness"], 1);
    assert_eq!(body["recent_witnesses"][0]["reason"], "self_witness");

    // Not paid (yet): a witness is selected when its epoch closes.
    let path = format!("/api/v1/hotspots/{}", w.key.address());
    let (_, body) = get(addr, &path).await;
    assert_eq!(body["recent_witnesses"][0]["selected"], false);

    let (status, body) = get(addr, "/api/v1/hotspots/not-an-address").await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
    let unknown = poc::Keypair::from_seed(1, 1).address();
    let (status, _) = get(addr, &format!("/api/v1/hotspots/{unknown}")).await;
    assert_eq!(status, 404);

    let (status, body) = get(addr, "/api/v1/stats").await;
    assert_eq!(status, 200);
    assert_eq!(body["counts"]["witnesses_valid"], 1);
    assert_eq!(body["counts"]["witnesses_invalid"], 1);

    let (status, body) = get(addr, "/api/v1/coverage").await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], "FeatureCollection");
    assert_eq!(body["features"].as_array().unwrap().len(), 2);

    let (status, body) = get(addr, "/api/v1/epochs/abc/rewards").await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
    let epoch = START_MS / DAY_MS;
    let (status, _) = get(addr, &format!("/api/v1/epochs/{epoch}/rewards")).await;
    assert_eq!(status, 404);
    net.clock.set((epoch + 1) * DAY_MS + 200_000);
    net.oracle.close_epoch(epoch).await.unwrap();
    let (status, body) = get(addr, &format!("/api/v1/epochs/{epoch}/rewards")).await;
    assert_eq!(status, 200);
    assert_eq!(body["epoch"], epoch);
    // Who is paid is the reward rules' business (reciprocity may pay nobody in so small a
    // network); the endpoint must return the epoch's rows, which with what is left undistributed
    // make up the emission exactly.
    let paid: u64 = body["rewards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["total"].as_u64().unwrap())
        .sum();
    assert_eq!(
        paid + body["undistributed"].as_u64().unwrap(),
        body["emission"].as_u64().unwrap()
    );

    let (status, body) = get(addr, "/no/such/path").await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
}
