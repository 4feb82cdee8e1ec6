# Secret Manager: generated secrets (token keys, the database URL) and provided ones (API keys).
# Each function's service account may read only the secrets its features need.

resource "random_password" "key" {
  for_each = toset(["JWT_REFRESH_SECRET_KEY", "CURSOR_SECRET_KEY"])
  length   = 64
  special  = false
}

# The refresh secret is the one made before access tokens moved to Ed25519: keeping it keeps
# everyone signed in across that deploy (their access tokens are refreshed once).
moved {
  from = random_password.jwt["JWT_REFRESH_SECRET_KEY"]
  to   = random_password.key["JWT_REFRESH_SECRET_KEY"]
}

# Access tokens are signed with Ed25519 by auth and users only; every service gets the public
# key (JWT_PUBLIC_KEYS). To rotate: add a second key, publish both public keys, sign with the
# new one, and drop the old one once its tokens have expired (an hour).
resource "tls_private_key" "jwt" {
  algorithm = "ED25519"
}

# Keys of the text sealed at rest (feature `sealing`): one random 256-bit key per id of
# `data_key_ids`, the first sealing. To rotate: put a new id first and apply (new text is sealed
# with it, old text still opens), run `migrate rekey` until it reports finished, then drop the
# old id and apply again (docs/privacy.md).
resource "random_bytes" "data_key" {
  for_each = toset([for id in var.data_key_ids : tostring(id)])
  length   = 32
}

# Each service and worker connects as its own database role (granted in migrations/); the
# migrate job connects as the schema's owner and lets those roles log in with these.
resource "random_password" "function_database" {
  for_each = local.runnables
  length   = 40
  special  = false
}

locals {
  database_at = "${google_sql_database_instance.main.private_ip_address}:5432/${google_sql_database.main.name}?sslmode=require"
  database_urls = merge(
    { for name, f in local.runnables : name => "postgres://mindpause_${replace(name, "-", "_")}:${random_password.function_database[name].result}@${local.database_at}" },
    { for name, f in local.jobs : name => "postgres://${google_sql_user.app.name}:${random_password.database.result}@${local.database_at}" },
  )

  secret_values = {
    JWT_PRIVATE_KEY             = tls_private_key.jwt.private_key_pem
    JWT_REFRESH_SECRET_KEY      = random_password.key["JWT_REFRESH_SECRET_KEY"].result
    CURSOR_SECRET_KEY           = random_password.key["CURSOR_SECRET_KEY"].result
    DATA_ENCRYPTION_KEYS        = join(",", [for id in var.data_key_ids : "${id}:${random_bytes.data_key[tostring(id)].base64}"])
    FUNCTION_DATABASE_PASSWORDS = jsonencode({ for name, f in local.runnables : name => random_password.function_database[name].result })
    REDIS_URL                   = "rediss://:${google_redis_instance.main.auth_string}@${google_redis_instance.main.host}:${google_redis_instance.main.port}"
    SENDGRID_API_KEY            = var.sendgrid_api_key
    OPENAI_API_KEY              = var.openai_api_key
    SENTRY_DSN                  = var.sentry_dsn
    GOOGLE_CLIENT_SECRET        = var.google_client_secret
    KAKAO_CLIENT_SECRET         = var.kakao_client_secret
  }
  # DATABASE_URL is one secret per function (below): each holds its own role's password.
  secret_names = setsubtract(toset(concat(local.common_secrets, flatten(values(local.kind_secrets)), flatten(values(local.feature_secrets)))), ["DATABASE_URL"])
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
      for secret in secrets : "${name}/${secret}" => { function = name, secret = secret } if secret != "DATABASE_URL"
    }
  ]...)
  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret" "database_url" {
  for_each  = local.functions
  secret_id = "${var.prefix}-database-url-${each.key}"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "database_url" {
  for_each    = local.functions
  secret      = google_secret_manager_secret.database_url[each.key].id
  secret_data = local.database_urls[each.key]
}

resource "google_secret_manager_secret_iam_member" "database_url" {
  for_each  = local.functions
  secret_id = google_secret_manager_secret.database_url[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}
