//! A small signed client of the server, for Rust programs, tests and the load generator: one
//! HTTP/1.1 connection, every request signed with V3 or V1 as Alibaba's SDKs sign them.
//!
//! Like the SDKs 3.x, it sends `SecretData` in a form body and every other parameter in the
//! query string.

use std::fmt;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use ring::rand::{SecureRandom as _, SystemRandom};
use secret_model::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

use crate::signature::{hex, percent_encode, v1, v3};

/// The API version every request names.
pub const API_VERSION: &str = "2016-01-20";

/// The parameters sent in the form body rather than the query string.
const BODY_PARAMS: &[&str] = &["SecretData"];

/// An AccessKeyId and its secret. `Debug` hides the secret.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret: Zeroizing<String>,
}

impl Credentials {
    /// Credentials of an access key.
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret: Zeroizing::new(secret.into()),
        }
    }

    /// The AccessKeyId.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Which signature the client computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureVersion {
    /// `ACS3-HMAC-SHA256`, in the `Authorization` header.
    V3,
    /// `HMAC-SHA1`, in the `Signature` parameter.
    V1,
}

/// Overrides for one request, to test the server's replay and clock checks.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// The nonce to send instead of a fresh random one.
    pub nonce: Option<String>,
    /// The timestamp to send instead of the current time.
    pub time: Option<Timestamp>,
    /// Send a GET with every parameter in the query string, as the oldest SDKs do.
    pub get: bool,
    /// The API version to name instead of [`API_VERSION`]; `Some("")` names none (no
    /// `x-acs-version` header, no `Version` parameter).
    pub api_version: Option<String>,
}

/// A response: the HTTP status and the JSON body. `Debug` shows `[REDACTED]` for what may
/// hold a secret: `SecretData` and `RandomPassword` at any depth, and the `Message` of a
/// `SignatureDoesNotMatch`, which ends with the server's string to sign (every parameter of
/// the request, a `SecretData` among them).
#[derive(Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body (Alibaba's error body when the status is not 200).
    pub body: serde_json::Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut body = self.body.clone();
        redact(&mut body);
        if self.code() == Some("SignatureDoesNotMatch")
            && let Some(message) = body.get_mut("Message")
        {
            *message = serde_json::Value::String("[REDACTED]".to_owned());
        }
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body", &body)
            .finish()
    }
}

