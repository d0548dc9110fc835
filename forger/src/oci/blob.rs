//! Blob transfers: a chunked, resumable upload streamed from a file (memory bounded by one
//! chunk whatever the blob size) and a download verified against its digest while streaming.

use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::Error;
use super::session::{Payload, Session, next_offset, octet_stream, status_error, strip_query};
use crate::archive::{Digest, Hasher};

/// What happened to one blob during a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The repository already had it; nothing was sent.
    Existed,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded; `resumed` counts resumptions from a registry-reported offset and
    /// `restarted` uploads begun again from zero.
    Uploaded {
        /// Resumptions at the registry's offset.
        resumed: u32,
        /// Restarts from offset 0 (the registry lost the upload session).
        restarted: u32,
    },
}

/// Where an interrupted upload stands, according to the registry.
enum Status {
    /// Continue at `offset` using `location`.
    Resume(Url, u64),
    /// The session is gone; start a new one.
    Lost,
}

/// Pushes the file `path` as blob `digest` (`size` bytes) unless the repository has it.
pub(crate) async fn push_file(
    s: &Session,
    path: &Path,
    digest: &Digest,
    size: u64,
    chunk_size: usize,
    mount_from: &[String],
) -> Result<BlobOutcome, Error> {
    let d = digest.to_string();
    if s.blob_exists(&d).await?.is_some() {
        return Ok(BlobOutcome::Existed);
    }
    for from in mount_from {
        let mut url = s.url("blobs/uploads/");
        url.query_pairs_mut()
            .append_pair("mount", &d)
            .append_pair("from", from);
        let resp = s
            .send(Method::POST, url, octet_stream(), Payload::Empty, true)
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(BlobOutcome::Mounted);
        }
    }
    let mut file = tokio::fs::File::open(path).await.map_err(Error::io(path))?;
    let upload_err = |attempts: u32, reason: String| Error::Upload {
        digest: d.clone(),
        repository: s.repository.clone(),
        attempts,
        reason,
    };
    let (mut resumed, mut restarted, mut failures) = (0u32, 0u32, 0u32);
    'session: loop {
        let mut location = start_upload(s).await?;
        let mut offset = 0u64;
        loop {
            if offset < size {
                // chunk_size 0 streams the rest of the file in one request (as skopeo does).
                let len = if chunk_size == 0 {
                    size - offset
                } else {
                    (size - offset).min(chunk_size as u64)
                };
                let body = if chunk_size == 0 {
                    Payload::File {
                        path: path.to_owned(),
                        offset,
                        len,
                    }
                } else {
                    let mut buf = vec![0u8; len as usize];
                    file.seek(std::io::SeekFrom::Start(offset))
                        .await
                        .map_err(Error::io(path))?;
                    file.read_exact(&mut buf).await.map_err(Error::io(path))?;
                    Payload::Bytes(Bytes::from(buf))
                };
                let mut headers = octet_stream();
                headers.insert(
                    CONTENT_RANGE,
                    HeaderValue::from_str(&format!("{}-{}", offset, offset + len - 1))
                        .expect("digits and a dash"),
                );
                headers.insert(
                    reqwest::header::CONTENT_LENGTH,
                    HeaderValue::from_str(&len.to_string()).expect("digits"),
                );
                let sent = s
                    .send(Method::PATCH, location.clone(), headers, body, false)
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => {
                        location = s.location(&r)?;
                        offset = next_offset(&r).unwrap_or(offset + len);
                        continue;
                    }
                    Ok(r)
                        if r.status().is_client_error()
                            && r.status() != StatusCode::RANGE_NOT_SATISFIABLE
                            && r.status() != StatusCode::NOT_FOUND =>
                    {
                        return Err(status_error(&Method::PATCH, r).await);
                    }
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), "chunk refused; asking the registry where the upload stands")
                    }
                    Err(e @ Error::Unauthorized { .. }) => return Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "chunk failed; asking the registry where the upload stands")
                    }
                }
            } else {
                let mut url = location.clone();
                url.query_pairs_mut().append_pair("digest", &d);
                let sent = s
                    .send(Method::PUT, url, octet_stream(), Payload::Empty, false)
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => break 'session,
                    Ok(r)
                        if r.status().is_client_error() && r.status() != StatusCode::NOT_FOUND =>
                    {
                        return Err(status_error(&Method::PUT, r).await);
                    }
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), "commit refused; checking the blob")
                    }
                    Err(e @ Error::Unauthorized { .. }) => return Err(e),
                    Err(e) => tracing::warn!(error = %e, "commit failed; checking the blob"),
                }
                // The commit may have landed before the connection dropped.
                if s.blob_exists(&d).await?.is_some() {
                    break 'session;
                }
            }
            failures += 1;
            if failures >= s.retry.attempts {
                return Err(upload_err(failures, "the registry kept failing".into()));
            }
            tokio::time::sleep(s.retry.delay(failures)).await;
            match upload_status(s, &location).await? {
                Status::Resume(loc, at) if at <= size => {
                    tracing::info!(offset = at, "resuming upload at the registry's offset");
                    resumed += 1;
                    location = loc;
                    offset = at;
                }
                _ => {
                    tracing::info!("upload session lost; starting the blob again");
                    restarted += 1;
                    continue 'session;
                }
            }
        }
    }
    match s.blob_exists(&d).await? {
        Some(n) if n == size || n == 0 => Ok(BlobOutcome::Uploaded { resumed, restarted }),
        Some(n) => Err(upload_err(
            failures + 1,
            format!("the registry reports {n} bytes, the file has {size}"),
        )),
        None => Err(upload_err(
            failures + 1,
            "the registry accepted the upload but does not serve the blob".into(),
        )),
    }
}

