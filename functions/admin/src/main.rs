//! The admin service; `admin promote EMAIL` and `admin demote EMAIL` change a person's role
//! from a shell (ops), with the service's database and Redis settings.

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(command) = args
        .first()
        .filter(|c| matches!(c.as_str(), "promote" | "demote"))
    {
        std::process::exit(admin::roles::command(command, &args[1..]).await);
    }
    shared::runtime::run_service("admin", admin::routes).await;
}
