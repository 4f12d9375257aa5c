//! The command line of `fwsign cert` and `fwsign ocpp`: X.509 firmware-signing
//! certificates and OCPP's signed firmware updates (a contract, like the
//! rest of `args`).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::args::KeyOpts;

#[derive(Debug, Subcommand)]
pub(crate) enum CertCommand {
    /// Make a self-signed manufacturer root certificate (P-256).
    #[command(
        after_help = "Example:\n  fwsign cert ca --key root-ca.pem --subject 'CN=ACME Firmware Root CA,O=ACME,C=DE' --out root.pem\n\n\
        CA:TRUE and keyCertSign, cRLSign (both critical); 20 years unless --days. \
        KEY is a file or a pkcs11: URI. For trials, and for manufacturers without a PKI."
    )]
    Ca {
        /// The root's private key (P-256; file or pkcs11: URI).
        #[arg(long)]
        key: String,
        /// Subject name, RFC 4514 (`CN=...,O=...,C=..`) or `/C=../O=../CN=..`.
        #[arg(long)]
        subject: String,
        /// Where to write the certificate (PEM; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 7305)]
        days: u32,
        /// Start of validity (RFC 3339; default an hour ago, for clock drift).
        #[arg(long, value_name = "TIME")]
        not_before: Option<String>,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Issue a firmware-signing certificate (or, with --intermediate, an intermediate CA).
    #[command(
        after_help = "Examples:\n  fwsign cert issue --ca-key root-ca.pem --ca-cert root.pem --pub signer.pub.pem \\\n    \
        --subject 'CN=ACME Firmware Signing 2026,O=ACME,C=DE' --out signer.pem\n  \
        fwsign cert issue --ca-key root-ca.pem --ca-cert root.pem --key inter.pem --subject 'CN=ACME Firmware CA 1' --intermediate --out inter.pem\n\n\
        A signing certificate is CA:FALSE and digitalSignature (both critical) with extended key usage \
        codeSigning (1.3.6.1.5.5.7.3.3), P-256, 1 to 3 years (default 730 days). An intermediate is \
        CA:TRUE with pathLenConstraint 0 (default 10 years)."
    )]
    Issue {
        /// The issuing CA's private key (P-256; file or pkcs11: URI).
        #[arg(long)]
        ca_key: String,
        /// The issuing CA's certificate.
        #[arg(long)]
        ca_cert: PathBuf,
        /// The subject's key (file or pkcs11: URI; only its public key is used).
        #[arg(long, required_unless_present = "public", conflicts_with = "public")]
        key: Option<String>,
        /// The subject's public key file.
        #[arg(long = "pub", value_name = "PUB")]
        public: Option<PathBuf>,
        /// Subject name, RFC 4514 or `/C=../O=../CN=..`.
        #[arg(long)]
        subject: String,
        /// Where to write the certificate (PEM; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Issue an intermediate CA instead of a signing certificate.
        #[arg(long)]
        intermediate: bool,
        /// Validity in days (signing certificate: 365 to 1096).
        #[arg(long)]
        days: Option<u32>,
        /// Start of validity (RFC 3339; default an hour ago, for clock drift).
        #[arg(long, value_name = "TIME")]
        not_before: Option<String>,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Write a PKCS#10 request for a firmware-signing certificate (for a corporate CA).
    #[command(
        after_help = "Example:\n  fwsign cert csr --key 'pkcs11:token=fw;object=signer-2026?module-path=...' \\\n    \
        --subject 'CN=ACME Firmware Signing 2026,O=ACME,C=DE' --out signer.csr\n\n\
        Requests CA:FALSE, digitalSignature and codeSigning; check what the CA returns with `fwsign cert verify`."
    )]
    Csr {
        /// The key to certify (P-256; file or pkcs11: URI).
        #[arg(long)]
        key: String,
        /// Subject name, RFC 4514 or `/C=../O=../CN=..`.
        #[arg(long)]
        subject: String,
        /// Where to write the request (PEM); stdout without it.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        key_opts: KeyOpts,
    },
    /// Check a firmware-signing certificate's path to the manufacturer root.
    #[command(
        after_help = "Example:\n  fwsign cert verify --root root.pem signer.pem inter.pem --at 2027-01-01T00:00:00Z\n\n\
        Checks signatures, validity, basicConstraints and keyUsage on the CAs, digitalSignature and \
        codeSigning on the signing certificate. Exit 1 names the failure (expired, not yet valid, \
        not a CA, wrong usage, bad signature, unknown issuer, self-signed)."
    )]
    Verify {
        /// The trusted manufacturer root.
        #[arg(long)]
        root: PathBuf,
        /// The firmware-signing certificate.
        signer: PathBuf,
        /// Intermediate certificates (files may hold several).
        intermediates: Vec<PathBuf>,
        /// Check validity at this time (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OcppVersionArg {
    /// OCPP 2.0.1: UpdateFirmwareRequest.
    #[value(name = "2.0.1")]
    V201,
    /// OCPP 1.6 security extension: SignedUpdateFirmware.req.
    #[value(name = "1.6")]
    V16,
}

