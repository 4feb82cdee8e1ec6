#[tokio::main]
async fn main() {
    shared::runtime::run_service("emotions", emotions::routes).await;
}
