//! The one-shot job Cloud Build runs before deploying a service that needs a newer schema:
//! applies `migrations/` to `DATABASE_URL` (as the schema's owner), lets each function's
//! database role log in with its password (`FUNCTION_DATABASE_PASSWORDS`), and exits.
//!
//! `migrate rekey [--batch N] [--budget-seconds S]` instead moves sealed text to the newest
//! key of `DATA_ENCRYPTION_KEYS` (after a rotation; docs/privacy.md) and prints what it
//! did as JSON; it stops after S seconds (default 540, within the job's 10 minutes) and resumes when run again.

use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let settings = shared::config::Settings::from_env_or_exit(shared::functions::Kind::Job);
    shared::telemetry::init(&settings);
    let pool = shared::db::pool(&settings.database).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(78)
    });
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => apply(&settings, &pool).await,
        Some("rekey") => rekey(&settings, &pool, &args[1..]).await,
        Some(other) => {
            eprintln!("unknown command {other:?}: run without arguments, or `rekey`");
            std::process::exit(64) // EX_USAGE
        }
    }
}

async fn apply(settings: &shared::config::Settings, pool: &sqlx::PgPool) {
    match shared::db::MIGRATOR.run(pool).await {
        Ok(()) => tracing::info!("migrations applied"),
        Err(e) => {
            tracing::error!(error = %shared::error::ErrorChain(&e), "migration failed");
            std::process::exit(1);
        }
    }
    if let Some(passwords) = &settings.function_database_passwords {
        match shared::db::enable_function_logins(pool, passwords.expose()).await {
            Ok(roles) => tracing::info!(?roles, "function roles may log in"),
            Err(why) => {
                tracing::error!(%why, "could not enable the function roles");
                std::process::exit(1);
            }
        }
    }
}

async fn rekey(settings: &shared::config::Settings, pool: &sqlx::PgPool, args: &[String]) {
    let usage = || -> ! {
        eprintln!("usage: migrate rekey [--batch 1..=10000] [--budget-seconds N]");
        std::process::exit(64)
    };
    let (mut batch, mut budget) = (500u32, 540u64);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--batch" => {
                batch = value
                    .parse()
                    .ok()
                    .filter(|b| (1..=10_000).contains(b))
                    .unwrap_or_else(|| usage())
            }
            "--budget-seconds" => {
                budget = value
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let keys = shared::sealing::Keyring::from_settings(settings).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(78)
    });
    match migrate::rekey::run(pool, &keys, batch, Duration::from_secs(budget)).await {
        Ok(run) => println!(
            "{}",
            serde_json::to_string(&run).expect("a report serializes")
        ),
        Err(e) => {
            tracing::error!(error = %shared::error::ErrorChain(&e), "rekey failed");
            std::process::exit(1);
        }
    }
}
