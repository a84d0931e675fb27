//! The one place errors become HTTP responses: a stable code and a clear
//! message for the client; internal detail only in the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::desk::TaskError;
use crate::draw::DrawError;
use crate::ledger::LedgerError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "operator endpoints need a valid bearer token",
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// An internal failure: the client learns only that it happened.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }
}

impl ApiError {
    /// Content of record damaged in the database (a hand-edited or lost
    /// chunk): nothing the client can fix and nothing a retry mends, so it
    /// is named — by hash only — for the operator to restore it, under a
    /// code of its own; the full error goes to the log.
    fn store_damaged(damage: String, error: &TaskError) -> Self {
        tracing::error!(%error, "stored content of record is damaged");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_corrupt",
            format!("{damage}; restore it from a backup of the database"),
        )
    }

    /// The status and the JSON body the client is sent: what a job keeps
    /// as its outcome ([`super::jobs`]).
    pub fn into_parts(self) -> (StatusCode, String) {
        let body = Body {
            error: self.code,
            message: &self.message,
        };
        (
            self.status,
            serde_json::to_string(&body).expect("error bodies serialise"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(Body {
                error: self.code,
                message: &self.message,
            }),
        )
            .into_response()
    }
}

impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        use TaskError as E;
        match &error {
            E::UnknownTask(_) => Self::new(StatusCode::NOT_FOUND, "unknown_task", error.to_string()),
            E::Invalid(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", error.to_string()),
            E::Conflict(_) | E::Skipped(_) | E::Raced(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            E::SubstitutionRefused(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "substitution_refused",
                error.to_string(),
            ),
            E::WrongSeedMaterial(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_seed_material",
                error.to_string(),
            ),
            E::Plan(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plan", error.to_string()),
            // A plan that cannot draw anything on these pools: the plan is
            // wrong, not the draw.
            E::Draw(DrawError::UnmatchedFilter { .. } | DrawError::NoVisits(_)) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_plan", error.to_string())
            }
            E::Draw(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "draw_infeasible", error.to_string()),
            E::Pools(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_pools", error.to_string()),
            E::Store(stored) | E::Ledger(LedgerError::Store(stored)) => match stored.damage() {
                Some(damage) => Self::store_damaged(damage, &error),
                None => Self::internal(error),
            },
            E::Ledger(_) | E::Bundle(_) | E::Io { .. } => Self::internal(error),
        }
    }
}