async fn start_upload(s: &Session) -> Result<Url, Error> {
    let url = s.url("blobs/uploads/");
    let resp = s
        .send(
            Method::POST,
            url.clone(),
            octet_stream(),
            Payload::Empty,
            true,
        )
        .await?;
    if resp.status() != StatusCode::ACCEPTED {
        return Err(status_error(&Method::POST, resp).await);
    }
    s.location(&resp)
}

async fn upload_status(s: &Session, location: &Url) -> Result<Status, Error> {
    let resp = s
        .send(
            Method::GET,
            location.clone(),
            reqwest::header::HeaderMap::new(),
            Payload::Empty,
            true,
        )
        .await?;
    if resp.status() == StatusCode::NO_CONTENT {
        let at = next_offset(&resp).unwrap_or(0);
        // distribution reports `0-0` for an empty upload as for a one-byte one; resuming
        // at 0 is always safe for the registry (it rejects a wrong offset with 416).
        let at = if at == 1 { 0 } else { at };
        return Ok(Status::Resume(s.location(&resp)?, at));
    }
    Ok(Status::Lost)
}

/// Downloads blob `digest` into `dest` (through a temporary file in its directory),
/// verifying size and digest while streaming. Returns the byte count.
pub(crate) async fn pull_to_file(
    s: &Session,
    digest: &Digest,
    expected_size: Option<u64>,
    dest: &Path,
) -> Result<u64, Error> {
    let url = s.url(&format!("blobs/{digest}"));
    let resp = s
        .send(
            Method::GET,
            url.clone(),
            reqwest::header::HeaderMap::new(),
            Payload::Empty,
            true,
        )
        .await?;
    if !resp.status().is_success() {
        return Err(status_error(&Method::GET, resp).await);
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".forger-pull-")
        .tempfile_in(&dir)
        .map_err(Error::io(&dir))?;
    let std_file = tmp.as_file().try_clone().map_err(Error::io(tmp.path()))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(std_file));
    let mut hasher = Hasher::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Unreachable {
            url: strip_query(&url),
            attempts: 1,
            source: e,
        })?;
        hasher.update(&chunk);
        if expected_size.is_some_and(|n| hasher.len() > n) {
            break;
        }
        out.write_all(&chunk).await.map_err(Error::io(tmp.path()))?;
    }
    out.flush().await.map_err(Error::io(tmp.path()))?;
    drop(out);
    let (actual, n) = hasher.finish();
    if actual != *digest || expected_size.is_some_and(|e| e != n) {
        return Err(Error::DigestMismatch {
            what: format!("blob {} from {}", digest, s.repository),
            expected: format!(
                "{digest} ({} bytes)",
                expected_size.map_or("?".into(), |e| e.to_string())
            ),
            actual: format!("{actual} ({n} bytes)"),
        });
    }
    tmp.persist(dest).map_err(|e| Error::io(dest)(e.error))?;
    Ok(n)
}
