#[tokio::main]
async fn main() {
    shared::runtime::run_service("chat", chat::routes).await;
}
