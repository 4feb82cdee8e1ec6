#[tokio::main]
async fn main() {
    shared::runtime::run_service("challenges", challenges::routes).await;
}
