variable "project" {
  description = "GCP project id."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud SQL, Memorystore and the bucket."
  type        = string
  default     = "asia-northeast3"
}

variable "domain" {
  description = "The API's domain (a managed certificate is issued for it), e.g. api.mindpause.kr."
  type        = string
}

variable "frontend_url" {
  description = "The web app's origin: CORS and the links in emails."
  type        = string
}

variable "prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "mindpause"
}

variable "github_owner" {
  description = "Owner of the GitHub repository Cloud Build watches."
  type        = string
}

variable "github_repository" {
  description = "Name of the GitHub repository Cloud Build watches."
  type        = string
}

variable "deploy_branch" {
  description = "Branch whose pushes deploy."
  type        = string
  default     = "^main$"
}

variable "bootstrap_image" {
  description = "Image used until Cloud Build has pushed the first real one (Cloud Build owns images afterwards)."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "sendgrid_api_key" {
  description = "SendGrid API key (stored in Secret Manager)."
  type        = string
  sensitive   = true
}

variable "openai_api_key" {
  description = "OpenAI API key (stored in Secret Manager)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "sentry_dsn" {
  description = "Sentry DSN (stored in Secret Manager); empty disables reporting."
  type        = string
  sensitive   = true
  default     = ""
}

variable "google_client_id" {
  description = "OAuth client id of sign-in with Google (a Web application client)."
  type        = string
}

variable "google_client_secret" {
  description = "OAuth client secret of sign-in with Google (stored in Secret Manager)."
  type        = string
  sensitive   = true
}

variable "kakao_client_id" {
  description = "REST API key of the Kakao Login app."
  type        = string
}

variable "kakao_client_secret" {
  description = "Client secret of the Kakao Login app (stored in Secret Manager)."
  type        = string
  sensitive   = true
}

variable "data_key_ids" {
  description = "Ids of the keys of text sealed at rest, the sealing key first (add one in front to rotate)."
  type        = list(number)
  default     = [1]
  validation {
    condition     = length(var.data_key_ids) > 0 && alltrue([for id in var.data_key_ids : id >= 1 && id <= 65535 && floor(id) == id])
    error_message = "At least one key id, each a whole number from 1 to 65535 (0 is the development key)."
  }
}

variable "sql_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-1-3840"
}

variable "redis_memory_gb" {
  description = "Memorystore capacity."
  type        = number
  default     = 1
}

variable "armor_requests_per_minute" {
  description = "Cloud Armor: requests per minute per client IP before throttling (429)."
  type        = number
  default     = 600
}
