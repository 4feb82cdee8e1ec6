#[tokio::main]
async fn main() {
    shared::runtime::run_service("files", files::routes).await;
}
