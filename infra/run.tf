# Cloud Run: one service per service and worker of the function table, one job per job.
# Cloud Build deploys new images; Terraform owns everything else (hence ignore_changes).

resource "google_cloud_run_v2_service" "function" {
  for_each = local.runnables
  name     = "${var.prefix}-${each.key}"
  location = var.region
  # APIs are reachable only through the load balancer; workers only from Pub/Sub (internal).
  ingress             = each.value.kind == "service" ? "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  # Cloud Run's IAM check accepts a push's OIDC token only for the run.app URL or one of
  # these: a worker accepts the audience its subscription signs for (and verifies it itself).
  custom_audiences = each.value.kind == "worker" ? [local.function_env[each.key].PUSH_AUDIENCE] : []

  template {
    service_account                  = google_service_account.function[each.key].email
    max_instance_request_concurrency = each.value.kind == "service" ? 80 : 10
    timeout                          = "${lookup(local.request_timeout, each.key, 60)}s"

    scaling {
      min_instance_count = each.value.kind == "service" ? 1 : 0
      max_instance_count = each.value.kind == "service" ? 10 : 5
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = google_compute_network.main.id
        subnetwork = google_compute_subnetwork.run.id
      }
    }

    containers {
      image = var.bootstrap_image

      resources {
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
        # A function that publishes events does so after answering (docs/decisions.md): it
        # keeps its CPU between requests so those publishes finish at once.
        cpu_idle          = !contains(each.value.features, "pubsub")
        startup_cpu_boost = true
      }

      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 1
        failure_threshold = 10
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds = 30
      }

      dynamic "env" {
        for_each = local.function_env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.function_secrets[each.key]
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = env.value == "DATABASE_URL" ? google_secret_manager_secret.database_url[each.key].secret_id : google_secret_manager_secret.secret[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.function, google_secret_manager_secret_iam_member.database_url]
}

# The load balancer calls the API services without credentials; ingress allows only it.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = local.services
  name     = google_cloud_run_v2_service.function[each.key].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Workers are invoked only by the push service account.
resource "google_cloud_run_v2_service_iam_member" "push" {
  for_each = local.workers
  name     = google_cloud_run_v2_service.function[each.key].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

resource "google_cloud_run_v2_job" "function" {
  for_each            = local.jobs
  name                = "${var.prefix}-${each.key}"
  location            = var.region
  deletion_protection = false

  template {
    task_count = 1
    template {
      service_account = google_service_account.function[each.key].email
      max_retries     = 1
      timeout         = "600s"

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = google_compute_network.main.id
          subnetwork = google_compute_subnetwork.run.id
        }
      }

      containers {
        image = var.bootstrap_image

        dynamic "env" {
          for_each = local.function_env[each.key]
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.function_secrets[each.key]
          content {
            name = env.value
            value_source {
              secret_key_ref {
                secret  = env.value == "DATABASE_URL" ? google_secret_manager_secret.database_url[each.key].secret_id : google_secret_manager_secret.secret[env.value].secret_id
                version = "latest"
              }
            }
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.function, google_secret_manager_secret_iam_member.database_url]
}
