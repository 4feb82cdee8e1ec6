//! Revocation is instant on every instance (issue 22): the moment a revoking call returns, no
//! instance accepts the affected tokens — after a logout, a password change and refresh-token
//! reuse, and also when one instance's listener is paused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use common::*;
use shared::AppState;
use shared::auth::{AccessClaims, Role, TokenKind};
use shared::domain::accounts::{self, sessions};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

const TRIALS: usize = 1000;
const PARALLEL: usize = 8;

#[derive(Clone, Copy, Debug)]
enum Revoke {
    Logout,
    PasswordChange,
    RefreshReuse,
}

fn instance(pool: &PgPool) -> AppState {
    state(
        pool.clone(),
        redis_cache(),
        settings(&[("RATE_LIMIT_GENERAL", "100000000/minute")]),
    )
}

async fn status(app: &Router, token: &str) -> u16 {
    send(app, get_with_token("/api/v1/test/me", token))
        .await
        .status
        .as_u16()
}

/// A new user signed in through `one`: id, session, access and refresh tokens.
async fn signed_in(one: &AppState) -> (Uuid, Uuid, String, String) {
    let user = Uuid::now_v7();
    let tag = user.simple().to_string();
    sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(format!("{tag}@example.com"))
        .bind(&tag[tag.len() - 20..])
        .execute(&one.db)
        .await
        .unwrap();
    let mut conn = one.db.acquire().await.unwrap();
    let tokens = sessions::start(one, &mut conn, user, Role::User)
        .await
        .unwrap();
    let claims: AccessClaims = one
        .tokens
        .verify(TokenKind::Access, &tokens.access_token)
        .unwrap();
    (user, claims.sid, tokens.access_token, tokens.refresh_token)
}

/// Whether instance two still accepted the token once the revocation through one returned.
async fn trial(one: &AppState, two: &Remote, how: Revoke) -> bool {
    let (user, session, access, refresh) = signed_in(one).await;
    // A refresh token that is neither the current one nor the one just rotated out.
    let (access, stale_refresh) = match how {
        Revoke::RefreshReuse => {
            let second = sessions::refresh(one, &refresh).await.unwrap();
            let third = sessions::refresh(one, &second.refresh_token).await.unwrap();
            (third.access_token, refresh)
        }
        _ => (access, refresh),
    };
    assert_eq!(
        two.call(&access).await,
        200,
        "instance two keeps the open gate"
    );
    match how {
        Revoke::Logout => sessions::revoke(one, user, session, "logout")
            .await
            .unwrap(),
        Revoke::PasswordChange => {
            let mut tx = one.db.begin().await.unwrap();
            let revocation = accounts::set_password(
                &mut tx,
                user,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
                Some(session),
                "password_change",
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            revocation.announce(one).await;
        }
        Revoke::RefreshReuse => {
            let reused = sessions::refresh(one, &stale_refresh).await;
            assert!(reused.is_err(), "reuse is refused");
        }
    }
    two.call(&access).await == 200
}

async fn trials(pool: PgPool, how: Revoke) {
    let one = instance(&pool);
    let two = Remote::start(&pool);
    let stale = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..PARALLEL {
        let (one, two, stale, done) = (one.clone(), two.clone(), stale.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            while done.fetch_add(1, Ordering::SeqCst) < TRIALS {
                if trial(&one, &two, how).await {
                    stale.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        stale.load(Ordering::SeqCst),
        0,
        "{how:?}: tokens accepted after the revocation returned"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_instance_accepts_a_token_once_logout_returns(pool: PgPool) {
    trials(pool, Revoke::Logout).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_instance_accepts_a_token_once_a_password_change_returns(pool: PgPool) {
    trials(pool, Revoke::PasswordChange).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_instance_accepts_a_token_once_reuse_detection_returns(pool: PgPool) {
    trials(pool, Revoke::RefreshReuse).await;
}

enum Command {
    Call(String, oneshot::Sender<u16>),
    Freeze(Duration),
}

/// Another instance, on its own thread and runtime (as another process would be, with its
/// own Redis connections and listener); the test can freeze it, as a process starved of CPU
/// or paused between requests would be.
#[derive(Clone)]
struct Remote(mpsc::UnboundedSender<Command>);

impl Remote {
    fn start(pool: &PgPool) -> Self {
        let options = (*pool.connect_options()).clone();
        let (commands, mut inbox) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy_with(options);
                let app = common::app(instance(&pool));
                while let Some(command) = inbox.recv().await {
                    match command {
                        Command::Call(token, answer) => {
                            let app = app.clone();
                            tokio::spawn(async move {
                                let _ = answer.send(status(&app, &token).await);
                            });
                        }
                        // Blocks both workers: the listener cannot run either.
                        Command::Freeze(how_long) => {
                            let frozen: Vec<_> = (0..2)
                                .map(|_| tokio::spawn(async move { std::thread::sleep(how_long) }))
                                .collect();
                            for worker in frozen {
                                let _ = worker.await;
                            }
                        }
                    }
                }
            });
        });
        Self(commands)
    }

    async fn call(&self, token: &str) -> u16 {
        let (answer, status) = oneshot::channel();
        self.0
            .send(Command::Call(token.to_owned(), answer))
            .unwrap();
        status.await.unwrap()
    }

    fn freeze(&self, how_long: Duration) {
        self.0.send(Command::Freeze(how_long)).unwrap();
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_paused_listener_bounds_the_wait_and_its_instance_still_refuses(pool: PgPool) {
    let one = instance(&pool);
    let paused = Remote::start(&pool);
    let (user, session, access, _) = signed_in(&one).await;
    // The paused instance keeps a copy of the open gate once its listener is caught up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while paused.call(&access).await != 200 {
        assert!(Instant::now() < deadline);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(paused.call(&access).await, 200);

    paused.freeze(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    sessions::revoke(&one, user, session, "logout")
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(1500),
        "the wait is bounded: {waited:?}"
    );
    // Queued while frozen, answered the moment it thaws: refused.
    assert_eq!(paused.call(&access).await, 401);
}
