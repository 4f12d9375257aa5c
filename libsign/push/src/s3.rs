//! [`S3Store`]: the [`ObjectStore`] over S3's REST API. Requests are signed
//! by `rusty-s3` (AWS Signature Version 4, as presigned URLs whose signed
//! headers include every header that matters: the conditions, the stored
//! SHA-256, `Cache-Control`) and sent with `ureq`, the HTTP client the
//! workspace already has. Region and credentials come from the standard
//! `AWS_*` environment variables.

use std::time::Duration;

use rusty_s3::actions::{CompleteMultipartUpload, CreateMultipartUpload, ListObjectsV2, ListParts};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::store::{
    Condition, FetchedObject, ListedObject, ObjectHead, ObjectStore, StoreError, UploadedPart,
    WriteOptions, WriteOutcome,
};

/// How long a signed request stays valid: long enough for one part of a
/// slow upload, short enough that a logged URL is soon useless.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The user metadata header holding a file's SHA-256.
pub const SHA256_HEADER: &str = "x-amz-meta-sha256";

/// Where a push goes: `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The bucket.
    pub bucket: String,
    /// The key prefix: empty, or ending in `/`.
    pub prefix: String,
}

impl Destination {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX` (a trailing `/` is
    /// optional). `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        let prefix = prefix.trim_matches('/');
        if !bucket_ok || prefix.split('/').any(|s| s == "." || s == "..") {
            return None;
        }
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Some(Self {
            bucket: bucket.to_owned(),
            prefix,
        })
    }
}

/// The connection settings: `--endpoint` and the `AWS_*` environment.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// An S3-compatible endpoint (`--endpoint`), addressed path-style; AWS
    /// itself (virtual-hosted style) when `None`.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl S3Config {
    /// Reads region and credentials from the environment; `None` when
    /// `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` is not set.
    pub fn from_env(endpoint: Option<String>) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            endpoint,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

/// S3 (or an S3-compatible store) through signed requests.
#[derive(Debug)]
pub struct S3Store {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    described: String,
}

impl S3Store {
    /// A store for `destination`'s bucket; `Err` names a bad endpoint.
    pub fn new(config: &S3Config, destination: &Destination) -> Result<Self, String> {
        let (endpoint, style) = match &config.endpoint {
            Some(e) => (e.clone(), UrlStyle::Path),
            None => (
                format!("https://s3.{}.amazonaws.com", config.region),
                UrlStyle::VirtualHost,
            ),
        };
        let url = endpoint
            .parse()
            .map_err(|e| format!("endpoint {endpoint}: {e}"))?;
        let bucket = Bucket::new(
            url,
            style,
            destination.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| format!("endpoint {endpoint}: {e}"))?;
        let credentials = match &config.session_token {
            Some(token) => Credentials::new_with_token(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
                token.clone(),
            ),
            None => Credentials::new(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
            ),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        Ok(Self {
            described: format!("s3://{} at {endpoint}", destination.bucket),
            bucket,
            credentials,
            agent,
        })
    }
}

/// The signed headers of a write: they go both into the signature and on
/// the request.
fn write_headers(options: &WriteOptions) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("cache-control", options.cache_control.clone()),
        (SHA256_HEADER, options.sha256.clone()),
    ];
    headers.extend(condition_header(&options.condition));
    headers
}

fn condition_header(condition: &Condition) -> Option<(&'static str, String)> {
    Some(match condition {
        Condition::Absent => ("if-none-match", "*".to_owned()),
        Condition::Matches(etag) => ("if-match", etag.clone()),
    })
}

/// Signs `action` with `headers` among its signed headers.
fn sign<'a, A: S3Action<'a>>(mut action: A, headers: &'a [(&'static str, String)]) -> String {
    for (name, value) in headers {
        action.headers_mut().insert(*name, value.as_str());
    }
    action.sign(SIGNATURE_LIFETIME).to_string()
}

