//! Private objects: Cloud Storage in production (Google's SDK), an emulator in tests
//! (`STORAGE_EMULATOR_HOST`, anonymous credentials: the SDK ignores the variable itself), a
//! directory in development. Object names are ours (generated ids), never a client's.
//!
//! The SDK writes and reads over HTTP/JSON; everything else it does over gRPC, which no
//! emulator speaks, so deletes go through the JSON API here — one path, tested against the
//! emulator, in production as well.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use google_cloud_storage::client::Storage as Client;

use crate::error::BoxError;

/// A failed storage call; `transient` ones (5xx, 429, timeouts, connection failures) are
/// worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("storage: {source}")]
pub struct StorageError {
    pub transient: bool,
    #[source]
    source: BoxError,
}

impl StorageError {
    fn new(transient: bool, source: impl Into<BoxError>) -> Self {
        Self {
            transient,
            source: source.into(),
        }
    }

    fn from_sdk(e: google_cloud_storage::Error) -> Self {
        let transient = e.is_timeout()
            || e.is_exhausted()
            || e.is_connect()
            || e.is_io()
            || e.is_transport()
            || e.http_status_code().is_some_and(|s| s == 429 || s >= 500);
        Self::new(transient, e)
    }

    fn from_http(e: reqwest::Error) -> Self {
        let transient = e.is_timeout()
            || e.is_connect()
            || e.status()
                .is_some_and(|s| s.as_u16() == 429 || s.is_server_error());
        Self::new(transient, e)
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Where objects live.
#[derive(Clone)]
pub enum Store {
    Directory(PathBuf),
    Cloud(Box<Cloud>),
}

/// A bucket of Cloud Storage (or of the emulator).
#[derive(Clone)]
pub struct Cloud {
    client: Client,
    /// `projects/_/buckets/NAME`, as the SDK addresses it.
    bucket: String,
    name: String,
    /// The JSON API's base (`https://storage.googleapis.com` or the emulator's).
    json_api: String,
    http: reqwest::Client,
    credentials: Option<google_cloud_auth::credentials::Credentials>,
    /// Signs V4 URLs: the service account (through IAM's signBlob on Cloud Run); none for an
    /// emulator, whose objects the files function serves itself.
    signer: Option<google_cloud_auth::signer::Signer>,
}

/// The store a function's settings name, made on first use (a cold start touches nothing):
/// the bucket `STORAGE_BUCKET` (of the emulator at `STORAGE_EMULATOR_HOST` if set), else
/// the directory `STORAGE_DIR` — which production refuses.
pub struct Storage {
    bucket: Option<String>,
    emulator: Option<String>,
    dir: String,
    store: tokio::sync::OnceCell<Store>,
}

impl Storage {
    pub fn new(settings: &crate::config::Settings) -> Result<Self, crate::config::ConfigError> {
        let s = &settings.storage;
        if settings.is_production() && s.bucket.is_none() {
            return Err(crate::config::ConfigError::new(
                "STORAGE_BUCKET",
                "is required in production",
            ));
        }
        Ok(Self {
            bucket: s.bucket.clone(),
            emulator: s.emulator_host.clone(),
            dir: s.dir.clone(),
            store: tokio::sync::OnceCell::new(),
        })
    }

    pub async fn store(&self) -> StorageResult<&Store> {
        self.store
            .get_or_try_init(|| async {
                match &self.bucket {
                    Some(bucket) => Store::cloud(bucket, self.emulator.as_deref()).await,
                    None => Ok(Store::directory(&self.dir)),
                }
            })
            .await
    }

    /// Whether objects live in a directory of this machine (development).
    pub fn is_local(&self) -> bool {
        self.bucket.is_none()
    }
}

/// How long one storage call may take: a slow store must not hold a request or a worker.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Store {
    /// Bucket `name` of Cloud Storage with the ambient credentials (the service account on
    /// Cloud Run), or of the emulator at `emulator` (`http://host:port`) without any.
    pub async fn cloud(name: &str, emulator: Option<&str>) -> StorageResult<Self> {
        crate::install_tls_provider();
        let mut builder = Client::builder();
        let (credentials, signer) = match emulator {
            Some(url) => {
                builder = builder.with_endpoint(url).with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
                (None, None)
            }
            None => {
                let ambient = || google_cloud_auth::credentials::Builder::default();
                (
                    Some(ambient().build().map_err(|e| StorageError::new(false, e))?),
                    Some(
                        ambient()
                            .build_signer()
                            .map_err(|e| StorageError::new(false, e))?,
                    ),
                )
            }
        };
        // A few quick attempts, not the SDK's five minutes: a caller (a request, a push)
        // would rather fail over to its own retry than hold on.
        use google_cloud_gax::retry_policy::RetryPolicyExt;
        builder = builder.with_retry_policy(
            google_cloud_storage::retry_policy::RetryableErrors
                .with_attempt_limit(3)
                .with_time_limit(Duration::from_secs(10)),
        );
        let client = builder
            .build()
            .await
            .map_err(|e| StorageError::new(false, e))?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| StorageError::new(false, e))?;
        Ok(Self::Cloud(Box::new(Cloud {
            client,
            bucket: format!("projects/_/buckets/{name}"),
            name: name.to_owned(),
            json_api: emulator
                .unwrap_or("https://storage.googleapis.com")
                .trim_end_matches('/')
                .to_owned(),
            http,
            credentials,
            signer,
        })))
    }

