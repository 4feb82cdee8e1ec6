//! The one-shot job Cloud Build runs before deploying a service that needs a newer schema:
//! applies `migrations/` to `DATABASE_URL` (as the schema's owner), lets each function's
//! database role log in with its password (`FUNCTION_DATABASE_PASSWORDS`), and exits.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let settings = shared::config::Settings::from_env_or_exit(shared::functions::Kind::Job);
    shared::telemetry::init(&settings);
    let pool = shared::db::pool(&settings.database).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(78)
    });
    match shared::db::MIGRATOR.run(&pool).await {
        Ok(()) => tracing::info!("migrations applied"),
        Err(e) => {
            tracing::error!(error = %shared::error::ErrorChain(&e), "migration failed");
            std::process::exit(1);
        }
    }
    if let Some(passwords) = &settings.function_database_passwords {
        match shared::db::enable_function_logins(&pool, passwords.expose()).await {
            Ok(roles) => tracing::info!(?roles, "function roles may log in"),
            Err(why) => {
                tracing::error!(%why, "could not enable the function roles");
                std::process::exit(1);
            }
        }
    }
}