/// Replaces every `SecretData` and `RandomPassword` value in `value`, at any depth.
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key == "SecretData" || key == "RandomPassword" {
                    *field = serde_json::Value::String("[REDACTED]".to_owned());
                } else {
                    redact(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl Reply {
    /// The error `Code` of a failed call, `None` for a success.
    pub fn code(&self) -> Option<&str> {
        (self.status != 200)
            .then(|| self.body.get("Code").and_then(|c| c.as_str()))
            .flatten()
    }
}

/// Why a call got no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting failed, or the random generator did.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP exchange failed.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a parameter is not a valid header value).
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The reply was not JSON.
    #[error("the reply (HTTP {status}) is not JSON")]
    NotJson {
        /// The HTTP status.
        status: u16,
    },
}

/// One signed HTTP/1.1 connection to the server.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    credentials: Credentials,
    version: SignatureVersion,
    random: SystemRandom,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("credentials", &self.credentials)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over plain TCP to `addr`.
    pub async fn connect(
        addr: SocketAddr,
        credentials: Credentials,
        version: SignatureVersion,
    ) -> Result<Client, ClientError> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Client::handshake(stream, addr.to_string(), credentials, version).await
    }

    /// Speaks HTTP/1.1 over `io` (a TCP or TLS stream); `host` is the signed `host` header.
    pub async fn handshake<IO>(
        io: IO,
        host: String,
        credentials: Credentials,
        version: SignatureVersion,
    ) -> Result<Client, ClientError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended");
            }
        });
        Ok(Client {
            sender,
            host,
            credentials,
            version,
            random: SystemRandom::new(),
        })
    }

    /// Calls `action` with `params`, signed with a fresh nonce and the current time.
    pub async fn call(
        &mut self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Reply, ClientError> {
        self.call_with(action, params, &CallOptions::default())
            .await
    }

    /// Calls `action` with `params` and the given overrides.
    pub async fn call_with(
        &mut self,
        action: &str,
        params: &[(&str, &str)],
        options: &CallOptions,
    ) -> Result<Reply, ClientError> {
        let request = self.signed_request(action, params, options)?;
        self.send(request).await
    }

    /// The signed request [`Client::call_with`] would send, to send as is or to tamper with.
    pub fn signed_request(
        &self,
        action: &str,
        params: &[(&str, &str)],
        options: &CallOptions,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let nonce = match &options.nonce {
            Some(n) => n.clone(),
            None => {
                let mut bytes = [0u8; 16];
                self.random
                    .fill(&mut bytes)
                    .map_err(|_| std::io::Error::other("the system random generator failed"))?;
                hex(&bytes)
            }
        };
        let time = options.time.unwrap_or_else(now).to_string();
        let in_body = |k: &str| !options.get && BODY_PARAMS.contains(&k);
        let (body, mut query): (Pairs<'_>, Pairs<'_>) =
            params.iter().partition(|(k, _)| in_body(k));
        let body = encode_pairs(&body);
        let method = if options.get {
            Method::GET
        } else {
            Method::POST
        };
        let api_version = options.api_version.as_deref().unwrap_or(API_VERSION);
        let builder = Request::builder()
            .method(method.clone())
            .header("host", &self.host)
            .header("x-acs-action", action);
        let builder = if api_version.is_empty() {
            builder
        } else {
            builder.header("x-acs-version", api_version)
        };
        let builder = if body.is_empty() {
            builder
        } else {
            builder.header("content-type", "application/x-www-form-urlencoded")
        };
        let request = match self.version {
            SignatureVersion::V3 => {
                let body_hash = v3::hex_sha256(body.as_bytes());
                let mut signed: Vec<(&str, &str)> = vec![
                    ("host", &self.host),
                    ("x-acs-action", action),
                    ("x-acs-date", &time),
                    ("x-acs-signature-nonce", &nonce),
                    ("x-acs-content-sha256", &body_hash),
                ];
                if !api_version.is_empty() {
                    signed.push(("x-acs-version", api_version));
                }
                if !body.is_empty() {
                    signed.push(("content-type", "application/x-www-form-urlencoded"));
                }
                let (canonical, signed_headers) = v3::canonical_request(
                    method.as_str(),
                    &v3::canonical_query(query.iter().copied()),
                    signed.iter().copied(),
                    &body_hash,
                );
                let signature = v3::sign(&self.credentials.secret, &v3::string_to_sign(&canonical));
                builder
                    .uri(format!("/?{}", encode_pairs(&query)))
                    .header("x-acs-date", &time)
                    .header("x-acs-signature-nonce", &nonce)
                    .header("x-acs-content-sha256", &body_hash)
                    .header(
                        "authorization",
                        v3::authorization(
                            &self.credentials.access_key_id,
                            &signed_headers,
                            &signature,
                        ),
                    )
                    .body(Full::new(Bytes::from(body)))?
            }
            SignatureVersion::V1 => {
                query.extend([
                    ("AccessKeyId", self.credentials.access_key_id.as_str()),
                    ("Action", action),
                    ("Format", "JSON"),
                    ("SignatureMethod", v1::METHOD),
                    ("SignatureNonce", &nonce),
                    ("SignatureVersion", v1::VERSION),
                    ("Timestamp", &time),
                ]);
                if !api_version.is_empty() {
                    query.push(("Version", api_version));
                }
                let body_params = params.iter().filter(|(k, _)| in_body(k));
                let string_to_sign =
                    v1::string_to_sign(method.as_str(), query.iter().chain(body_params).copied());
                let signature = v1::sign(&self.credentials.secret, &string_to_sign);
                query.push(("Signature", &signature));
                builder
                    .uri(format!("/?{}", encode_pairs(&query)))
                    .body(Full::new(Bytes::from(body)))?
            }
        };
        Ok(request)
    }

    /// Sends a request on this connection and reads the JSON reply.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, ClientError> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body = serde_json::from_slice(&bytes).map_err(|_| ClientError::NotJson { status })?;
        Ok(Reply { status, body })
    }
}

type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// `k=v&…`, both percent-encoded.
fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}