    /// Signs V4 URLs with `signer` (a service account's key, in tests).
    pub fn with_signer(mut self, signer: google_cloud_auth::signer::Signer) -> Self {
        if let Self::Cloud(cloud) = &mut self {
            cloud.signer = Some(signer);
        }
        self
    }

    /// A V4 signed URL that lets anyone GET `object` for `ttl`, or `None` when this store
    /// cannot sign (a directory, an emulator): then the caller serves the bytes itself.
    pub async fn signed_url(&self, object: &str, ttl: Duration) -> StorageResult<Option<String>> {
        let Self::Cloud(cloud) = self else {
            return Ok(None);
        };
        let Some(signer) = &cloud.signer else {
            return Ok(None);
        };
        let sign = google_cloud_storage::builder::storage::SignedUrlBuilder::for_object(
            &cloud.bucket,
            object,
        )
        .with_expiration(ttl)
        .sign_with(signer);
        match timed(Box::pin(sign)).await? {
            Ok(url) => Ok(Some(url)),
            Err(e) => Err(StorageError::new(true, e)),
        }
    }

    /// A directory (created when first written).
    pub fn directory(path: impl Into<PathBuf>) -> Self {
        Self::Directory(path.into())
    }

    /// Stores `data` as `object` (replacing it).
    pub async fn put(&self, object: &str, data: Bytes, content_type: &str) -> StorageResult<()> {
        match self {
            Self::Directory(dir) => {
                let path = local_path(dir, object)?;
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| StorageError::new(false, e))?;
                }
                tokio::fs::write(&path, &data)
                    .await
                    .map_err(|e| StorageError::new(false, e))
            }
            Self::Cloud(cloud) => {
                let write = cloud
                    .client
                    .write_object(&cloud.bucket, object, data)
                    .set_content_type(content_type)
                    .send_buffered();
                // Boxed: the SDK's futures are large, and a handler's stack is not.
                timed(Box::pin(write))
                    .await?
                    .map(|_| ())
                    .map_err(StorageError::from_sdk)
            }
        }
    }

    /// The bytes of `object`, or `None` when there is no such object.
    pub async fn get(&self, object: &str) -> StorageResult<Option<Bytes>> {
        match self {
            Self::Directory(dir) => match tokio::fs::read(local_path(dir, object)?).await {
                Ok(data) => Ok(Some(data.into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StorageError::new(false, e)),
            },
            Self::Cloud(cloud) => {
                let read = async {
                    let mut response =
                        match cloud.client.read_object(&cloud.bucket, object).send().await {
                            Ok(response) => response,
                            Err(e) if e.http_status_code() == Some(404) => return Ok(None),
                            Err(e) => return Err(StorageError::from_sdk(e)),
                        };
                    let mut data = Vec::new();
                    while let Some(chunk) = response.next().await {
                        data.extend_from_slice(&chunk.map_err(StorageError::from_sdk)?);
                    }
                    Ok(Some(Bytes::from(data)))
                };
                timed(Box::pin(read)).await?
            }
        }
    }

    /// Deletes `object`; `false` when there was none.
    pub async fn delete(&self, object: &str) -> StorageResult<bool> {
        match self {
            Self::Directory(dir) => match tokio::fs::remove_file(local_path(dir, object)?).await {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(StorageError::new(false, e)),
            },
            Self::Cloud(cloud) => {
                let url = format!(
                    "{}/storage/v1/b/{}/o/{}",
                    cloud.json_api,
                    encode(&cloud.name),
                    encode(object)
                );
                let mut request = cloud.http.delete(url);
                if let Some(credentials) = &cloud.credentials {
                    request = request.headers(bearer(credentials).await?);
                }
                let response = request.send().await.map_err(StorageError::from_http)?;
                match response.status().as_u16() {
                    200..=299 => Ok(true),
                    404 => Ok(false),
                    _ => Err(StorageError::from_http(
                        response.error_for_status().unwrap_err(),
                    )),
                }
            }
        }
    }
}

async fn timed<T>(call: impl Future<Output = T>) -> StorageResult<T> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|e| StorageError::new(true, e))
}

/// The credentials' authorization headers.
async fn bearer(
    credentials: &google_cloud_auth::credentials::Credentials,
) -> StorageResult<http::HeaderMap> {
    use google_cloud_auth::credentials::CacheableResource;
    match credentials.headers(http::Extensions::new()).await {
        Ok(CacheableResource::New { data, .. }) => Ok(data),
        Ok(CacheableResource::NotModified) => Err(StorageError::new(
            false,
            "credentials answered without headers",
        )),
        Err(e) => Err(StorageError::new(e.is_transient(), e)),
    }
}

/// An object name as one path segment of the JSON API.
fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `object` under `dir`: names are ours, but a name that could leave the directory is
/// refused all the same.
fn local_path(dir: &std::path::Path, object: &str) -> StorageResult<PathBuf> {
    let safe = !object.is_empty()
        && object
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !object.contains('\\');
    if !safe {
        return Err(StorageError::new(
            false,
            "object names are relative, plain paths",
        ));
    }
    Ok(dir.join(object))
}

/// A request that needed storage: 503 while it is unreachable or failing, else 500.
impl From<StorageError> for crate::ApiError {
    fn from(e: StorageError) -> Self {
        if e.transient {
            Self::unavailable(e)
        } else {
            Self::internal(e)
        }
    }
}
