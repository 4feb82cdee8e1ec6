#[tokio::main]
async fn main() {
    shared::runtime::run_worker("email-worker", email_worker::routes).await;
}
