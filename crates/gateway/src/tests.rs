//! The front door in process, on port 0: a real TCP exchange with the store's writer and the
//! commit stream, waiting for events rather than sleeping.

use std::sync::Arc;
use std::time::Duration;

use domain::{Clock, CommitStream, Received};
use simulator::{Link, Logger};
use store::{LocalCommits, SqliteStore};

use super::*;

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_is_answered_after_its_commit_published_and_its_device_remembered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("h.db")).expect("store"));
    let store: Arc<dyn Store> = sqlite.clone();
    let point: Point = serde_json::from_str(
        r#"{"id":"p1","name":"n","mn":"MN1","password":"pw","kind":"gas_outlet"}"#,
    )
    .expect("point");
    store.put_point(&point, "test", 0).expect("point");
    let commits: Arc<dyn CommitStream> = Arc::new(LocalCommits::default());
    let mut stream = commits.subscribe();
    let (writer, writer_thread) =
        Writer::start(Arc::clone(&store), 64, Arc::clone(&commits)).expect("writer");
    let clock = Clock::manual(1_790_000_000_000);
    let config = GatewayConfig {
        clock,
        ..GatewayConfig::default()
    };
    let gw = Gateway::new(config, Arc::clone(&store), writer).expect("gateway");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(Arc::clone(&gw).run(listener, stopped));

    // The right password: 9014 once the frame is durable, then the commit on the stream.
    let start = clock.now_ms() / 1000 - 3600;
    let mut logger = Logger::gas("MN1", "pw", 2, start, 1);
    let mut link = Link::connect(addr).await.expect("connects");
    let (qn, t, message) = logger.next_message(clock.now_ms());
    link.send_data(&message, &qn, T).await.expect("9014");
    let stored = store
        .series(&store::SeriesQuery {
            point_id: "p1".into(),
            data_type: domain::DataType::Min,
            code: None,
            from: t,
            to: t,
            limit: 100,
        })
        .expect("series");
    assert_eq!(stored.len(), 2, "both factors stored before the answer");
    let published = tokio::time::timeout(T, stream.recv())
        .await
        .expect("published");
    let Received::Commit(c) = published else {
        panic!("{published:?}")
    };
    assert_eq!((c.point_id.as_str(), c.observations.len()), ("p1", 2));
    // A resend stores nothing new: acknowledged, and nothing published.
    link.send_data(&message, &qn, T).await.expect("9014 again");
    assert!(stream.try_recv().is_none());

    // A wrong password is refused, and nothing is published.
    let mut intruder = Logger::gas("MN1", "guess", 2, start, 2);
    let mut other = Link::connect(addr).await.expect("connects");
    let (qn, _, message) = intruder.next_message(clock.now_ms());
    assert!(other.send_data(&message, &qn, T).await.is_err());
    assert!(stream.try_recv().is_none());

    // The device is known, with its frames and last packet on the platform clock; saved, it
    // is there for the next start.
    let device = gw
        .devices()
        .into_iter()
        .find(|d| d.mn == "MN1")
        .expect("device");
    assert!(device.online);
    assert_eq!(device.last_packet_ms, clock.now_ms());
    assert!(gw.save_devices().expect("saved") >= 1);
    assert_eq!(
        store.devices(&["MN1".to_owned()]).expect("devices")[0].last_packet_ms,
        clock.now_ms()
    );

    stop.send(true).expect("stop");
    drop(link);
    drop(other);
    serving.await.expect("task").expect("gateway ends");
    drop(gw);
    writer_thread.join().expect("writer ends");
}
