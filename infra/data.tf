# PostgreSQL 15 (Cloud SQL, private IP only), Redis 7 (Memorystore) and the files bucket.

resource "google_sql_database_instance" "main" {
  name                = "${var.prefix}-pg"
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = true

  settings {
    tier              = var.sql_tier
    availability_type = "REGIONAL"
    disk_autoresize   = true

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.main.id
      # TLS even on the private network; DATABASE_URL asks for it (sslmode=require).
      ssl_mode = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }

    database_flags {
      name  = "max_connections"
      value = "400"
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "main" {
  name     = "mindpause"
  instance = google_sql_database_instance.main.name
}

resource "random_password" "database" {
  length  = 32
  special = false
}

resource "google_sql_user" "app" {
  name     = "mindpause"
  instance = google_sql_database_instance.main.name
  password = random_password.database.result
}

resource "google_redis_instance" "main" {
  name               = "${var.prefix}-redis"
  tier               = "STANDARD_HA"
  redis_version      = "REDIS_7_0"
  memory_size_gb     = var.redis_memory_gb
  region             = var.region
  authorized_network = google_compute_network.main.id
  connect_mode       = "PRIVATE_SERVICE_ACCESS"
  auth_enabled       = true
  # TLS between functions and Redis (port 6378); the server's certificate is signed by the
  # instance's own CA, which services receive as REDIS_CA_CERT.
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  # Every key has a TTL; an evicted session gate falls back to the database, never to "valid".
  redis_configs = {
    maxmemory-policy = "volatile-lru"
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_storage_bucket" "files" {
  name                        = "${var.project}-${var.prefix}-files"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
  # No age rule deletes objects: each goes with its row (storage_garbage, the image worker).
}

resource "google_storage_bucket_iam_member" "files" {
  for_each = { for name, f in local.functions : name => f if contains(f.features, "storage") }
  bucket   = google_storage_bucket.files.name
  role     = "roles/storage.objectAdmin"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
}

# V4 signed URLs are signed by the function's own service account through IAM's signBlob
# (no key file exists): it may sign as itself, as nobody else.
resource "google_service_account_iam_member" "files_sign_as_self" {
  for_each           = { for name, f in local.functions : name => f if contains(f.features, "storage") }
  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_artifact_registry_repository" "images" {
  repository_id = var.prefix
  location      = var.region
  format        = "DOCKER"

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
}
