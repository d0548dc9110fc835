//! One authenticated HTTP session with a registry repository (distribution API v2), written
//! with reqwest because oci-client 0.15 cannot stream a blob from a file: its `push_blob`
//! takes the whole blob as a `Vec<u8>`, and it has no way to resume an upload from the
//! offset the registry reports. This module does the chunked upload protocol (POST, PATCH
//! with `Content-Range`, PUT `?digest=`), the upload-status query used to resume, retries
//! with exponential backoff on 5xx and transport errors, token challenges (Basic and
//! Bearer, re-authenticating when a token expires mid-upload) and streaming blob downloads.
//! Manifests go through oci-client (see `transfer.rs`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};
use tokio::io::AsyncReadExt;

use super::Error;
use super::auth::{Credentials, ResolvedAuth};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per request (and failures tolerated per upload) before giving up.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub first_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 8,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl Retry {
    pub(crate) fn delay(&self, failure: u32) -> Duration {
        let d = self
            .first_delay
            .saturating_mul(1u32 << failure.saturating_sub(1).min(16));
        d.min(self.max_delay)
    }
}

/// True for hosts reached over plain HTTP: loopback, or listed as insecure.
pub(crate) fn is_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.split(':').next().unwrap_or(registry)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || insecure.iter().any(|i| i == registry || i == host)
}

/// An HTTP session with one repository.
pub(crate) struct Session {
    http: reqwest::Client,
    base: Url,
    pub(crate) registry: String,
    pub(crate) repository: String,
    auth: ResolvedAuth,
    actions: &'static str,
    token: Mutex<Option<String>>,
    use_basic: Mutex<bool>,
    pub(crate) retry: Retry,
}

impl Session {
    /// A session for `registry`/`repository`; `push` asks for push rights in token scopes.
    pub(crate) fn new(
        registry: &str,
        repository: &str,
        auth: ResolvedAuth,
        insecure: &[String],
        push: bool,
        retry: Retry,
    ) -> Result<Self, Error> {
        let scheme = if is_plain_http(registry, insecure) {
            "http"
        } else {
            "https"
        };
        let base_text = format!("{scheme}://{registry}/");
        let base = Url::parse(&base_text).map_err(|e| Error::Reference {
            reference: registry.to_owned(),
            reason: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("forger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unreachable {
                url: base_text.clone(),
                attempts: 0,
                source: e,
            })?;
        Ok(Session {
            http,
            base,
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            auth,
            actions: if push { "pull,push" } else { "pull" },
            token: Mutex::new(None),
            use_basic: Mutex::new(false),
            retry,
        })
    }

    /// `/v2/<repo>/<tail>` as an absolute URL.
    pub(crate) fn url(&self, tail: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{tail}", self.repository))
            .expect("repository names and tails are URL-safe")
    }

    /// Resolves a `Location` header (absolute or relative) against the registry.
    pub(crate) fn location(&self, resp: &Response) -> Result<Url, Error> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Registry {
                method: "POST".into(),
                url: resp.url().to_string(),
                status: resp.status().as_u16(),
                message: "no Location header in an upload response".into(),
            })?;
        self.base.join(loc).map_err(|e| Error::Registry {
            method: "POST".into(),
            url: resp.url().to_string(),
            status: resp.status().as_u16(),
            message: format!("bad Location header: {e}"),
        })
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(t) = self.token.lock().expect("token lock").as_ref() {
            return req.bearer_auth(t);
        }
        match &self.auth.credentials {
            Credentials::Bearer(t) => req.bearer_auth(t),
            Credentials::Basic { username, password }
                if *self.use_basic.lock().expect("basic lock") =>
            {
                req.basic_auth(username, Some(password))
            }
            _ => req,
        }
    }

    fn unauthorized(&self) -> Error {
        Error::Unauthorized {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            origin: self.auth.origin.clone(),
        }
    }

    /// Answers a 401 challenge: remembers to send Basic, or fetches a bearer token.
    async fn answer_challenge(&self, resp: &Response) -> Result<(), Error> {
        let header = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let (scheme, params) = parse_challenge(&header);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => match self.auth.credentials {
                Credentials::Basic { .. } => {
                    *self.use_basic.lock().expect("basic lock") = true;
                    Ok(())
                }
                _ => Err(self.unauthorized()),
            },
            "bearer" => {
                let realm = params
                    .iter()
                    .find(|(k, _)| k == "realm")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.unauthorized())?;
                let mut url = Url::parse(&realm).map_err(|_| self.unauthorized())?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                        q.append_pair("service", s);
                    }
                    q.append_pair(
                        "scope",
                        &format!("repository:{}:{}", self.repository, self.actions),
                    );
                }
                let mut req = self.http.get(url.clone());
                match &self.auth.credentials {
                    Credentials::Basic { username, password } => {
                        req = req.basic_auth(username, Some(password));
                    }
                    // A bearer the registry rejected cannot be exchanged for another.
                    Credentials::Bearer(_) => return Err(self.unauthorized()),
                    Credentials::Anonymous => {}
                }
                let r = req.send().await.map_err(|e| Error::Unreachable {
                    url: strip_query(&url),
                    attempts: 1,
                    source: e,
                })?;
                if !r.status().is_success() {
                    return Err(self.unauthorized());
                }
                let body: serde_json::Value = r.json().await.map_err(|e| Error::Unreachable {
                    url: strip_query(&url),
                    attempts: 1,
                    source: e,
                })?;
                let token = body["token"]
                    .as_str()
                    .or_else(|| body["access_token"].as_str())
                    .ok_or_else(|| self.unauthorized())?;
                *self.token.lock().expect("token lock") = Some(token.to_owned());
                Ok(())
            }
            _ => Err(self.unauthorized()),
        }
    }

    /// Sends a request, answering auth challenges (once per call, so an expired token is
    /// renewed) and, when `retry` is set, retrying transport errors and 5xx with backoff.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Payload,
        retry: bool,
    ) -> Result<Response, Error> {
        let mut failures = 0u32;
        let mut challenged = false;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(b) = body.body().map_err(Error::io(body.label()))? {
                req = req.body(b);
            } else if method == Method::PUT || method == Method::POST || method == Method::PATCH {
                req = req.header(CONTENT_LENGTH, "0");
            }
            let req = self.authorize(req);
            match req.send().await {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    if challenged {
                        return Err(self.unauthorized());
                    }
                    challenged = true;
                    *self.token.lock().expect("token lock") = None;
                    self.answer_challenge(&resp).await?;
                }
                Ok(resp) if resp.status().is_server_error() && retry => {
                    failures += 1;
                    if failures >= self.retry.attempts {
                        return Err(status_error(&method, resp).await);
                    }
                    tracing::warn!(status = %resp.status(), url = %strip_query(&url), "registry error; retrying");
                    tokio::time::sleep(self.retry.delay(failures)).await;
                }
                Ok(resp) => return Ok(resp),
                Err(e) if retry && failures + 1 < self.retry.attempts => {
                    failures += 1;
                    tracing::warn!(error = %e, url = %strip_query(&url), "registry unreachable; retrying");
                    tokio::time::sleep(self.retry.delay(failures)).await;
                }
                Err(e) => {
                    return Err(Error::Unreachable {
                        url: strip_query(&url),
                        attempts: failures + 1,
                        source: e,
                    });
                }
            }
        }
    }

    /// True when the repository has the blob.
    pub(crate) async fn blob_exists(&self, digest: &str) -> Result<Option<u64>, Error> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self
            .send(Method::HEAD, url, HeaderMap::new(), Payload::Empty, true)
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(&Method::HEAD, resp).await),
        }
    }
}

