#[tokio::main]
async fn main() {
    shared::runtime::run_service("notifications", notifications::routes).await;
}
