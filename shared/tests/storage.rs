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

/// A V4 signed URL, signed with a service account's key (a key made for this test; on Cloud
/// Run the account signs through IAM). The emulator checks no signature, so its shape is
/// what is tested: the algorithm, the signer, the lifetime, a 2048-bit RSA signature.
#[tokio::test]
async fn a_signed_url_names_its_signer_lifetime_and_object() {
    shared::install_tls_provider();
    let key: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/test-service-account.json")).unwrap();
    let signer = google_cloud_auth::credentials::service_account::Builder::new(key)
        .build_signer()
        .unwrap();
    let store = emulator().await.with_signer(signer);
    let url = store
        .signed_url(
            "files/0191d8a0/256.webp",
            std::time::Duration::from_secs(900),
        )
        .await
        .unwrap()
        .expect("a store with a signer signs");
    let bucket = std::env::var("STORAGE_BUCKET").unwrap();
    assert!(
        url.contains(&format!("/{bucket}/files/0191d8a0/256.webp?")),
        "{url}"
    );
    for part in [
        "X-Goog-Algorithm=GOOG4-RSA-SHA256",
        "X-Goog-Credential=files%40mindpause-test.iam.gserviceaccount.com%2F",
        "X-Goog-Expires=900",
        "X-Goog-SignedHeaders=host",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    let signature = url.split("X-Goog-Signature=").nth(1).unwrap();
    assert_eq!(signature.len(), 512, "hex of 256 bytes");
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));

    let directory = Store::directory(std::env::temp_dir());
    let none = directory
        .signed_url("x", std::time::Duration::from_secs(60))
        .await;
    assert_eq!(
        none.unwrap(),
        None,
        "a directory is served by the files function"
    );
}