#[derive(Debug, Args)]
pub(crate) struct OcppSignOpts {
    /// The signing key (ECDSA P-256; file or pkcs11: URI).
    #[arg(long)]
    pub key: String,
    /// The firmware-signing certificate (the key's).
    #[arg(long)]
    pub cert: PathBuf,
    /// Intermediate certificates, in order after the signing certificate.
    #[arg(long = "chain", value_name = "PEM")]
    pub chain: Vec<PathBuf>,
    /// Refuse (exit 1) unless the certificates lead to this root now.
    #[arg(long, value_name = "ROOT.pem")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub key_opts: KeyOpts,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OcppCommand {
    /// Sign a file as OCPP expects: Base64 DER ECDSA P-256 over SHA-256 of the file.
    #[command(
        after_help = "Example:\n  fwsign ocpp sign update.zip --key signer.pem --cert signer.pem.crt --chain inter.pem --out update.zip.sig\n\n\
        Same format as `openssl dgst -sha256 -sign key.pem FILE | base64 -w0`. \
        Any file: a firmware image or an fwsign bundle (then one file carries both the TUF approval and the OCPP signature)."
    )]
    Sign {
        /// The file to sign.
        file: PathBuf,
        #[command(flatten)]
        sign: OcppSignOpts,
        /// Write the Base64 signature here (stdout without it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a file and write the CSMS's UpdateFirmware / SignedUpdateFirmware request.
    #[command(
        after_help = "Example:\n  fwsign ocpp update-firmware update.zip --location https://fw.example.com/update.zip \\\n    \
        --retrieve-at 2026-12-01T02:00:00Z --request-id 42 --key signer.pem --cert signer.crt --out request.json\n\n\
        Times are RFC 3339 and written as given. Field limits (location 512, signingCertificate 5500, \
        signature 800 characters) are checked before anything is written."
    )]
    UpdateFirmware {
        /// The firmware file (or fwsign bundle) the charger will download.
        file: PathBuf,
        /// firmware.location: the URI the charger downloads from.
        #[arg(long)]
        location: String,
        /// firmware.retrieveDateTime (RFC 3339).
        #[arg(long, value_name = "TIME")]
        retrieve_at: String,
        /// firmware.installDateTime (RFC 3339).
        #[arg(long, value_name = "TIME")]
        install_at: Option<String>,
        /// requestId.
        #[arg(long, allow_negative_numbers = true)]
        request_id: i32,
        /// retries: download attempts before giving up.
        #[arg(long, allow_negative_numbers = true)]
        retries: Option<i32>,
        /// retryInterval: seconds between download attempts.
        #[arg(long, value_name = "S", allow_negative_numbers = true)]
        retry_interval: Option<i32>,
        /// The message: 2.0.1 (UpdateFirmwareRequest) or 1.6 (SignedUpdateFirmware.req).
        #[arg(long, value_enum, default_value = "2.0.1")]
        ocpp: OcppVersionArg,
        /// customData object (2.0.1 only), as JSON with a "vendorId".
        #[arg(long, value_name = "JSON")]
        custom_data: Option<String>,
        #[command(flatten)]
        sign: OcppSignOpts,
        /// Write the request payload here (stdout without it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a file and its request as the charger does, and report its OCPP status.
    #[command(
        after_help = "Example:\n  fwsign ocpp verify update.zip --request request.json --root root.pem --tuf-root 1.root.json\n\n\
        The certificate path to the root, then the signature over the file. Reports SignatureVerified \
        (exit 0), InvalidCertificate or InvalidSignature (exit 1) with the charger's security event. \
        With --tuf-root and an fwsign bundle, also checks the bundle's TUF approval."
    )]
    Verify {
        /// The downloaded file.
        file: PathBuf,
        /// The request (payload, or an OCPP-J CALL array).
        #[arg(long)]
        request: PathBuf,
        /// The manufacturer root the charger trusts.
        #[arg(long)]
        root: PathBuf,
        /// Check validity at this time (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The TUF root the charger trusts: also verify an fwsign bundle's approval.
        #[arg(long, value_name = "ROOT.json")]
        tuf_root: Option<PathBuf>,
    },
}
