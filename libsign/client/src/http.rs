//! [`HttpFetcher`], the HTTP(S) transport for the client (the `http`
//! feature): a [`Fetcher`] over `ureq` with rustls.

use super::{FetchError, Fetcher};

/// Fetches over HTTP(S) with `ureq` (rustls), reading at most the cap.
#[derive(Debug)]
pub struct HttpFetcher {
    agent: ureq::Agent,
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpFetcher {
    /// A fetcher with no retries and no redirects beyond ureq's defaults.
    pub fn new() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build();
        Self {
            agent: config.into(),
        }
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        use std::io::Read;
        let response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 403 || status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let mut body = Vec::new();
        let mut reader = response
            .into_body()
            .into_reader()
            .take(max_len.saturating_add(1));
        reader
            .read_to_end(&mut body)
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        if body.len() as u64 > max_len {
            return Err(FetchError::TooLong(max_len));
        }
        Ok(Some(body))
    }
}
