#!/usr/bin/env bash
# The release job of docs/ci-release.md: audit, publish when approved, keep
# the repository fresh, keep the audit witness, upload, watch expiry.
#
# It runs the same on a CI runner (docs/ci/release-workflow.yml calls it)
# and in fwsign's tests (tests/tests/all/release_job.rs), against a local
# repository with a local upload step.
#
# Environment:
#   REPO             the repository directory; its state is kept between runs
#                    (the workflow commits it back to the release repository)
#   ONLINE_KEY       the online snapshot/timestamp key: a key file or pkcs11: URI
#                    (keys are written encrypted by default: FWSIGN_PASSPHRASE,
#                    the variable fwsign reads without --passphrase-env, is
#                    passed through to unlock it)
#   FWSIGN_SYSLOG    optional, read by fwsign itself: every command that changes
#                    the repository (publish, refresh) sends its own audit events,
#                    refusals included, at once to this syslog:// or
#                    syslog+tls:// server (with FWSIGN_SYSLOG_SD_ID=NAME@PEN and,
#                    for TLS, FWSIGN_SYSLOG_CA); best effort, the scheduled
#                    `repo audit --forward --cursor` job catches up what failed
#   AUDIT_HEAD_FILE  where the audit witness (LINE:SHA256) is kept between runs;
#                    it must live OUTSIDE the repository, somewhere the people
#                    who can write the repository cannot write
#   UPLOAD_S3        push to object storage: `fwsign repo push` to this
#                    s3://BUCKET/PREFIX (credentials and region from AWS_*)
#   S3_ENDPOINT      an S3-compatible endpoint for the push (MinIO, R2, ...)
#   VERIFY_URL       read the push back through the CDN or origin at this URL
#   UPLOAD_DIR       or: upload by copying to this directory (a local mirror)
#   FWSIGN           the fwsign binary (default: fwsign on PATH)
#   JOB_LOCK         the job's concurrency guard (default: $REPO.job.lock)
#   LOCK_TIMEOUT     seconds to wait for another job or fwsign command (default 600)
#   REFRESH_WITHIN   re-sign snapshot/timestamp expiring within this (default 12h)
#   EXPIRY_WATCH     fail when root or targets expire within this (default 14d)
#
# Exit codes: 0 done (published, nothing to publish, or waiting for
# approvals); 1 a security refusal (audit failed, witness mismatch, root or
# targets expiring, publish refused for another reason than approvals);
# 2 usage; 3 I/O, HSM, or another job holds the lock.

set -euo pipefail

: "${REPO:?set REPO to the repository directory}"
: "${ONLINE_KEY:?set ONLINE_KEY to the online key (file or pkcs11: URI)}"
: "${AUDIT_HEAD_FILE:?set AUDIT_HEAD_FILE to where the audit witness is kept (outside the repository)}"
FWSIGN=${FWSIGN:-fwsign}
JOB_LOCK=${JOB_LOCK:-${REPO%/}.job.lock}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-600}
REFRESH_WITHIN=${REFRESH_WITHIN:-12h}
EXPIRY_WATCH=${EXPIRY_WATCH:-14d}

log() { printf 'release-job: %s\n' "$*" >&2; }

fw() { "$FWSIGN" --lock-timeout "$LOCK_TIMEOUT" "$@"; }

# A field of a one-line JSON document, without jq (not on every runner).
json_field() {
    sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2" | head -n 1
}

# One release job at a time. fwsign's own lock orders single commands; this
# guard keeps the whole sequence (audit, publish, refresh, audit, upload) of
# two jobs from interleaving on this machine. Across runners, the CI's
# concurrency group does it (see release-workflow.yml).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$JOB_LOCK"
    if ! flock -w "$LOCK_TIMEOUT" 9; then
        log "another release job holds $JOB_LOCK; gave up after ${LOCK_TIMEOUT}s"
        exit 3
    fi
else
    log "warning: no flock(1): only fwsign's per-command lock orders concurrent jobs"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Audit, against the head the last run kept. A truncated or rewritten log
#    (even after the last signed anchor) fails here, before anything signs.
expect=()
if [[ -s "$AUDIT_HEAD_FILE" ]]; then
    head=$(tr -d '[:space:]' <"$AUDIT_HEAD_FILE")
    expect=(--expect-head "$head")
    log "audit: checking the log against the head the last run kept ($head)"
else
    log "audit: no head kept yet (first run): checking the log's own anchors only"
fi
code=0
fw --json repo audit "$REPO" ${expect[@]+"${expect[@]}"} >"$work/audit-before.jsonl" || code=$?
if [[ $code -ne 0 ]]; then
    log "audit FAILED (exit $code): the audit log or the published history is not as the last run left it"
    tail -n 1 "$work/audit-before.jsonl" >&2 || true
    exit "$code"
fi

# 2. Publish when approved. Waiting for approvals is not a failure.
code=0
fw --json repo publish "$REPO" --snapshot-key "$ONLINE_KEY" --timestamp-key "$ONLINE_KEY" \
    >"$work/publish.json" || code=$?
