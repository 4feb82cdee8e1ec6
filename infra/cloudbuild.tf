# One Cloud Build trigger per function, firing on changes to its crate or to what every
# function shares; each runs cloudbuild.yaml with _FUNCTION set.

resource "google_service_account" "cloudbuild" {
  account_id   = "${var.prefix}-cloudbuild"
  display_name = "MindPause Cloud Build deployer"
}

resource "google_project_iam_member" "cloudbuild" {
  for_each = toset([
    "roles/run.developer",
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
  ])
  project = var.project
  role    = each.key
  member  = "serviceAccount:${google_service_account.cloudbuild.email}"
}

# Deploying a revision that runs as a function's service account needs actAs on it.
resource "google_service_account_iam_member" "cloudbuild_act_as" {
  for_each           = local.functions
  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.cloudbuild.email}"
}

resource "google_cloudbuild_trigger" "function" {
  for_each        = local.functions
  name            = "${var.prefix}-${each.key}"
  location        = var.region
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.cloudbuild.id
  included_files = [
    "functions/${each.key}/**",
    "shared/**",
    "migrations/**",
    "Cargo.lock",
  ]

  github {
    owner = var.github_owner
    name  = var.github_repository
    push {
      branch = var.deploy_branch
    }
  }

  substitutions = {
    _FUNCTION   = each.key
    _REGION     = var.region
    _REPOSITORY = google_artifact_registry_repository.images.repository_id
    _PREFIX     = var.prefix
  }
}
