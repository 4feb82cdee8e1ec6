# Topics, push subscriptions to the workers (OIDC-authenticated, retried with backoff, then
# dead-lettered), and the daily purge schedule.

resource "google_pubsub_topic" "topic" {
  for_each = local.topics
  name     = each.key
}

resource "google_pubsub_topic" "dead_letter" {
  name = "${var.prefix}-dead-letter"
}

resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${var.prefix}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
}

# The identity Pub/Sub signs push requests as.
resource "google_service_account" "push" {
  account_id   = "${var.prefix}-pubsub-push"
  display_name = "MindPause Pub/Sub push"
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# Pub/Sub mints the push OIDC tokens for that identity.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_subscription" "worker" {
  for_each                   = local.workers
  name                       = "${var.prefix}-${each.key}"
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds       = lookup(local.ack_deadline, each.key, 60)
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.function[each.key].uri}/push/${each.value.topic}"
    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.function_env[each.key].PUSH_AUDIENCE
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }
}

# Dead-lettering needs the Pub/Sub service agent to publish there and to ack the source.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = local.workers
  subscription = google_pubsub_subscription.worker[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Functions that publish (the `pubsub` feature) may publish to the topics, nothing more.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = merge([
    for name, f in local.functions : {
      for topic in local.topics : "${name}/${topic}" => { function = name, topic = topic }
    } if contains(f.features, "pubsub")
  ]...)
  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

# Once a day, ask the purge worker to delete notifications older than 30 days.
resource "google_cloud_scheduler_job" "notification_purge" {
  name      = "${var.prefix}-notification-purge"
  region    = var.region
  schedule  = "0 4 * * *"
  time_zone = "Asia/Seoul"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["notification-purge"].id
    data       = base64encode(jsonencode({ version = 1, older_than_days = 30 }))
  }
}
