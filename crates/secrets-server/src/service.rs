//! One HTTP request: framing, authentication, the operation on a blocking thread, the JSON
//! response, and one log line.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use secrets_manager::{Principal, SecretsManager};

use crate::auth::{Authenticator, SignedParts};
use crate::body::{self, BodyBudget, BodyError};
use crate::error::Rejection;
use crate::form;
use crate::offload::DropOutsideRuntime;
use crate::pools::Pools;
use crate::shared_nonces::SharedNonces;

/// The `Content-Type` of every response.
const JSON: &str = "application/json;charset=utf-8";

/// What every request handler shares.
pub(crate) struct State {
    pub(crate) auth: Authenticator,
    /// Dropped outside the runtime, wherever the state's last reference goes.
    pub(crate) store: DropOutsideRuntime<SecretsManager>,
    pub(crate) body_limit: usize,
    pub(crate) body_budget: BodyBudget,
    pub(crate) body_timeout: Duration,
    pub(crate) host_id: String,
    pub(crate) pools: Pools,
    pub(crate) shared_nonces: Option<DropOutsideRuntime<Arc<dyn SharedNonces>>>,
}

/// What the log line says about a request, filled in as it is learned.
#[derive(Default)]
struct Context {
    action: String,
    access_key_id: String,
}

/// A successful operation's JSON body.
struct Success {
    body: Vec<u8>,
}

/// Answers one request. Never fails: every problem becomes an Alibaba JSON error.
pub(crate) async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let mut cx = Context::default();
    // One id for the request, whatever answers it: the response, the request log and the
    // store's audit event all name it.
    let request_id = secrets_wire::new_request_id();
    let (status, body, code) = match process(&state, req, &request_id, &mut cx).await {
        Ok(ok) => (StatusCode::OK, ok.body, ""),
        Err(rejection) => {
            let body = secrets_wire::error_json(
                rejection.code,
                &rejection.message,
                &request_id,
                &state.host_id,
            );
            let status =
                StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, body.to_string().into_bytes(), rejection.code)
        }
    };
    tracing::info!(
        target: "secrets_server::request",
        request_id = %request_id,
        action = %cx.action,
        access_key_id = %cx.access_key_id,
        status = status.as_u16(),
        code,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-acs-request-id", id);
    }
    Ok(response)
}

async fn process(
    state: &State,
    req: Request<Incoming>,
    request_id: &str,
    cx: &mut Context,
) -> Result<Success, Rejection> {
    let (parts, incoming) = req.into_parts();
    if parts.uri.path() != "/" || !(parts.method == Method::GET || parts.method == Method::POST) {
        return Err(Rejection::no_such_api(
            parts.method.as_str(),
            parts.uri.path(),
        ));
    }
    // Named for the log before authentication, so a refused request still says what it
    // tried; shortened and escaped, since it is the caller's text.
    cx.action = log_text(
        parts
            .headers
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    );

    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = body::read(incoming, declared, state.body_limit, &state.body_budget);
    let body = match tokio::time::timeout(state.body_timeout, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(BodyError::TooLarge)) => return Err(Rejection::too_large(state.body_limit)),
        Ok(Err(BodyError::OverBudget)) => return Err(Rejection::bodies_over_budget()),
        Ok(Err(BodyError::Read(e))) => {
            tracing::debug!(error = %e, "reading a request body failed");
            return Err(Rejection::invalid("body", "it could not be read"));
        }
        Err(_) => return Err(Rejection::body_timeout()),
    };
    // Held (with the body's share of the budget) until the request ends.
    let body = &body.bytes;

    let query = form::decode(parts.uri.query().unwrap_or_default().as_bytes())?;
    let form_body = if body.is_empty() {
        Vec::new()
    } else if is_form(parts.headers.get(CONTENT_TYPE)) {
        form::decode(body)?
    } else {
        return Err(Rejection::invalid(
            "Content-Type",
            "a body must be application/x-www-form-urlencoded",
        ));
    };
    let params = form::merge(&query, form_body)?;
    if cx.action.is_empty() {
        cx.action = log_text(params.get("Action").unwrap_or_default());
    }

    let who = state.auth.authenticate(&SignedParts {
        method: parts.method.as_str(),
        headers: &parts.headers,
        query: &query,
        body,
        params: &params,
    })?;
    cx.action = log_text(&who.action);
    cx.access_key_id = log_text(&who.access_key_id);

    let shared = state.shared_nonces.as_deref().cloned();
    // Kept to forget the nonce if the shared guard cannot record it.
    let access_key_id = shared.as_ref().map(|_| who.access_key_id.clone());
    let store = state
        .store
        .for_principal(Principal::new(who.access_key_id))
        .with_request_id(request_id);
    let action = who.action;
    let nonce = who.nonce;
    let outcome = state
        .pools
        .run(crate::pools::is_read(&action), move || {
            // On this blocking thread, as the shared guard may wait on a database.
            if let Some(shared) = shared {
                let (key, id, window) = (nonce.key, nonce.id, nonce.window);
                match shared.record(key, id, nonce.seen_at, window, nonce.now) {
                    Ok(true) => {}
                    Ok(false) => return Err(Rejection::nonce_used()),
                    Err(e) => {
                        tracing::error!(error = %e, "the shared replay guard failed");
                        // Nothing ran: refused below, and the nonce forgotten.
                        return Ok(None);
                    }
                }
            }
            let value = secrets_wire::call(&store, &action, &params)?;
            Ok::<_, Rejection>(Some(Success {
                body: value.to_string().into_bytes(),
            }))
        })
        .await;
    match outcome {
        Ok(Ok(Some(success))) => Ok(success),
        Ok(Ok(None)) => {
            if let Some(access_key_id) = access_key_id {
                state.auth.forget_nonce(&access_key_id, &nonce);
            }
            Err(Rejection::nonce_log_failed())
        }
        Ok(Err(rejection)) => Err(rejection),
        Err(e) => {
            tracing::error!(error = %e, "an operation panicked or was cancelled");
            Err(Rejection::internal())
        }
    }
}

/// Whether a body of this `Content-Type` carries form parameters (also when it is absent).
fn is_form(content_type: Option<&HeaderValue>) -> bool {
    content_type.is_none_or(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
    })
}

/// Caller-given text for the log: at most 64 characters, control characters escaped.
fn log_text(s: &str) -> String {
    s.chars().take(64).flat_map(char::escape_default).collect()
}
