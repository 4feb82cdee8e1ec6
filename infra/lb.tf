# One global external HTTPS load balancer in front of the API services: a serverless NEG
# per service, and a URL map routing /api/v1/<name>/* to it. HTTP redirects to HTTPS.
# Cloud Armor throttles abusive clients and filters common attacks before Cloud Run.

resource "google_compute_global_address" "api" {
  name = "${var.prefix}-api"
}

resource "google_compute_managed_ssl_certificate" "api" {
  name = "${var.prefix}-api"
  managed {
    domains = [var.domain]
  }
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each              = local.services
  name                  = "${var.prefix}-${each.key}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    service = google_cloud_run_v2_service.function[each.key].name
  }
}

resource "google_compute_backend_service" "function" {
  for_each              = local.services
  name                  = "${var.prefix}-${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.api.id

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 0.1
  }
}

locals {
  # Any unmatched path goes to one of the services, which answers 404 in the envelope.
  default_service = sort(keys(local.services))[0]
}

resource "google_compute_url_map" "api" {
  name            = "${var.prefix}-api"
  default_service = google_compute_backend_service.function[local.default_service].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "functions"
  }

  path_matcher {
    name            = "functions"
    default_service = google_compute_backend_service.function[local.default_service].id

    dynamic "path_rule" {
      for_each = local.services
      content {
        paths   = [path_rule.value.route, "${path_rule.value.route}/*"]
        service = google_compute_backend_service.function[path_rule.key].id
      }
    }
  }
}

resource "google_compute_target_https_proxy" "api" {
  name             = "${var.prefix}-api"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "${var.prefix}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api.id
  port_range            = "443"
  target                = google_compute_target_https_proxy.api.id
}

resource "google_compute_url_map" "redirect" {
  name = "${var.prefix}-http-redirect"
  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  name    = "${var.prefix}-http-redirect"
  url_map = google_compute_url_map.redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "${var.prefix}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.api.id
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect.id
}

resource "google_compute_security_policy" "api" {
  name = "${var.prefix}-api"
  type = "CLOUD_ARMOR"

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Per-IP request rate"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.armor_requests_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 2000
    description = "Common injection attacks"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('sqli-v33-stable', {'sensitivity': 1}) || evaluatePreconfiguredWaf('xss-v33-stable', {'sensitivity': 1})"
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 3000
    description = "Browsers from other origins (the API is for the app's origin only)"
    match {
      expr {
        expression = "has(request.headers['origin']) && request.headers['origin'] != '${var.frontend_url}'"
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
