//! The ledger's signed checkpoints and proofs over HTTP (docs/LEDGER.md).
//! The tree, the signing and the proofs are [`crate::desk::checkpoint`]'s;
//! these handlers only translate.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::AppState;
use crate::desk::checkpoint::{ConsistencyProof, InclusionProof, LedgerTree, ProofRequestError};

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn proof_error(error: ProofRequestError) -> ApiError {
    match error {
        ProofRequestError::Beyond { .. } => ApiError::new(StatusCode::NOT_FOUND, "beyond_ledger", error.to_string()),
        ProofRequestError::Invalid(message) => ApiError::bad_request(message),
        ProofRequestError::Ledger(e) => ApiError::internal(e),
    }
}

async fn tree(state: &AppState) -> Result<LedgerTree, ApiError> {
    state
        .checkpoints
        .tree(&state.desk.ledger)
        .await
        .map_err(ApiError::internal)
}

/// The latest checkpoint as a signed note.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let signed = state
        .checkpoints
        .latest(&state.desk.ledger)
        .await
        .map_err(ApiError::internal)?;
    Ok(text(signed.note))
}

/// The verifier key checkpoints are signed under.
pub async fn key(State(state): State<AppState>) -> Response {
    text(format!("{}\n", state.checkpoints.verifier()))
}

#[derive(Deserialize)]
pub struct InclusionQuery {
    seq: u64,
    /// Default: the ledger's size now.
    size: Option<u64>,
}

pub async fn inclusion(
    State(state): State<AppState>,
    Query(query): Query<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let tree = tree(&state).await?;
    let size = query.size.unwrap_or(tree.size());
    Ok(Json(tree.inclusion(query.seq, size).map_err(proof_error)?))
}

#[derive(Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    /// Default: the ledger's size now.
    to: Option<u64>,
}

pub async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let tree = tree(&state).await?;
    let to = query.to.unwrap_or(tree.size());
    Ok(Json(tree.consistency(query.from, to).map_err(proof_error)?))
}
