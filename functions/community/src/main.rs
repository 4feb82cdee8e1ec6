#[tokio::main]
async fn main() {
    shared::runtime::run_service("community", community::routes).await;
}
