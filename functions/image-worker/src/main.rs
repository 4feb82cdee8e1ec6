#[tokio::main]
async fn main() {
    shared::runtime::run_worker("image-worker", image_worker::routes).await;
}
