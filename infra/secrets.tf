# Secret Manager: generated secrets (token keys, the database URL) and provided ones (API keys).
# Each function's service account may read only the secrets its features need.

resource "random_password" "key" {
  for_each = toset(["JWT_REFRESH_SECRET_KEY", "CURSOR_SECRET_KEY"])
  length   = 64
  special  = false
}

# Access tokens are signed with Ed25519 by auth and users only; every service gets the public
# key (JWT_PUBLIC_KEYS). To rotate: add a second key, publish both public keys, sign with the
# new one, and drop the old one once its tokens have expired (an hour).
resource "tls_private_key" "jwt" {
  algorithm = "ED25519"
}

locals {
  secret_values = {
    JWT_PRIVATE_KEY        = tls_private_key.jwt.private_key_pem
    JWT_REFRESH_SECRET_KEY = random_password.key["JWT_REFRESH_SECRET_KEY"].result
    CURSOR_SECRET_KEY      = random_password.key["CURSOR_SECRET_KEY"].result
    DATABASE_URL           = "postgres://${google_sql_user.app.name}:${random_password.database.result}@${google_sql_database_instance.main.private_ip_address}:5432/${google_sql_database.main.name}?sslmode=require"
    REDIS_URL              = "rediss://:${google_redis_instance.main.auth_string}@${google_redis_instance.main.host}:${google_redis_instance.main.port}"
    SENDGRID_API_KEY       = var.sendgrid_api_key
    OPENAI_API_KEY         = var.openai_api_key
    SENTRY_DSN             = var.sentry_dsn
  }
  secret_names = toset(concat(local.common_secrets, flatten(values(local.kind_secrets)), flatten(values(local.feature_secrets))))
}

resource "google_secret_manager_secret" "secret" {
  for_each  = local.secret_names
  secret_id = "${var.prefix}-${lower(replace(each.key, "_", "-"))}"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "secret" {
  for_each    = local.secret_names
  secret      = google_secret_manager_secret.secret[each.key].id
  secret_data = local.secret_values[each.key]
}

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = merge([
    for name, secrets in local.function_secrets : {
      for secret in secrets : "${name}/${secret}" => { function = name, secret = secret }
    }
  ]...)
  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
