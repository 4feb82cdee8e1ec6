//! The purge worker; `notification-purge --once [--older-than-days N]` purges once from
//! the command line (ops) and prints what it removed.

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--once") {
        std::process::exit(notification_purge::once(&args[1..]).await);
    }
    shared::runtime::run_worker("notification-purge", notification_purge::routes).await;
}
