//! `fwsign repo push ...`: the command line of publishing to object storage.

use std::path::PathBuf;

use clap::Args;

/// `fwsign repo push DIR s3://BUCKET/PREFIX`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The repository (published).
    pub dir: PathBuf,
    /// Where to push: s3://BUCKET/PREFIX (objects go under PREFIX/metadata/
    /// and PREFIX/targets/, as clients fetch them).
    #[arg(value_name = "s3://BUCKET/PREFIX")]
    pub destination: String,
    /// An S3-compatible endpoint, addressed path-style (MinIO, Ceph, R2...);
    /// AWS S3 itself when absent. Region and credentials come from
    /// AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Check the bucket and list what would be uploaded; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After pushing, read the repository back from this base URL (the CDN
    /// or origin clients use: BASE/metadata/, BASE/targets/) instead of
    /// through the bucket's signed requests.
    #[arg(long, value_name = "URL")]
    pub verify_url: Option<String>,
    /// Cache-Control of timestamp.json (versioned and hash-named files are
    /// always immutable).
    #[arg(long, value_name = "VALUE", default_value = fwsign_push::DEFAULT_TIMESTAMP_CACHE_CONTROL)]
    pub cache_control_timestamp: String,
    /// Target files larger than this go up in multipart uploads of parts
    /// this size, in MiB (at least 5); an interrupted push resumes them.
    #[arg(long, value_name = "MIB", default_value_t = 16,
        value_parser = clap::value_parser!(u64).range(5..=5120))]
    pub part_size: u64,
}