publish=$(cat "$work/publish.json")
case $code in
0)
    if grep -q '"published":false' <<<"$publish"; then
        log "publish: nothing staged"
    else
        log "publish: published"
    fi
    ;;
1)
    if [[ $(json_field reason "$publish") == threshold-not-met ]]; then
        log "publish: waiting for approvals: $(json_field error "$publish")"
    else
        log "publish REFUSED ($(json_field reason "$publish")): $(json_field error "$publish")"
        exit 1
    fi
    ;;
*)
    log "publish failed (exit $code): $(json_field error "$publish")"
    exit "$code"
    ;;
esac

# 3. Keep snapshot and timestamp fresh.
fw --json repo refresh "$REPO" --within "$REFRESH_WITHIN" \
    --snapshot-key "$ONLINE_KEY" --timestamp-key "$ONLINE_KEY" >"$work/refresh.json"

# 4. Audit again and keep the new head outside the repository (replaced
#    whole, never half-written).
fw --json repo audit "$REPO" ${expect[@]+"${expect[@]}"} >"$work/audit.jsonl"
new_head=$(tail -n 1 "$work/audit.jsonl" |
    sed -n 's/.*"line":\([0-9]*\).*"sha256":"\([0-9a-f]*\)".*/\1:\2/p')
if [[ -z "$new_head" ]]; then
    log "audit printed no head"
    exit 1
fi
mkdir -p "$(dirname "$AUDIT_HEAD_FILE")"
printf '%s\n' "$new_head" >"$AUDIT_HEAD_FILE.tmp.$$"
mv -f "$AUDIT_HEAD_FILE.tmp.$$" "$AUDIT_HEAD_FILE"
log "audit: head $new_head kept in $AUDIT_HEAD_FILE"

# 5. Upload exactly what clients may fetch: `repo verify --print-files`
#    checks the whole published repository first (nothing is uploaded from
#    a state a client would refuse) and lists the published files, leaving
#    out orphans a killed publish left, temporaries and staged files. Target
#    files first, then metadata, timestamp.json last, so a client never sees
#    metadata naming files that are not there yet.
fw repo verify "$REPO" --print-files >"$work/files.txt"
upload="$work/upload"
while IFS= read -r file; do
    mkdir -p "$upload/$(dirname "$file")"
    # A hard link where the file system allows it: no copy of large images.
    ln "$REPO/$file" "$upload/$file" 2>/dev/null || cp "$REPO/$file" "$upload/$file"
done <"$work/files.txt"
mkdir -p "$upload/targets" "$upload/metadata"
if [[ -n "${UPLOAD_DIR:-}" ]]; then
    mkdir -p "$UPLOAD_DIR/targets" "$UPLOAD_DIR/metadata"
    cp -R "$upload/targets/." "$UPLOAD_DIR/targets/"
    find "$upload/metadata" -maxdepth 1 -type f -name '*.json' ! -name timestamp.json \
        -exec cp {} "$UPLOAD_DIR/metadata/" \;
    if [[ -f "$upload/metadata/timestamp.json" ]]; then
        cp "$upload/metadata/timestamp.json" "$UPLOAD_DIR/metadata/timestamp.json.tmp.$$"
        mv -f "$UPLOAD_DIR/metadata/timestamp.json.tmp.$$" "$UPLOAD_DIR/metadata/timestamp.json"
    fi
    log "upload: $(wc -l <"$work/files.txt") published file(s) copied to $UPLOAD_DIR"
elif [[ -n "${UPLOAD_S3:-}" ]]; then
    # Only what the metadata references, targets first, timestamp.json last
    # as a compare-and-swap; refused (exit 1, nothing uploaded) when the
    # bucket is ahead of this repository or holds another repository; read
    # back through the TUF client before it exits 0.
    push_args=()
    [[ -n "${S3_ENDPOINT:-}" ]] && push_args+=(--endpoint "$S3_ENDPOINT")
    [[ -n "${VERIFY_URL:-}" ]] && push_args+=(--verify-url "$VERIFY_URL")
    fw --json repo push "$REPO" "$UPLOAD_S3" "${push_args[@]}" >"$work/push.json"
    log "upload: pushed to $UPLOAD_S3: $(cat "$work/push.json")"
else
    log "upload: no UPLOAD_DIR or UPLOAD_S3 set; skipped"
fi

# 6. Watch root and targets expiry, while there is still time to have them
#    re-approved (`fwsign repo extend`). Snapshot and timestamp are the
#    refresh's job above.
code=0
fw repo status "$REPO" --check-expiry "$EXPIRY_WATCH" --role root --role targets \
    2>"$work/status.txt" || code=$?
if [[ $code -ne 0 ]]; then
    cat "$work/status.txt" >&2
    log "expiry: root or targets expires within $EXPIRY_WATCH: have the approvers extend it"
    exit "$code"
fi
log "done"
