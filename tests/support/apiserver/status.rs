//! Errors as the API server reports them: a `Status` object with the HTTP code, a machine
//! reason (`NotFound`, `Conflict`, …) and a message in the server's wording.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resources::Resource;

/// A failed request, answered as a `Status`.
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status: which object the error is about.
    pub details: Option<Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason_for(code),
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// The object `name` of `resource` does not exist.
    pub fn not_found(resource: &Resource, name: &str) -> Self {
        Self::about(
            404,
            "NotFound",
            resource,
            name,
            format!("{} \"{name}\" not found", resource.qualified_name()),
        )
    }

    pub fn already_exists(resource: &Resource, name: &str) -> Self {
        Self::about(
            409,
            "AlreadyExists",
            resource,
            name,
            format!("{} \"{name}\" already exists", resource.qualified_name()),
        )
    }

    /// A write whose `resourceVersion` precondition no longer holds: what leader election and
    /// every read-modify-write loop retry on.
    pub fn conflict(resource: &Resource, name: &str) -> Self {
        Self::about(
            409,
            "Conflict",
            resource,
            name,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                resource.qualified_name()
            ),
        )
    }

    fn about(
        code: u16,
        reason: &'static str,
        resource: &Resource,
        name: &str,
        message: String,
    ) -> Self {
        ApiError {
            reason,
            details: Some(json!({"name": name, "group": resource.group, "kind": resource.plural})),
            ..Self::new(code, message)
        }
    }

    /// The `Status` object itself (also the `object` of a watch `ERROR` event).
    pub fn status_object(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self.status_object())).into_response()
    }
}

/// A `Status` response, the body the API server sends with every error.
pub fn status_response(code: StatusCode, reason: &'static str, message: &str) -> Response {
    ApiError {
        reason,
        ..ApiError::new(code.as_u16(), message)
    }
    .into_response()
}

/// The `reason` the real server gives with each HTTP code.
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}
