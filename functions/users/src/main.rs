#[tokio::main]
async fn main() {
    shared::runtime::run_service("users", users::routes).await;
}
