//! The base of every function's OpenAPI 3.1 document: info and the bearer scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

pub fn base(name: &str) -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("MindPause API — {name}"))
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "마음쉼표 backend. Every JSON response uses the envelope \
                     `{success, data, message, timestamp}` or `{success: false, error: {code, message, details}, timestamp}`.",
                ))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}
