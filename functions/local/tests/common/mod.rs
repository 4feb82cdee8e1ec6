//! Runs the real local server binary against a fresh database of the test PostgreSQL.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;

pub struct LocalServer {
    pub base: String,
    pub outbox: PathBuf,
    child: tokio::process::Child,
    database: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl LocalServer {
    /// Starts `target/.../local` on a fresh database with `extra` environment variables and
    /// waits for `/health`.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::spawn(new_database().await, extra, None).await
    }

    /// [`LocalServer::start`] writing its log (stdout and stderr) to `log`.
    pub async fn logging_to(log: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        Self::spawn(new_database().await, extra, Some(log)).await
    }

    /// [`LocalServer::start`] reaching its database through `outage`.
    pub async fn through(outage: &Outage, extra: &[(&str, &str)]) -> Self {
        let database = new_database().await;
        let url = outage.through(&database_url(&database));
        let mut vars = vec![("DATABASE_URL", url.as_str())];
        vars.extend_from_slice(extra);
        Self::spawn(database, &vars, None).await
    }

    /// A second instance beside `other`, on the same database (give both the same
    /// `REDIS_URL` to make them one deployment).
    pub async fn beside(other: &LocalServer, extra: &[(&str, &str)]) -> Self {
        Self::spawn(other.database.clone(), extra, None).await
    }

    /// The URL of this server's database.
    pub fn database_url(&self) -> String {
        database_url(&self.database)
    }

    async fn spawn(
        database: String,
        extra: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let url = database_url(&database);
        let port = free_port();
        let outbox = std::env::temp_dir().join(format!("mindpause-outbox-{database}"));
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_local"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("EMAIL_OUTBOX_DIR", &outbox)
            .env(
                "STORAGE_DIR",
                std::env::temp_dir().join(format!("mindpause-files-{database}")),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // The suite's log record (`shared::testing::record_logs`): this server's too.
        let recorded = std::env::var_os("TEST_LOG_DIR")
            .map(|dir| std::path::Path::new(&dir).join(format!("{database}-{port}.log")));
        if let Some(log) = log.map(Path::to_path_buf).or(recorded.clone()) {
            let file = std::fs::File::create(log).unwrap();
            command.stdout(file.try_clone().unwrap()).stderr(file);
        }
        if recorded.is_some() && log.is_none() {
            command
                .env_remove("RUST_LOG")
                .env("LOG_LEVEL", "debug")
                .env("LOG_FORMAT", "json");
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("the local server starts");
        let server = Self {
            base: format!("http://127.0.0.1:{port}"),
            outbox,
            child,
            database,
        };
        for _ in 0..300 {
            if let Ok(r) = client().get(format!("{}/health", server.base)).send().await
                && r.status() == 200
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the local server did not answer /health");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = client().get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// SIGTERM, then the exit status.
    pub async fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the server stops after SIGTERM")
            .unwrap()
    }

    pub fn database(&self) -> &str {
        &self.database
    }
}

/// A fresh database on the test server.
async fn new_database() -> String {
    let admin_url = std::env::var("DATABASE_URL").expect("run the tests with ./scripts/test.sh");
    let database = format!("local_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();
    database
}

fn database_url(database: &str) -> String {
    let admin_url = std::env::var("DATABASE_URL").expect("run the tests with ./scripts/test.sh");
    match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => panic!("DATABASE_URL has no database"),
    }
}

/// The password of everyone the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// Registers `email` with [`PASSWORD`]: the new user's id and access token.
pub async fn register(server: &LocalServer, email: &str, nickname: &str) -> (String, String) {
    let response = client()
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD, "nickname": nickname }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = body["data"]["user"]["id"].as_str().unwrap().to_owned();
    let token = body["data"]["tokens"]["access_token"].as_str().unwrap();
    (id, token.to_owned())
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A Redis server of a test's own (`redis-server` from the test machine), to take down and
/// bring back without disturbing the other tests' Redis.
pub struct ThrowawayRedis {
    pub url: String,
    child: std::process::Child,
}

impl ThrowawayRedis {
    pub async fn start() -> Self {
        let port = free_port();
        let redis = Self {
            url: format!("redis://127.0.0.1:{port}"),
            child: std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server (installed by ./scripts/test.sh)"),
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not listen");
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, as in a
    /// failover; its data is kept.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy to the test PostgreSQL that can take the database away: [`Outage::cut`]
/// resets every connection through it and refuses new ones (what a server sees while its
/// database restarts), [`Outage::restore`] lets them through again. The other tests, on
/// the same PostgreSQL, are untouched.
pub struct Outage {
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Outage {
    pub async fn start() -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").expect("run the tests with ./scripts/test.sh");
        let options: sqlx::postgres::PgConnectOptions = admin_url.parse().unwrap();
        let target = format!("{}:{}", options.get_host(), options.get_port());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let outage = Self {
            port: listener.local_addr().unwrap().port(),
            up: Arc::new(AtomicBool::new(true)),
            connections: Arc::default(),
        };
        let (up, connections) = (outage.up.clone(), outage.connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().unwrap().push(task.abort_handle());
            }
        });
        outage
    }

    /// `url` (a database of the test PostgreSQL) through this proxy.
    pub fn through(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The test photo (a JPEG with metadata).
pub fn photo() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/tests/fixtures/media/photo.jpg"
    ))
    .unwrap()
}

/// A multipart body holding [`photo`] as `file`, and its content type.
pub fn photo_upload() -> (String, Vec<u8>) {
    let boundary = "mindpause-test-photo";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"me.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&photo());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads [`photo`] as the profile picture of `token`'s owner; the new file's id.
pub async fn upload_picture(server: &LocalServer, token: &str) -> String {
    let (content_type, body) = photo_upload();
    let response = client()
        .post(server.url("/api/v1/files/upload/profile"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["data"]["file"]["id"].as_str().unwrap().to_owned()
}

/// File `id` of `token`'s owner once the image worker has made it ready (its `data`).
pub async fn ready(server: &LocalServer, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let path = format!("/api/v1/files/{id}");
        let (status, body) = call(server, "GET", &path, token, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["status"] == "ready" {
            return body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the picture was never ready");
}

/// A request with `token`'s bearer and `body` sent as it is, labelled JSON (valid or not):
/// the status and the answer's text.
pub async fn send_raw(
    server: &LocalServer,
    method: &str,
    path: &str,
    token: &str,
    body: String,
) -> (u16, String) {
    let response = client()
        .request(method.parse().unwrap(), server.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A request with `token`'s bearer and a JSON body unless it is null: the status and the
/// answer (null when it is not JSON).
pub async fn call(
    server: &LocalServer,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = client()
        .request(method.parse().unwrap(), server.url(path))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}
