//! The command line, as users' scripts and CI jobs are written against it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use crate::args_client::{BundleCommand, ClientArgs, ClientCommand, DeviceArgs};
pub(crate) use crate::args_device::DeviceCommand;
pub(crate) use crate::args_ocpp::{CertCommand, OcppCommand, OcppSignOpts, OcppVersionArg};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  security refusal (threshold not met, signature invalid, verification failed)
  2  usage or input error
  3  I/O or HSM failure";

/// Sign firmware releases with multi-party approval, as TUF repositories.
#[derive(Debug, Parser)]
#[command(name = "fwsign", version, about, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// Print one JSON document on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for another fwsign command holding the repository
    /// lock, in seconds (0: fail at once, exit 3 naming the holder).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate, inspect, back up (K of N custodians) and restore signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Build, approve and publish a TUF repository.
    #[command(subcommand)]
    Repo(Box<RepoCommand>),
    /// Sign an exported payload, or every entry of a payload batch, offline (air-gapped approvers).
    #[command(
        after_help = "Examples:\n  fwsign sign-payload targets-v2.payload --key alice.pem --out alice.sig\n  \
        fwsign sign-payload bins.batch --key dave.pem --out dave.sigs\n\n\
        A batch (`repo export-payload --role PATTERN`) is signed with one passphrase or PIN;\n\
        every entry is checked against its description first, and one that does not match\n\
        signs nothing."
    )]
    SignPayload(SignPayloadArgs),
    /// A TUF client: fetch, verify and download as a device or CI job would.
    ///
    /// Follows the TUF client command-line contract: options before the
    /// subcommand, exit 0 on success and 1 on any failure (usage errors too).
    Client(ClientArgs),
    /// Offline update bundles for local installs (commissioning app, USB).
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Firmware slots and root provisioning for the device verifier, and
    /// inspecting or verifying a slot on the host before it is flashed.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// X.509 certificates for OCPP firmware signing: root, signing certificate, request, check.
    #[command(subcommand)]
    Cert(CertCommand),
    /// OCPP secure firmware update: signature, UpdateFirmware request, the charger's check.
    #[command(subcommand)]
    Ocpp(OcppCommand),
    /// Whether a file (an image, a firmware slot, or a flash dump holding
    /// slots) is a released image, and which: with --repo, every published
    /// version; with --metadata-url and --root, the current metadata, through
    /// the TUF client.
    #[command(
        after_help = "Examples:\n  fwsign identify dump.bin --repo repo\n  fwsign identify dump.bin --metadata-url https://updates.example.com/metadata/ --root 1.root.json\n\nExit codes: 0 a released image (every slot of a dump), 1 not a released image or metadata refused, 2 usage, 3 I/O."
    )]
    Identify {
        /// The file: an image, a slot with the fwsign slot header, or a flash
        /// dump holding slots (each slot found by its header is identified).
        file: PathBuf,
        /// The repository whose published history to search.
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "metadata_url",
            conflicts_with_all = ["metadata_url", "root"]
        )]
        repo: Option<PathBuf>,
        /// Search the current metadata served here instead (the TUF client's
        /// refresh and target search): no history, so removed or superseded
        /// releases and earlier versions need --repo.
        #[arg(long, value_name = "URL", requires = "root")]
        metadata_url: Option<String>,
        /// The trusted root the client starts from (with --metadata-url);
        /// nothing is kept between runs.
        #[arg(long, value_name = "ROOT", requires = "metadata_url")]
        root: Option<PathBuf>,
        /// Also write the SBOM approved with the image (`repo add --sbom`) to
        /// PATH, found through the current metadata and checked against the
        /// image's signed sbom_sha256 and its own entry first (replaced
        /// atomically, as `client download` replaces its files; nothing is
        /// written on any refusal). With --repo, read through the TUF client
        /// from the repository's published files, trusting its 1.root.json.
        #[arg(long, value_name = "PATH")]
        sbom_out: Option<PathBuf>,
        /// Where the SBOM is fetched from with --metadata-url and --sbom-out
        /// (as `client --target-base-url`).
        #[arg(long, value_name = "URL", requires_all = ["metadata_url", "sbom_out"])]
        target_base_url: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        after_help = "Install, for example:\n  fwsign completions bash > ~/.local/share/bash-completion/completions/fwsign\n  fwsign completions zsh > \"${fpath[1]}/_fwsign\"\n  fwsign completions fish > ~/.config/fish/completions/fwsign.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Write man pages: `fwsign.1` and one per subcommand (`fwsign-repo-add.1`, ...).
    #[command(after_help = "Example:\n  fwsign man --out-dir ~/.local/share/man/man1")]
    Man {
        /// Write every page into DIR; without it, print `fwsign.1` on stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// The shells `fwsign completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShellArg {
    /// GNU Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Elvish.
    Elvish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlgorithmArg {
    /// ECDSA over NIST P-256 with SHA-256: every HSM family supports it.
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Write a new private key (PKCS#8, mode 0600) and its public key.
    #[command(after_help = "Example:\n  fwsign key generate --out alice.pem\n  \
        ALICE_PASS=... fwsign key generate --algorithm ed25519 --out alice.pem --passphrase-env ALICE_PASS\n  \
        FWSIGN_PIN=... fwsign key generate --pkcs11 'pkcs11:token=release;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:FWSIGN_PIN' --pub-out targets-1.pub.pem\n\n\
        With --out, writes NAME.pem and NAME.pub.pem. With --pkcs11, the key pair is made inside the token \
        (private key sensitive, non-extractable, sign only) and only the public key is written.")]
    Generate {
        /// The key algorithm.
        #[arg(long, value_enum, default_value = "ecdsa-p256")]
        algorithm: AlgorithmArg,
        /// Where to write the private key; the public key goes beside it as
        /// NAME.pub.pem.
        #[arg(long, required_unless_present = "pkcs11", conflicts_with = "pkcs11")]
        out: Option<PathBuf>,
        /// Generate inside a PKCS#11 token (RFC 7512 URI naming token and object).
        #[arg(long, value_name = "URI", requires = "pub_out")]
        pkcs11: Option<String>,
        /// With --pkcs11: where to write the public key.
        #[arg(long, value_name = "PUB.pem")]
        pub_out: Option<PathBuf>,
        /// Encrypt the private key with the passphrase in this environment
        /// variable. Without it, a terminal prompts twice (no echo); off a
        /// terminal, give this or --unencrypted.
        #[arg(long, value_name = "VAR", conflicts_with = "unencrypted")]
        passphrase_env: Option<String>,
        /// Write the private key in the clear (tests, keys held elsewhere).
        #[arg(long)]
        unencrypted: bool,
    },
    /// Print a key's ID, algorithm and public key.
    #[command(after_help = "Example:\n  fwsign key show alice.pub.pem")]
    Show {
        /// A public or private key file.
        key: PathBuf,
        /// Passphrase variable, for an encrypted private key.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Split a file key among N custodians, any K of whom can restore it.
    Backup(crate::cmd_key_backup::BackupArgs),
    /// Restore a key from K custodians' shares and the backup blob.
    Restore(crate::cmd_key_backup::RestoreArgs),
    /// Deal a backed-up key to new custodians: a new set and blob.
    Reshare(crate::cmd_key_backup::ReshareArgs),
    /// Check one custodian's share against the backup blob, alone.
    CheckShare(crate::cmd_key_backup::CheckShareArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyOpts {
    /// Environment variable holding the passphrase of encrypted key files
    /// (default FWSIGN_PASSPHRASE; prompted for on a terminal otherwise).
    #[arg(long, value_name = "VAR", global = true)]
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RepoCommand {
    /// Stage root version 1 and an empty targets role in a new repository.
    #[command(after_help = "Example:\n  fwsign repo init repo \\\n    \
        --root-key root1.pub.pem --root-key root2.pub.pem --root-threshold 2 \\\n    \
        --targets-key alice.pub.pem --targets-key bob.pub.pem --targets-key carol.pub.pem --targets-threshold 2 \\\n    \
        --snapshot-key online.pub.pem --timestamp-key online.pub.pem\n\n\
        Default expiries: root 1y, targets 90d, snapshot 1w, timestamp 1d (--expires targets=30d).")]
    Init {
        /// The repository directory (created).
        dir: PathBuf,
        /// A root key (public key file); repeat for each.
        #[arg(long = "root-key", value_name = "PUB", required = true)]
        root_keys: Vec<PathBuf>,
        /// How many root keys must sign a root.
        #[arg(long)]
        root_threshold: u64,
        /// A targets approver key; repeat for each.
        #[arg(long = "targets-key", value_name = "PUB", required = true)]
        targets_keys: Vec<PathBuf>,
        /// How many approvers must sign a release.
        #[arg(long)]
        targets_threshold: u64,
        /// The online snapshot key.
        #[arg(long, value_name = "PUB")]
        snapshot_key: PathBuf,
        /// The online timestamp key.
        #[arg(long, value_name = "PUB")]
        timestamp_key: PathBuf,
        /// Expiry period of a role: ROLE=DURATION (root, targets, delegated,
        /// snapshot, timestamp; DURATION like 90d, 12h, 1y).
        #[arg(long, value_name = "ROLE=DURATION")]
        expires: Vec<String>,
        /// Accept one key both online and as an approver.
        #[arg(long)]
        allow_shared_key: bool,
        /// Who holds a key: KEY=NAME or KEY=NAME <EMAIL>, KEY a public key
        /// file or a 64-hex key ID; repeat for each. Stored in the signed
        /// root (any key the root lists); NAME at most 64 characters, no control or bidirectional
        /// formatting characters.
        #[arg(long = "key-owner", value_name = "KEY=NAME")]
        key_owners: Vec<String>,
    },
    /// Stage firmware files as targets.
    #[command(
        after_help = "Examples:\n  fwsign repo add repo build/fw.bin --name board-a/fw-1.0.0.bin \\\n    \
        --hardware-id evc-a1 --version 1.0.0 --security-counter 3\n  \
        fwsign repo add repo build/images/ --prefix v1.0.0/ --hardware-id evc-a1 --version 1.0.0 --security-counter 3\n  \
        find out -name '*.bin' | fwsign repo add repo --files-from - --hardware-id evc-a1 --version 1.0.0 --security-counter 3\n\n\
        Names: a FILE is named by its file name; a DIR is read recursively, each file named by its path\n\
        relative to DIR; a --files-from line is NAME=PATH, or a relative PATH that is also the name.\n\
        --prefix goes before every name."
    )]
    Add {
        /// The repository.
        dir: PathBuf,
        /// Firmware files, or directories to stage every file of (recursively).
        #[arg(value_name = "FILE|DIR", required_unless_present = "files_from")]
        files: Vec<PathBuf>,
        /// Also stage the files listed in LIST, one per line (`-`: standard
        /// input): `NAME=PATH`, or a relative PATH that is also the target
        /// name. PATH is read relative to the current directory.
        #[arg(long, value_name = "LIST")]
        files_from: Option<PathBuf>,
        /// Hardware IDs the firmware runs on; repeat for each.
        #[arg(long = "hardware-id", value_name = "ID", required = true)]
        hardware_ids: Vec<String>,
        /// Firmware version (semantic version).
        #[arg(long)]
        version: String,
        /// Anti-rollback counter.
        #[arg(long)]
        security_counter: u64,
        /// Target name (one FILE only; default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Prefix for every target name, e.g. `board-a/`.
        #[arg(long)]
        prefix: Option<String>,
        /// Stage into this delegated role instead of `targets`.
        #[arg(long, default_value = "targets")]
        role: String,
        /// Extra custom field KEY=VALUE (VALUE read as JSON when it parses).
        #[arg(long, value_name = "KEY=VALUE")]
        custom: Vec<String>,
        /// Also list this hash (sha256 is always listed).
        #[arg(long, value_enum)]
        hash: Vec<HashArg>,
        /// Oldest bootloader version that can start the image (X.Y.Z, no
        /// prerelease: devices compare the three numbers only).
        #[arg(long)]
        min_bootloader_version: Option<String>,
        /// SHA-256 of the image's SBOM, published elsewhere.
        #[arg(long, conflicts_with = "sbom")]
        sbom_sha256: Option<String>,
        /// The image's SBOM (CycloneDX 1.4-1.6 or SPDX 2.2/2.3 JSON, checked
        /// against its official schema), published as its own target in
        /// the same role, named after the image with `.cdx.json` or
        /// `.spdx.json` appended; its name and SHA-256 go into the image's
        /// signed fields, so approvers sign it with the image. One FILE only.
        #[arg(long, value_name = "SBOM")]
        sbom: Option<PathBuf>,
        /// Replace a name the role already lists (staged or published) with
        /// other bytes; without it that is refused (exit 2, `target-exists`).
        #[arg(long)]
        replace: bool,
    },
    /// Stage the removal of a target.
    #[command(after_help = "Example:\n  fwsign repo remove repo board-a/fw-0.9.0.bin")]
    Remove {
        /// The repository.
        dir: PathBuf,
        /// The target name.
        name: String,
        /// The role listing it.
        #[arg(long, default_value = "targets")]
        role: String,
    },
    /// Stage a delegated targets role with its own approvers.
    #[command(
        after_help = "Examples:\n  fwsign repo delegate repo --role board-a --key dave.pub.pem --key erin.pub.pem \\\n    \
        --threshold 2 --paths 'board-a/*'\n  \
        fwsign repo delegate repo --role bins --hashed-bins 1024 --key dave.pub.pem --key erin.pub.pem \\\n    \
        --threshold 2\n\n\
        --hashed-bins N splits targets over N hash-prefixed bins (bins-000 .. bins-3ff; above 16 bins\n\
        in two levels, groups bins-g00 .. under targets), all terminating, all signed by these\n\
        approvers, each expiring in a year. `repo add --role bins` then routes every target to its\n\
        bin, and `repo sign --role 'bins-*'` signs every staged bin at once."
    )]
    Delegate {
        /// The repository.
        dir: PathBuf,
        /// The delegated role's name (with --hashed-bins: the bins' name
        /// prefix, and what `repo add --role` takes).
        #[arg(long)]
        role: String,
        /// An approver key; repeat for each.
        #[arg(long = "key", value_name = "PUB", required = true)]
        keys: Vec<PathBuf>,
        /// How many of them must sign.
        #[arg(long)]
        threshold: u64,
        /// Path patterns the role may sign for (python-tuf's rules).
        #[arg(
            long,
            value_name = "PATTERN",
            required_unless_present = "hashed_bins",
            conflicts_with = "hashed_bins",
            num_args = 1..
        )]
        paths: Vec<String>,
        /// Split the role into N hashed bins (a power of two, 2 to 65536):
        /// `path_hash_prefixes` delegations python-tuf and tough read.
        #[arg(long, value_name = "N")]
        hashed_bins: Option<u32>,
        /// Stop the target search at this role when a path matches.
        #[arg(long, conflicts_with = "hashed_bins")]
        terminating: bool,
        /// Accept one key both online and as an approver.
        #[arg(long)]
        allow_shared_key: bool,
        /// Who holds a key: KEY=NAME or KEY=NAME <EMAIL>, KEY a public key
        /// file or a 64-hex key ID; repeat for each. Stored in the signed
        /// delegating role (keys given with --key); NAME at most 64 characters, no control or bidirectional
        /// formatting characters.
        #[arg(long = "key-owner", value_name = "KEY=NAME")]
        key_owners: Vec<String>,
    },
    /// Stage the removal of a delegation: once published, clients no
    /// longer search the role, and its targets are no longer found.
    #[command(
        after_help = "Example:\n  fwsign repo undelegate repo board-a\n  fwsign repo undelegate repo board-a-beta --from board-a\n\n\
        The delegating role is staged without the delegation and needs its approvers. The\n\
        retired role's last version stays listed in the snapshot (clients refuse a snapshot\n\
        that drops a role). Roles only the removed role delegates would become unreachable:\n\
        refused, naming them, unless --recursive retires them too."
    )]
    Undelegate {
        /// The repository.
        dir: PathBuf,
        /// The delegated role whose delegation is removed.
        role: String,
        /// The delegating role (default: targets).
        #[arg(long, value_name = "ROLE")]
        from: Option<String>,
        /// Also retire the roles only ROLE delegates (they would become
        /// unreachable with it).
        #[arg(long)]
        recursive: bool,
    },
    /// Show what is staged, approvals and who may still sign.
    #[command(
        after_help = "Example:\n  fwsign repo status repo\n  fwsign repo status repo --check-expiry 7d   # exit 1 if a role expires within 7 days\n  fwsign repo status repo --check-expiry 14d --role root --role targets\n\n\
        Every published role is listed with its version and expiry; a role is flagged\n\
        EXPIRES SOON within a quarter of its configured expiry period (timestamp 1d: 6h,\n\
        targets 90d: 22.5 days, root 1y: about 91 days)."
    )]
    Status {
        /// The repository.
        dir: PathBuf,
        /// Exit 1 naming each published role that expires within DURATION.
        #[arg(long, value_name = "DURATION")]
        check_expiry: Option<String>,
        /// Check only this role's expiry (repeatable): a CI job can watch
        /// root and targets without tripping over the daily timestamp.
        #[arg(long = "role", value_name = "ROLE", requires = "check_expiry")]
        roles: Vec<String>,
    },
    /// List the published targets (or, with --staged, the staged ones):
    /// version, hardware IDs, security counter, size, the listing role and
    /// who approved it: each approver's name (when the metadata names one)
    /// beside the key ID (shortened; `--json` has it whole).
    #[command(
        after_help = "Example:\n  fwsign repo targets repo\n  fwsign repo targets repo --staged\n  fwsign --json repo targets repo   # {\"ok\", \"state\", \"targets\": [{\"name\", \"role\", \"firmware\", \"approvers\", ...}]}\n\n\
        Published targets come from the verified published state (a repository that fails\n\
        verification is refused, exit 1); an entry clients do not get for its name\n\
        (another role answers first) is marked."
    )]
    Targets {
        /// The repository.
        dir: PathBuf,
        /// List what the next release stages instead: every target of each
        /// staged role, marked added, changed or removed, with the approvals
        /// so far.
        #[arg(long)]
        staged: bool,
    },
    /// Add one approver's signature to a staged role.
    #[command(after_help = "Example:\n  fwsign repo sign repo --role targets --key alice.pem")]
    Sign {
        /// The repository.
        dir: PathBuf,
        /// The staged role, or a pattern (`'bins-*'`: `*`, `?`, `[seq]`)
        /// signing every staged role it matches with one key unlock.
        #[arg(long)]
        role: String,
        /// The approver's private key (file or pkcs11: URI).
        #[arg(long)]
        key: String,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Merge signatures from another copy of the staged files.
    #[command(after_help = "Example:\n  fwsign repo merge-signatures repo /mnt/bob/repo")]
    MergeSignatures {
        /// The repository.
        dir: PathBuf,
        /// The other copy.
        other: PathBuf,
    },
    /// Write the bytes to sign for a staged role (and FILE.json naming it),
    /// or a batch of every staged role a pattern matches.
    #[command(
        after_help = "Examples:\n  fwsign repo export-payload repo --role targets --out targets.payload\n  \
        fwsign repo export-payload repo --role 'bins-*' --out bins.batch\n\n\
        With a pattern (`*`, `?`, `[seq]`) OUT is one payload batch holding every matching staged\n\
        role's payload, description and change (no FILE.json); `fwsign sign-payload` signs it whole."
    )]
    ExportPayload {
        /// The repository.
        dir: PathBuf,
        /// The staged role, or a pattern for a batch (`'bins-*'`).
        #[arg(long)]
        role: String,
        /// Where to write the payload.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a signature made offline, or every signature of a signature batch, after verifying it.
    #[command(
        after_help = "Examples:\n  fwsign repo import-signature repo --role targets --pub carol.pub.pem --sig carol.sig\n  \
        fwsign repo import-signature repo --pub dave.pub.pem --sig dave.sigs\n\n\
        SIG may be hex, base64 or binary; DER or 64-byte r||s for ECDSA.\n\
        A signature batch (from `sign-payload` over a batch) is imported all or nothing:\n\
        one signature that does not verify refuses the batch, naming its role."
    )]
    ImportSignature {
        /// The repository.
        dir: PathBuf,
        /// The staged role (required for one signature); with a signature
        /// batch, a role or pattern every entry must match.
        #[arg(long)]
        role: Option<String>,
        /// The signer's public key.
        #[arg(long = "pub", value_name = "PUB")]
        public: PathBuf,
        /// The signature file.
        #[arg(long)]
        sig: PathBuf,
    },
    /// Publish the staged release once every role meets its threshold.
    #[command(
        after_help = "Example:\n  fwsign repo publish repo --snapshot-key online.pem --timestamp-key online.pem"
    )]
    Publish {
        /// The repository.
        dir: PathBuf,
        /// The online snapshot key.
        #[arg(long)]
        snapshot_key: String,
        /// The online timestamp key.
        #[arg(long)]
        timestamp_key: String,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Stage root N+1 with keys added, removed or thresholds changed.
    #[command(
        after_help = "Example:\n  fwsign repo rotate-root repo --add-key targets=dave.pub.pem \\\n    \
        --remove-key targets=<keyid> --threshold targets=2"
    )]
    RotateRoot {
        /// The repository.
        dir: PathBuf,
        /// ROLE=PUB: add a key to a top-level role.
        #[arg(long, value_name = "ROLE=PUB")]
        add_key: Vec<String>,
        /// ROLE=KEYID: remove a key from a top-level role.
        #[arg(long, value_name = "ROLE=KEYID")]
        remove_key: Vec<String>,
        /// ROLE=N: set a role's threshold.
        #[arg(long, value_name = "ROLE=N")]
        threshold: Vec<String>,
        /// New root expiry period.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Accept one key both online and as an approver.
        #[arg(long)]
        allow_shared_key: bool,
        /// Who holds a key: KEY=NAME or KEY=NAME <EMAIL>, KEY a public key
        /// file or a 64-hex key ID; repeat for each. Stored in the signed
        /// new root (any key it lists); NAME at most 64 characters, no control or bidirectional
        /// formatting characters.
        #[arg(long = "key-owner", value_name = "KEY=NAME")]
        key_owners: Vec<String>,
    },
    /// Re-sign snapshot and timestamp when they are due (scheduled job).
    #[command(
        after_help = "Example:\n  fwsign repo refresh repo --snapshot-key online.pem --timestamp-key online.pem --within 12h"
    )]
    Refresh {
        /// The repository.
        dir: PathBuf,
        /// The online snapshot key.
        #[arg(long)]
        snapshot_key: String,
        /// The online timestamp key.
        #[arg(long)]
        timestamp_key: String,
        /// Re-sign what expires within this time (default 12h).
        #[arg(long, value_name = "DURATION", default_value = "12h")]
        within: String,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Re-sign the timestamp now, whatever its expiry (a timestamp-only job).
    #[command(
        after_help = "Example:\n  fwsign repo refresh-timestamp repo --timestamp-key online.pem"
    )]
    RefreshTimestamp {
        /// The repository.
        dir: PathBuf,
        /// The online timestamp key.
        #[arg(long)]
        timestamp_key: String,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Stage a version of a role that only moves its expiry.
    #[command(after_help = "Example:\n  fwsign repo extend repo --role targets --expires 90d")]
    Extend {
        /// The repository.
        dir: PathBuf,
        /// The role, or a pattern (`'bins-*'`) re-staging every staged or
        /// published targets role it matches.
        #[arg(long)]
        role: String,
        /// The new expiry, from now.
        #[arg(long, value_name = "DURATION")]
        expires: String,
    },
    /// Verify the audit log against the published history: the root chain,
    /// the snapshot chain, and every head recorded in a published root,
    /// targets role or snapshot.
    #[command(
        after_help = "Example:\n  fwsign repo audit repo\n  fwsign repo audit repo --json   # JSON lines for a SIEM; the last is {\"head\":{\"line\":N,\"sha256\":H}}\n  fwsign repo audit repo --expect-head \"$(cat ../audit-head)\"   # the head a previous run stored outside\n  fwsign repo audit repo --forward syslog://siem.example:601 --sd-id fwsign@32473 --cursor /var/lib/fwsign/audit-cursor.json\n  fwsign repo audit repo --format ocsf --cursor ../ocsf-cursor.json >> events.ocsf.jsonl"
    )]
    Audit {
        /// The repository.
        dir: PathBuf,
        /// Exit 1 unless audit line LINE still has hash SHA256: a head kept
        /// outside the repository by a previous run (the only check that
        /// catches the log cut back after its newest signed anchor).
        #[arg(long, value_name = "LINE:SHA256", conflicts_with_all = ["forward", "format"])]
        expect_head: Option<String>,
        /// After verifying, send the log's events (those after --cursor) to
        /// a syslog server as RFC 5424 messages over TCP (octet-counting
        /// framing): syslog://HOST:PORT, or syslog+tls://HOST:PORT with --ca.
        #[arg(long, value_name = "URL", requires = "sd_id")]
        forward: Option<String>,
        /// Print the events (those after --cursor) on stdout, one per line,
        /// instead of sending them: `ocsf` (OCSF Entity Management JSON) or
        /// `syslog` (RFC 5424 messages, needs --sd-id).
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<AuditFormat>,
        /// The structured-data ID of the syslog messages, NAME@PEN with your
        /// organisation's IANA private enterprise number.
        #[arg(long, value_name = "NAME@PEN")]
        sd_id: Option<String>,
        /// A file outside the repository holding the last line sent
        /// ({"line": N, "sha256": "..."}): only later lines are sent, and it
        /// moves only once all were delivered. A log rewritten under it is
        /// reported as a critical event, exit 1.
        #[arg(long, value_name = "FILE")]
        cursor: Option<PathBuf>,
        /// The CA certificate (PEM) a syslog+tls:// server must chain to.
        #[arg(long, value_name = "FILE", requires = "forward")]
        ca: Option<PathBuf>,
    },
    /// Check the whole published repository as a client would: the root
    /// chain, timestamp, snapshot and every targets role (signatures,
    /// versions, lengths, hashes), the expiry of every role at TIME, every
    /// target file's length and hashes, and files no published version of
    /// any role references. Exit 1 naming each fault; what interrupted
    /// commands left (orphans) are warnings.
    #[command(
        after_help = "Example:\n  fwsign repo verify repo\n  fwsign repo verify repo --at 2027-01-01T00:00:00Z   # will it still verify then?\n  fwsign --json repo verify repo   # {\"ok\": ..., \"faults\": [{\"file\", \"role\", \"reason\", \"message\"}], \"warnings\": [...]}"
    )]
    Verify {
        /// The repository.
        dir: PathBuf,
        /// Check expiry at this time (UTC, YYYY-MM-DDTHH:MM:SSZ) instead of now.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// After a passing check, print every file a client may fetch
        /// (relative to DIR, one per line, `metadata/timestamp.json` last) on
        /// stdout: what an upload sends, orphans and temporaries left out.
        #[arg(long)]
        print_files: bool,
    },
    /// Upload the published repository to S3-compatible object storage:
    /// only files the metadata references, targets first and timestamp.json
    /// last (a compare-and-swap), refusing a bucket that is ahead.
    #[command(after_help = "Examples:\n  \
        AWS_REGION=eu-west-1 fwsign repo push repo s3://fw-updates/evc\n  \
        fwsign repo push repo s3://fw-updates/evc --endpoint https://minio.example:9000 --dry-run\n  \
        fwsign --json repo push repo s3://fw-updates/evc --verify-url https://updates.example.com/evc\n\n\
        Refused (exit 1, nothing uploaded) when the bucket's timestamp.json is at or above the local \
        version or names a snapshot this repository never published, and when an object the push \
        would write is there with other content. After pushing, the bucket (or --verify-url) is read \
        back through the TUF client; exit 1 if it does not verify.")]
    Push(crate::args_push::PushArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HashArg {
    /// SHA-512.
    Sha512,
}

#[derive(Debug, Args)]
pub(crate) struct SignPayloadArgs {
    /// The payload written by `fwsign repo export-payload` (FILE.json beside
    /// it), or a payload batch.
    pub file: PathBuf,
    /// The approver's private key (file or pkcs11: URI).
    #[arg(long)]
    pub key: String,
    /// Where to write the signature (hex), or the signature batch.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub key_opts: KeyOpts,
}

/// A number in decimal or `0x` hexadecimal.
pub(crate) fn parse_size(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a size (decimal or 0x hex, below 4 GiB)"))
}

/// How `repo audit --format` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuditFormat {
    /// RFC 5424 syslog messages, one per line.
    Syslog,
    /// OCSF Entity Management objects, one JSON object per line.
    Ocsf,
}
