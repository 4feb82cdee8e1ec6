//! Bench helper: `likers N` makes N accounts with live sessions in `$DATABASE_URL` and
//! prints one access token per line, signed with the development key the bench's services
//! verify (registering 10,000 people through argon2 would take minutes).

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: likers N");
    let pool = sqlx::PgPool::connect(&shared::testing::database_url())
        .await
        .expect("the database");
    let state = shared::testing::state(
        pool,
        shared::cache::Cache::memory(),
        shared::testing::settings(&[]),
    );
    let mut out = String::new();
    for _ in 0..n {
        let (_, token) = shared::testing::access_token(&state, shared::auth::Role::User).await;
        out.push_str(&token);
        out.push('\n');
    }
    print!("{out}");
}
