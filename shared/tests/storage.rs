//! Objects round-trip through both stores the same way: the emulator that
//! `scripts/test.sh` starts (fake-gcs-server, through Google's SDK and the JSON API) and a
//! directory.

use bytes::Bytes;
use shared::storage::Store;

async fn emulator() -> Store {
    let host = std::env::var("STORAGE_EMULATOR_HOST")
        .expect("STORAGE_EMULATOR_HOST is unset: run the tests with ./scripts/test.sh");
    let bucket = std::env::var("STORAGE_BUCKET").expect("STORAGE_BUCKET");
    Store::cloud(&bucket, Some(&host))
        .await
        .expect("the emulator's client")
}

/// The contract every store keeps.
async fn round_trip(store: &Store) {
    let name = format!("tests/{}/original", uuid::Uuid::now_v7());
    assert_eq!(store.get(&name).await.unwrap(), None, "nothing yet");
    assert!(!store.delete(&name).await.unwrap(), "nothing to delete");
    let data = Bytes::from_static(b"\x89PNG\r\n\x1a\n not really a picture");
    store.put(&name, data.clone(), "image/png").await.unwrap();
    assert_eq!(store.get(&name).await.unwrap(), Some(data));
    let replaced = Bytes::from(vec![7u8; 300_000]);
    store
        .put(&name, replaced.clone(), "image/png")
        .await
        .unwrap();
    assert_eq!(store.get(&name).await.unwrap(), Some(replaced));
    assert!(store.delete(&name).await.unwrap());
    assert_eq!(store.get(&name).await.unwrap(), None);
    assert!(!store.delete(&name).await.unwrap());
}

#[tokio::test]
async fn objects_round_trip_through_the_emulator() {
    shared::install_tls_provider();
    round_trip(&emulator().await).await;
}

#[tokio::test]
async fn objects_round_trip_through_a_directory() {
    let dir = std::env::temp_dir().join(format!("mindpause-store-{}", uuid::Uuid::now_v7()));
    let store = Store::directory(&dir);
    round_trip(&store).await;
    for name in ["../escape", "a/../../b", "/etc/passwd", "", "a//b", "a\\b"] {
        let refused = store
            .put(name, Bytes::from_static(b"x"), "text/plain")
            .await;
        assert!(refused.is_err(), "{name}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_unreachable_store_is_a_transient_failure() {
    shared::install_tls_provider();
    let store = Store::cloud("nowhere", Some("http://127.0.0.1:9"))
        .await
        .unwrap();
    let e = store.delete("x").await.unwrap_err();
    assert!(e.transient, "{e}");
    let api: shared::ApiError = e.into();
    assert_eq!(api.error_code(), shared::ErrorCode::ServiceUnavailable);
}