type Response = ureq::http::Response<ureq::Body>;

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl S3Store {
    fn failure(request: &'static str, key: &str, detail: impl ToString) -> StoreError {
        StoreError {
            request,
            key: key.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// An unexpected status, with the store's `<Code>` and `<Message>`.
    fn status_failure(request: &'static str, key: &str, response: Response) -> StoreError {
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = body.find(&open)? + open.len();
            let end = body[start..].find("</")? + start;
            Some(body[start..end].to_owned())
        };
        let detail = match (field("Code"), field("Message")) {
            (Some(code), Some(message)) => format!("HTTP {status} {code}: {message}"),
            (Some(code), None) => format!("HTTP {status} {code}"),
            _ => format!("HTTP {status}"),
        };
        Self::failure(request, key, detail)
    }

    fn send(
        &self,
        request: &'static str,
        key: &str,
        builder: ureq::RequestBuilder<ureq::typestate::WithBody>,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> Result<Response, StoreError> {
        let mut builder = builder;
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        builder
            .send(body)
            .map_err(|e| Self::failure(request, key, e))
    }

    fn call(
        &self,
        request: &'static str,
        key: &str,
        builder: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    ) -> Result<Response, StoreError> {
        builder.call().map_err(|e| Self::failure(request, key, e))
    }

    fn read_text(
        request: &'static str,
        key: &str,
        response: Response,
    ) -> Result<String, StoreError> {
        response
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Self::failure(request, key, e))
    }

    /// A write's outcome: 2xx written; 412, or 409 (a concurrent
    /// conditional write won), a failed precondition.
    fn outcome(
        request: &'static str,
        key: &str,
        response: Response,
    ) -> Result<WriteOutcome, StoreError> {
        match response.status().as_u16() {
            200..=299 => Ok(WriteOutcome::Written),
            412 | 409 => Ok(WriteOutcome::PreconditionFailed),
            _ => Err(Self::status_failure(request, key, response)),
        }
    }
}

impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        self.described.clone()
    }

    fn list(
        &mut self,
        prefix: &str,
        page_size: u16,
    ) -> Result<(Vec<ListedObject>, usize), StoreError> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, Some(&self.credentials));
            action.with_prefix(prefix);
            action.with_max_keys(usize::from(page_size.max(1)));
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNATURE_LIFETIME).to_string();
            let response = self.call("ListObjectsV2", prefix, self.agent.get(&url))?;
            pages += 1;
            if !response.status().is_success() {
                return Err(Self::status_failure("ListObjectsV2", prefix, response));
            }
            let text = Self::read_text("ListObjectsV2", prefix, response)?;
            let page = ListObjectsV2::parse_response(&text)
                .map_err(|e| Self::failure("ListObjectsV2", prefix, e))?;
            objects.extend(page.contents.into_iter().map(|c| ListedObject {
                key: c.key,
                size: c.size.unwrap_or(0),
            }));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok((objects, pages)),
            }
        }
    }

    fn get(&mut self, key: &str, max_len: u64) -> Result<Option<FetchedObject>, StoreError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNATURE_LIFETIME)
            .to_string();
        let response = self.call("GET", key, self.agent.get(&url))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(Self::status_failure("GET", key, response)),
        }
        let etag = header(&response, "etag");
        // One byte over the limit is read, so "longer than allowed" is
        // told apart from "exactly the limit".
        let bytes = response
            .into_body()
            .with_config()
            .limit(max_len.saturating_add(1))
            .read_to_vec()
            .map_err(|e| Self::failure("GET", key, e))?;
        if bytes.len() as u64 > max_len {
            return Err(Self::failure(
                "GET",
                key,
                format!("longer than the {max_len} bytes allowed"),
            ));
        }
        Ok(Some(FetchedObject { bytes, etag }))
    }

    fn head(&mut self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign(SIGNATURE_LIFETIME)
            .to_string();
        let response = self.call("HEAD", key, self.agent.head(&url))?;
        match response.status().as_u16() {
            200 => Ok(Some(ObjectHead {
                size: header(&response, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                sha256: header(&response, SHA256_HEADER),
                cache_control: header(&response, "cache-control"),
            })),
            404 => Ok(None),
            status => Err(Self::failure("HEAD", key, format!("HTTP {status}"))),
        }
    }

    fn put(
        &mut self,
        key: &str,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, StoreError> {
        let headers = write_headers(options);
        let url = sign(
            self.bucket.put_object(Some(&self.credentials), key),
            &headers,
        );
        let response = self.send("PUT", key, self.agent.put(&url), &headers, body)?;
        Self::outcome("PUT", key, response)
    }

    fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNATURE_LIFETIME)
            .to_string();
        let response = self.call("DELETE", key, self.agent.delete(&url))?;
        if response.status().is_success() || response.status().as_u16() == 404 {
            Ok(())
        } else {
            Err(Self::status_failure("DELETE", key, response))
        }
    }

    fn create_multipart(
        &mut self,
        key: &str,
        options: &WriteOptions,
    ) -> Result<String, StoreError> {
        // The condition belongs to the completion, not the creation.
        let headers: Vec<_> = write_headers(options)
            .into_iter()
            .filter(|(name, _)| name.starts_with("x-amz-meta") || *name == "cache-control")
            .collect();
        let url = sign(
            CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), key),
            &headers,
        );
        let response = self.send(
            "CreateMultipartUpload",
            key,
            self.agent.post(&url),
            &headers,
            &[],
        )?;
        if !response.status().is_success() {
            return Err(Self::status_failure("CreateMultipartUpload", key, response));
        }
        let text = Self::read_text("CreateMultipartUpload", key, response)?;
        let parsed = CreateMultipartUpload::parse_response(&text)
            .map_err(|e| Self::failure("CreateMultipartUpload", key, e))?;
        Ok(parsed.upload_id().to_owned())
    }

    fn upload_part(
        &mut self,
        key: &str,
        upload_id: &str,
        number: u16,
        body: &[u8],
    ) -> Result<String, StoreError> {
        let url = self
            .bucket
            .upload_part(Some(&self.credentials), key, number, upload_id)
            .sign(SIGNATURE_LIFETIME)
            .to_string();
        let response = self.send("UploadPart", key, self.agent.put(&url), &[], body)?;
        if !response.status().is_success() {
            return Err(Self::status_failure("UploadPart", key, response));
        }
        header(&response, "etag")
            .ok_or_else(|| Self::failure("UploadPart", key, "no ETag in the response"))
    }

    fn list_parts(
        &mut self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        let mut parts = Vec::new();
        let mut marker: Option<u16> = None;
        loop {
            let mut action = ListParts::new(&self.bucket, Some(&self.credentials), key, upload_id);
            if let Some(m) = marker {
                action.set_part_number_marker(m);
            }
            let url = action.sign(SIGNATURE_LIFETIME).to_string();
            let response = self.call("ListParts", key, self.agent.get(&url))?;
            match response.status().as_u16() {
                200 => {}
                404 => return Ok(None),
                _ => return Err(Self::status_failure("ListParts", key, response)),
            }
            let text = Self::read_text("ListParts", key, response)?;
            let (page, next) = parse_list_parts(&text)
                .ok_or_else(|| Self::failure("ListParts", key, "unreadable ListPartsResult"))?;
            parts.extend(page);
            match next {
                Some(next) if marker != Some(next) => marker = Some(next),
                _ => return Ok(Some(parts)),
            }
        }
    }

    fn complete_multipart(
        &mut self,
        key: &str,
        upload_id: &str,
        etags: &[String],
        condition: &Condition,
    ) -> Result<WriteOutcome, StoreError> {
        let headers: Vec<_> = condition_header(condition).into_iter().collect();
        let action = CompleteMultipartUpload::new(
            &self.bucket,
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let body = action.clone().body();
        let url = sign(action, &headers);
        let response = self.send(
            "CompleteMultipartUpload",
            key,
            self.agent.post(&url),
            &headers,
            body.as_bytes(),
        )?;
        let status = response.status().as_u16();
        if status != 200 {
            return Self::outcome("CompleteMultipartUpload", key, response);
        }
        // S3 can answer 200 and still report an error in the body.
        let text = Self::read_text("CompleteMultipartUpload", key, response)?;
        if text.contains("<Error>") {
            if text.contains("PreconditionFailed") || text.contains("ConditionalRequestConflict") {
                return Ok(WriteOutcome::PreconditionFailed);
            }
            return Err(Self::failure("CompleteMultipartUpload", key, text));
        }
        Ok(WriteOutcome::Written)
    }
}

