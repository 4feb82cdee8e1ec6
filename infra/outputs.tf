output "api_ip" {
  description = "Point the API domain's A record here."
  value       = google_compute_global_address.api.address
}

output "services" {
  description = "Cloud Run URL of every service and worker."
  value       = { for name, s in google_cloud_run_v2_service.function : name => s.uri }
}

output "routes" {
  description = "Load balancer path prefix of every API service."
  value       = { for name, f in local.services : name => f.route }
}
