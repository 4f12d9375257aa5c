//! `fwsign repo push`: parses the destination and the `AWS_*` environment,
//! draws a progress bar on a terminal, and prints what `fwsign-push` did.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use fwsign_push::s3::{Destination, S3Config, S3Store};
use fwsign_push::{PushEvent, PushOptions};

use crate::args_push::PushArgs;
use crate::failure::Failure;
use crate::output::Output;

pub(crate) fn push(args: PushArgs, out: &Output) -> Result<(), Failure> {
    let destination = Destination::parse(&args.destination).ok_or_else(|| {
        Failure::usage(format!(
            "{}: not s3://BUCKET/PREFIX (a bucket of 3 to 63 lowercase letters, digits, '-' and '.')",
            args.destination
        ))
    })?;
    let config = S3Config::from_env(args.endpoint.clone()).ok_or_else(|| {
        Failure::usage("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION) to push")
    })?;
    let mut store = S3Store::new(&config, &destination).map_err(Failure::usage)?;
    let mut options = PushOptions::new(crate::now());
    options.dry_run = args.dry_run;
    options.timestamp_cache_control = args.cache_control_timestamp;
    options.part_size = args.part_size * 1024 * 1024;
    options.verify_url = args.verify_url;
    options.lock_timeout = crate::lock_timeout();

    let show = out.progress_visible();
    let mut bar: Option<ProgressBar> = None;
    let mut on_event = |event: PushEvent<'_>| match event {
        PushEvent::Planned { bytes, .. } if show => {
            let b = ProgressBar::new(bytes);
            if let Ok(style) = ProgressStyle::with_template(
                "pushing [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            ) {
                b.set_style(style);
            }
            bar = Some(b);
        }
        PushEvent::Sent { bytes } => {
            if let Some(b) = &bar {
                b.inc(bytes);
            }
        }
        PushEvent::Uploaded { key } => {
            if let Some(b) = &bar {
                b.set_message(key.rsplit('/').next().unwrap_or(key).to_owned());
            }
        }
        _ => {}
    };
    let result = fwsign_push::push(&args.dir, &destination, &mut store, &options, &mut on_event);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = result?;

    let before = report
        .bucket_timestamp_version
        .map_or_else(|| "none".to_owned(), |v| format!("v{v}"));
    if report.dry_run {
        out.say(format!(
            "dry run: {} would upload {} objects ({} already there); bucket timestamp {before}, local v{}",
            report.destination,
            report.uploaded.len(),
            report.skipped,
            report.timestamp_version
        ));
        out.say_each(report.uploaded.iter().map(|key| format!("  {key}")));
    } else {
        out.say(format!(
            "pushed {} to {}: {} objects uploaded ({} bytes), {} already there; timestamp {before} -> v{}",
            args.dir.display(),
            report.destination,
            report.uploaded.len(),
            report.bytes_uploaded,
            report.skipped,
            report.timestamp_version
        ));
        if report.resumed_parts > 0 {
            out.say(format!(
                "  resumed an interrupted upload: {} parts were already there",
                report.resumed_parts
            ));
        }
        if let Some(read) = &report.read_back {
            out.say(format!(
                "read back from {}: timestamp v{} verifies, {} uploaded targets downloaded and checked",
                read.from, read.timestamp_version, read.targets_checked
            ));
            if let Some(note) = &read.note {
                out.warn(format!("warning: {note}"));
            }
        }
    }
    let mut document = serde_json::to_value(&report).expect("the report serialises");
    document["ok"] = json!(true);
    out.result(&document);
    Ok(())
}
