//! Promoting and demoting admins by email, as ops do it: `admin promote EMAIL`, `admin
//! demote EMAIL` (with the service's `DATABASE_URL` and `REDIS_URL`). The tokens a person
//! holds under the old role are refused at once on every instance (the session gates).

use shared::auth::Role;
use shared::domain::accounts::{self, Email};
use shared::{ApiError, AppState};
use uuid::Uuid;

/// Gives the account of `email` the `role`; its id, or `None` when there is no such account.
pub async fn change(state: &AppState, email: &Email, role: Role) -> Result<Option<Uuid>, ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(user) = accounts::find_by_email(&mut tx, email).await? else {
        return Ok(None);
    };
    let revocation = accounts::set_role(&mut tx, user.id, role).await?;
    tx.commit().await?;
    revocation.announce(state).await;
    Ok(Some(user.id))
}

/// `promote|demote EMAIL` from a shell: prints the result as JSON; the exit status says how
/// it went (0 done, 1 failed, 2 no such account, 64 usage).
pub async fn command(command: &str, args: &[String]) -> i32 {
    let role = if command == "promote" {
        Role::Admin
    } else {
        Role::User
    };
    let email = match args {
        [email] => match Email::parse(email) {
            Ok(email) => email,
            Err(problem) => {
                eprintln!("{email}: {problem}");
                return 64;
            }
        },
        _ => {
            eprintln!("usage: admin promote|demote EMAIL");
            return 64;
        }
    };
    let settings = shared::config::Settings::from_env_or_exit(shared::functions::Kind::Service);
    shared::telemetry::init(&settings);
    let state = match shared::events::Events::from_settings(&settings)
        .and_then(|events| AppState::new(settings, events))
    {
        Ok(state) => state,
        Err(e) => {
            eprintln!("{e}");
            return 78;
        }
    };
    match change(&state, &email, role).await {
        Ok(Some(id)) => {
            let role = if role == Role::Admin { "admin" } else { "user" };
            println!(
                "{}",
                serde_json::json!({ "id": id, "email": email.as_str(), "role": role })
            );
            0
        }
        Ok(None) => {
            eprintln!("no account with that email");
            2
        }
        Err(e) => {
            eprintln!("failed: {}", shared::error::ErrorChain(&e));
            1
        }
    }
}
