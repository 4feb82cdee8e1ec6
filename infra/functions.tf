# The function table drives everything here: functions.json at the repository root is the one
# declaration of which functions exist, their kind, route prefix or topic, and the features of
# `shared` they link (which decide the secrets and permissions they get).
locals {
  table     = jsondecode(file("${path.module}/../functions.json")).functions
  functions = { for f in local.table : f.name => f }
  services  = { for f in local.table : f.name => f if f.kind == "service" }
  workers   = { for f in local.table : f.name => f if f.kind == "worker" }
  jobs      = { for f in local.table : f.name => f if f.kind == "job" }
  # Services and workers both run as Cloud Run services.
  runnables = merge(local.services, local.workers)

  topics = toset(["email-send", "image-resize", "notification-purge"])

  # Seconds a request may run (Cloud Run) and a push may stay unacknowledged (Pub/Sub, at
  # most 600): the purge works through a backlog for up to 8 minutes (its BUDGET).
  request_timeout = { "notification-purge" = 540 }
  ack_deadline    = { "notification-purge" = 600 }

  image_base = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"

  # Each function is handed only what it needs (shared::config::required_in_production, by
  # kind and feature; a test checks both ways). Names are the ones shared::config reads.
  # Environment every function gets (non-secret).
  common_env = {
    APP_ENV    = "production"
    LOG_FORMAT = "json"
    LOG_LEVEL  = "info"
    # Logs name their trace as projects/<project>/traces/<id> (Cloud Logging links them).
    GOOGLE_CLOUD_PROJECT = var.project
    # Every instance of every function shares Cloud SQL's max_connections (400) and its few
    # cores; more connections than a few per core only add switching (docs/BENCHMARKS.md).
    # 3 per instance (one vCPU each): 10 instances of each of the 9 services the design has
    # (80 requests each at once) and 5 of each worker stay under 360, a tenth of the 400 left
    # for migrations and people (shared/tests/infra_drift.rs adds it up).
    DATABASE_POOL_SIZE    = "3"
    DATABASE_MAX_OVERFLOW = "0"
  }

  # Environment by kind of function.
  kind_env = {
    service = {
      CORS_ORIGINS = var.frontend_url
      FRONTEND_URL = var.frontend_url
      # The base of the signed links to files (a profile picture's link is made wherever a
      # user is shown).
      FILES_URL = "https://${var.domain}${local.services["files"].route}"
      # Google's external Application LB appends "<client>,<forwarding rule address>" to
      # X-Forwarded-For: the client is the second entry from the right (docs/decisions.md).
      TRUSTED_PROXY_HOPS = "2"
      # Verify access tokens (public data, not a secret).
      JWT_PUBLIC_KEYS = tls_private_key.jwt.public_key_pem
      # Memorystore's CA (public data, not a secret); all of them during a CA rotation.
      REDIS_CA_CERT = join("", google_redis_instance.main.server_ca_certs[*].cert)
    }
    worker = {
      PUSH_AUTH_VERIFY           = "true"
      PUSH_SERVICE_ACCOUNT_EMAIL = google_service_account.push.email
      PUBSUB_TOPIC_EMAIL_SEND    = "email-send"
      PUBSUB_TOPIC_IMAGE_RESIZE  = "image-resize"
    }
    job = {}
  }

  # Environment by feature of `shared`.
  feature_env = {
    pubsub = {
      PUBSUB_PROJECT_ID         = var.project
      PUBSUB_TOPIC_EMAIL_SEND   = "email-send"
      PUBSUB_TOPIC_IMAGE_RESIZE = "image-resize"
    }
    storage = {
      STORAGE_BUCKET = google_storage_bucket.files.name
    }
    mail = {
      MAIL_PROVIDER       = "sendgrid"
      SENDGRID_FROM_EMAIL = "noreply@${var.domain}"
      # Reset links are made by the email worker.
      FRONTEND_URL = var.frontend_url
    }
    ai = {
      OPENAI_MODEL      = "gpt-4o-mini"
      OPENAI_MAX_TOKENS = "500"
    }
    # Sign-in with Google and Kakao: providers send people back to the auth function.
    oidc = {
      GOOGLE_CLIENT_ID    = var.google_client_id
      KAKAO_CLIENT_ID     = var.kakao_client_id
      OAUTH_REDIRECT_BASE = "https://${var.domain}${local.services["auth"].route}"
    }
  }

  # Secrets every function gets, by kind and by feature. Each function's service account
  # can read exactly these (least privilege): only services use Redis and cursors, only the
  # functions that make tokens (feature `signing`: auth, users) hold the signing keys.
  common_secrets = ["DATABASE_URL"]
  kind_secrets = {
    service = ["REDIS_URL", "CURSOR_SECRET_KEY"]
    worker  = []
    job     = ["FUNCTION_DATABASE_PASSWORDS"]
  }
  feature_secrets = {
    signing = ["JWT_PRIVATE_KEY", "JWT_REFRESH_SECRET_KEY"]
    mail    = ["SENDGRID_API_KEY"]
    ai      = ["OPENAI_API_KEY"]
    oidc    = ["GOOGLE_CLIENT_SECRET", "KAKAO_CLIENT_SECRET"]
    sealing = ["DATA_ENCRYPTION_KEYS"]
    sentry  = ["SENTRY_DSN"]
  }

  function_env = {
    for name, f in local.functions : name => merge(
      local.common_env,
      lookup(local.kind_env, f.kind, {}),
      merge([for feature in f.features : lookup(local.feature_env, feature, {})]...),
      f.kind == "worker" ? {
        PUSH_AUDIENCE = "https://${var.prefix}-${name}-push"
      } : {},
    )
  }
  function_secrets = {
    for name, f in local.functions : name => toset(concat(
      local.common_secrets,
      lookup(local.kind_secrets, f.kind, []),
      flatten([for feature in f.features : lookup(local.feature_secrets, feature, [])]),
    ))
  }
}

resource "google_service_account" "function" {
  for_each     = local.functions
  account_id   = substr("${var.prefix}-fn-${each.key}", 0, 30)
  display_name = "MindPause function ${each.key}"
}