/// A request body that can be produced again for a retry or after an auth challenge.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// No body.
    Empty,
    /// Bytes in memory (one chunk at most).
    Bytes(Bytes),
    /// `len` bytes of a file from `offset`, streamed in 1 MiB reads with backpressure.
    File {
        /// The file.
        path: PathBuf,
        /// First byte sent.
        offset: u64,
        /// Bytes sent.
        len: u64,
    },
}

impl Payload {
    fn label(&self) -> PathBuf {
        match self {
            Payload::File { path, .. } => path.clone(),
            _ => PathBuf::from("<request body>"),
        }
    }

    fn body(&self) -> std::io::Result<Option<reqwest::Body>> {
        match self {
            Payload::Empty => Ok(None),
            Payload::Bytes(b) => Ok(Some(reqwest::Body::from(b.clone()))),
            Payload::File { path, offset, len } => {
                let mut f = std::fs::File::open(path)?;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(*offset))?;
                let reader = tokio::fs::File::from_std(f).take(*len);
                let stream = futures_util::stream::unfold(reader, |mut r| async move {
                    let mut buf = vec![0u8; 1 << 20];
                    match r.read(&mut buf).await {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), r))
                        }
                        Err(e) => Some((Err(e), r)),
                    }
                });
                Ok(Some(reqwest::Body::wrap_stream(stream)))
            }
        }
    }
}

/// The error for an unexpected status, with the registry's body (shortened).
pub(crate) async fn status_error(method: &Method, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let url = strip_query(resp.url());
    let mut message = resp.text().await.unwrap_or_default();
    if message.len() > 400 {
        let mut cut = 400;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Error::Registry {
        method: method.to_string(),
        url,
        status,
        message: message.trim().to_owned(),
    }
}

/// A URL for messages: upload URLs carry a signed `_state` query that is noise to a reader.
pub(crate) fn strip_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// `Content-Type: application/octet-stream` (distribution parses other types as forms).
pub(crate) fn octet_stream() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h
}

/// Splits `Bearer realm="…",service="…"` into the scheme and its parameters.
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.push((key.trim().to_owned(), value));
    }
    (scheme.to_owned(), params)
}

/// The end of a `Range: 0-<end>` header as the next offset to send.
pub(crate) fn next_offset(resp: &Response) -> Option<u64> {
    let range = resp.headers().get("Range")?.to_str().ok()?;
    let end: u64 = range.rsplit('-').next()?.trim().parse().ok()?;
    Some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:5002/token",service="test-registry",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p[0], ("realm".into(), "http://127.0.0.1:5002/token".into()));
        assert_eq!(p[1], ("service".into(), "test-registry".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull,push".into()));
        let (s, p) = parse_challenge(r#"Basic realm="test-realm""#);
        assert_eq!((s.as_str(), p.len()), ("Basic", 1));
    }

    #[test]
    fn plain_http_only_for_loopback_or_listed_hosts() {
        assert!(is_plain_http("127.0.0.1:5000", &[]));
        assert!(is_plain_http("localhost", &[]));
        assert!(is_plain_http("[::1]:5000", &[]));
        assert!(!is_plain_http("ghcr.io", &[]));
        assert!(!is_plain_http("10.0.0.1:5000", &[]));
        assert!(is_plain_http("reg.lan:5000", &["reg.lan".into()]));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry::default();
        assert_eq!(r.delay(1), Duration::from_millis(200));
        assert_eq!(r.delay(3), Duration::from_millis(800));
        assert_eq!(r.delay(30), Duration::from_secs(5));
    }
}
