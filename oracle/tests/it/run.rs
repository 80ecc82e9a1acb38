//! The background loop of `oracle serve`: entropy, verification and epoch closing.

use crate::common::*;
use oracle::store::Status;
use oracle::OracleConfig;

#[tokio::test]
async fn run_publishes_entropy_verifies_and_closes_settled_epochs() {
    let config = OracleConfig {
        entropy_period_ms: 20,
        verify_period_ms: 10,
        ..OracleConfig::open()
    };
    let net = Net::with_config(config).await;
    let (b, w, _, _) = net.baseline().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let oracle = net.oracle.clone();
    let task = tokio::spawn(async move {
        oracle
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let entropy_before = net.oracle.store().table_counts().await.unwrap()["entropy"];
    assert!(entropy_before >= 2, "{entropy_before}");
    assert_eq!(net.beacon_verdict(&b).await.0, Status::Pending);

    // Past the epoch's end and its entropy window: everything is verified and the epoch closed.
    let epoch = START_MS / DAY_MS;
    net.clock.set(net.oracle.epoch_ready_at_ms(epoch));
    let mut closed = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        closed = net.oracle.store().last_closed_epoch().await.unwrap();
        if closed.is_some() {
            break;
        }
    }
    assert_eq!(closed, Some(epoch));
    assert_eq!(net.beacon_verdict(&b).await.0, Status::Valid);
    assert_eq!(net.witness_verdict(&w).await.0, Status::Valid);
    let report = net.oracle.epoch_report(epoch).await.unwrap().unwrap();
    // Reciprocity leaves this one-way pair unpaid; what counts here is that the serve loop
    // closed the epoch with every unit of the emission accounted for.
    let paid: u64 = report.rewards.iter().map(|row| row.total).sum();
    assert_eq!(paid + report.undistributed, report.emission);

    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
