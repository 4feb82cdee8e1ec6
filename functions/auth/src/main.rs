#[tokio::main]
async fn main() {
    shared::runtime::run_service("auth", auth::routes).await;
}