/// The text of the first `<tag>` in `xml`, entities decoded.
fn element<'a>(xml: &'a str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    let text: &'a str = &xml[start..end];
    Some(
        text.replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A ListPartsResult page: its parts, and the marker of the next page when
/// it is truncated. Read leniently, since stores differ: a part without an
/// `ETag` (s3s-fs lists none) is kept with `None`, and the push takes its
/// tag from its own record of the upload.
fn parse_list_parts(xml: &str) -> Option<(Vec<UploadedPart>, Option<u16>)> {
    let mut parts = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Part>") {
        let end = rest[start..].find("</Part>")? + start;
        let part = &rest[start..end];
        parts.push(UploadedPart {
            number: element(part, "PartNumber")?.trim().parse().ok()?,
            etag: element(part, "ETag").filter(|e| !e.is_empty()),
            size: element(part, "Size")?.trim().parse().ok()?,
        });
        rest = &rest[end..];
    }
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = element(xml, "NextPartNumberMarker").and_then(|m| m.trim().parse().ok());
    Some((parts, if truncated { next } else { None }))
}

#[cfg(test)]
mod tests {
    use super::{Destination, parse_list_parts};

    #[test]
    fn list_parts_pages_are_read_with_or_without_etags() {
        let xml = "<ListPartsResult><IsTruncated>true</IsTruncated>\
            <NextPartNumberMarker>2</NextPartNumberMarker>\
            <Part><PartNumber>1</PartNumber><ETag>&quot;ab&quot;</ETag><Size>5</Size></Part>\
            <Part><PartNumber>2</PartNumber><Size>7</Size></Part></ListPartsResult>";
        let (parts, next) = parse_list_parts(xml).unwrap();
        assert_eq!(next, Some(2));
        assert_eq!(parts[0].etag.as_deref(), Some("\"ab\""));
        assert_eq!(
            (parts[1].number, parts[1].size, parts[1].etag.clone()),
            (2, 7, None)
        );
    }

    #[test]
    fn destinations() {
        let d = Destination::parse("s3://fw-updates/prod/evc").unwrap();
        assert_eq!(d.bucket, "fw-updates");
        assert_eq!(d.prefix, "prod/evc/");
        assert_eq!(Destination::parse("s3://fw-updates/").unwrap().prefix, "");
        assert_eq!(Destination::parse("s3://fw-updates").unwrap().prefix, "");
        for bad in [
            "fw-updates/x",
            "s3://",
            "s3://UPPER/x",
            "s3://b/../x",
            "https://b/x",
        ] {
            assert!(Destination::parse(bad).is_none(), "{bad}");
        }
    }
}
