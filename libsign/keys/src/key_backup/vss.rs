//! Feldman verifiable secret sharing of the wrap key, through `vsss-rs`.
//!
//! The wrap key is a random scalar of P-256's group order; the AES-256 key
//! the blob is sealed with is derived from it ([`aes_key`]). Splitting,
//! share verification and interpolation are `vsss-rs`'s own code: this file
//! only chooses the types, keeps every secret in wiped storage, and
//! converts to and from the bytes shares and blobs hold.

use p256::elliptic_curve::Field as _;
use p256::elliptic_curve::PrimeField as _;
use p256::elliptic_curve::group::{Group as _, GroupEncoding as _};
use p256::{ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};
use vsss_rs::subtle::ConstantTimeEq as _;
use vsss_rs::{
    DefaultShare, Feldman, FeldmanVerifierSet, IdentifierPrimeField, Polynomial,
    ReadableShareSet as _, Shamir, ValueGroup,
};
use zeroize::{Zeroize as _, Zeroizing};

/// One share as `vsss-rs` computes with it: the custodian's index as a
/// field element, and the polynomial's value there.
type VssShare = DefaultShare<IdentifierPrimeField<Scalar>, IdentifierPrimeField<Scalar>>;
/// A Feldman commitment: a coefficient times the P-256 base point.
type Commitment = ValueGroup<ProjectivePoint>;

/// Bytes of a P-256 scalar (a share value, the wrap key).
pub(super) const SCALAR_LEN: usize = 32;
/// Bytes of a compressed SEC1 P-256 point (a commitment).
pub(super) const POINT_LEN: usize = 33;

/// Domain separation of the AES key from every other use of the scalar
/// (the commitment to it, above all, is public).
const AES_KEY_LABEL: &[u8] = b"fwsign key backup: AES-256-GCM wrap key v1\0";

/// The polynomial `vsss-rs` fills with the secret and random coefficients,
/// in storage wiped when dropped: `vsss-rs`'s own `Vec` polynomial is
/// dropped without being wiped, and its coefficients are as secret as the
/// wrap key (any one of them, with K-1 shares, gives the secret away).
struct WipedPolynomial(Vec<VssShare>);

impl Polynomial<VssShare> for WipedPolynomial {
    fn create(size_hint: usize) -> Self {
        Self(vec![VssShare::default(); size_hint])
    }

    fn coefficients(&self) -> &[VssShare] {
        &self.0
    }

    fn coefficients_mut(&mut self) -> &mut [VssShare] {
        &mut self.0
    }
}

impl Drop for WipedPolynomial {
    fn drop(&mut self) {
        for coefficient in &mut self.0 {
            coefficient.zeroize();
        }
    }
}

/// `vsss-rs`'s Feldman scheme over [`WipedPolynomial`], with shares and
/// commitments in `Vec`s.
struct WipedFeldman;

impl Shamir<VssShare> for WipedFeldman {
    type InnerPolynomial = WipedPolynomial;
    type ShareSet = Vec<VssShare>;
}

impl Feldman<VssShare, Commitment> for WipedFeldman {
    type VerifierSet = Vec<Commitment>;
}

/// A wrap key: a uniformly random non-zero scalar, wiped when dropped.
pub(super) struct WrapKey(Zeroizing<[u8; SCALAR_LEN]>);

impl WrapKey {
    /// A fresh key from the operating system's generator (uniform:
    /// `ff`'s rejection sampling), through the fallible interface so a
    /// failing generator is an error, not a panic.
    pub(super) fn generate() -> Result<Self, getrandom::Error> {
        loop {
            // Zero has probability 2^-256; drawing again keeps the secret
            // a valid, non-trivial polynomial intercept regardless.
            let mut scalar = Scalar::try_random(&mut getrandom::SysRng)?;
            if !bool::from(scalar.is_zero()) {
                let key = Self(Zeroizing::new(scalar.to_repr().into()));
                scalar.zeroize();
                return Ok(key);
            }
        }
    }

    /// The AES-256-GCM key sealed under this wrap key: SHA-256 of a label
    /// and the scalar. The scalar is uniform over 2^256 - 2^224 values, so
    /// the hash is a sound key derivation, and it separates the AES key from
    /// the public commitment `scalar * G`.
    pub(super) fn aes_key(&self) -> Zeroizing<[u8; 32]> {
        let mut hasher = Sha256::new();
        hasher.update(AES_KEY_LABEL);
        hasher.update(self.0.as_slice());
        Zeroizing::new(hasher.finalize().into())
    }
}

/// The operating system's generator as the infallible `CryptoRng` `vsss-rs`
/// and `ff` ask for. `UnwrapErr` panics if the OS generator fails; callers
/// first draw the set ID through the fallible `getrandom::fill`, so a broken
/// generator is reported as an error before any secret is drawn, and on
/// Linux `getrandom(2)` does not fail once it has succeeded.
fn os_rng() -> getrandom::rand_core::UnwrapErr<getrandom::SysRng> {
    getrandom::rand_core::UnwrapErr(getrandom::SysRng)
}

/// A share's index and value, as shares and blobs store them.
pub(super) struct RawShare {
    pub(super) index: u8,
    pub(super) value: Zeroizing<[u8; SCALAR_LEN]>,
}

/// Splits `key` into `n` shares, any `k` of which recover it, and returns
/// them with the `k` Feldman commitments (compressed points).
pub(super) fn split(
    key: &WrapKey,
    k: u8,
    n: u8,
) -> Result<(Vec<RawShare>, Vec<[u8; POINT_LEN]>), vsss_rs::Error> {
    let mut secret =
        IdentifierPrimeField(scalar_from(&key.0).ok_or(vsss_rs::Error::InvalidSecret)?);
    let result = WipedFeldman::split_secret_with_verifier(
        usize::from(k),
        usize::from(n),
        &secret,
        None,
        os_rng(),
    );
    secret.zeroize();
    let (shares, verifiers) = result?;
    let mut shares = Zeroizing::new(shares);
    let raw = shares
        .iter()
        .map(|s| {
            let index = index_of(&s.identifier).ok_or(vsss_rs::Error::SharingInvalidIdentifier)?;
            Ok(RawShare {
                index,
                value: Zeroizing::new(s.value.0.to_repr().into()),
            })
        })
        .collect::<Result<Vec<_>, vsss_rs::Error>>();
    shares.zeroize();
    // The first element is the generator (`vsss-rs`'s layout); the
    // commitments follow it.
    let commitments =
        <Vec<Commitment> as FeldmanVerifierSet<VssShare, Commitment>>::verifiers(&verifiers)
            .iter()
            .map(|c| {
                let bytes = c.0.to_bytes();
                let mut out = [0u8; POINT_LEN];
                out.copy_from_slice(bytes.as_slice());
                out
            })
            .collect();
    Ok((raw?, commitments))
}

/// Why the commitments or shares cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum VssFailure {
    /// A commitment is not a P-256 point, or is the identity.
    BadCommitment(usize),
    /// A share's value is not a scalar, or is zero.
    BadValue,
    /// The share does not lie on the committed polynomial.
    NotOnPolynomial,
}

/// Commitments parsed into a verifier set with the standard generator
/// first (never one read from a file).
pub(super) struct Commitments(Vec<Commitment>);

impl Commitments {
    pub(super) fn parse(points: &[[u8; POINT_LEN]]) -> Result<Self, VssFailure> {
        let mut set = Vec::with_capacity(points.len() + 1);
        set.push(ValueGroup(ProjectivePoint::GENERATOR));
        for (i, bytes) in points.iter().enumerate() {
            let mut repr =
                <ProjectivePoint as p256::elliptic_curve::group::GroupEncoding>::Repr::default();
            repr.copy_from_slice(bytes);
            let point: Option<ProjectivePoint> = ProjectivePoint::from_bytes(&repr).into();
            match point {
                Some(p) if !bool::from(p.is_identity()) => set.push(ValueGroup(p)),
                _ => return Err(VssFailure::BadCommitment(i)),
            }
        }
        Ok(Self(set))
    }

    /// Feldman's check: `value * G == sum(C_j * index^j)`.
    pub(super) fn verify(&self, share: &RawShare) -> Result<(), VssFailure> {
        let vss = to_vss(share)?;
        <Vec<Commitment> as FeldmanVerifierSet<VssShare, Commitment>>::verify_share(&self.0, &vss)
            .map_err(|_| VssFailure::NotOnPolynomial)
    }

    /// Interpolates the secret from verified shares and checks it against
    /// the commitment to the intercept (`C_0 = secret * G`), in constant
    /// time.
    pub(super) fn combine(&self, shares: &[&RawShare]) -> Result<WrapKey, VssFailure> {
        let mut set = Zeroizing::new(
            shares
                .iter()
                .map(|s| to_vss(s))
                .collect::<Result<Vec<_>, _>>()?,
        );
        let combined = set.combine();
        set.zeroize();
        let mut secret = combined.map_err(|_| VssFailure::NotOnPolynomial)?;
        let intercept = self.0.get(1).ok_or(VssFailure::BadCommitment(0))?;
        let matches = (ProjectivePoint::GENERATOR * secret.0).ct_eq(&intercept.0);
        let key = WrapKey(Zeroizing::new(secret.0.to_repr().into()));
        secret.zeroize();
        if bool::from(matches) {
            Ok(key)
        } else {
            Err(VssFailure::NotOnPolynomial)
        }
    }
}

fn to_vss(share: &RawShare) -> Result<VssShare, VssFailure> {
    let value = scalar_from(&share.value).ok_or(VssFailure::BadValue)?;
    if bool::from(value.is_zero()) || share.index == 0 {
        return Err(VssFailure::BadValue);
    }
    Ok(DefaultShare {
        identifier: IdentifierPrimeField(Scalar::from(u64::from(share.index))),
        value: IdentifierPrimeField(value),
    })
}

/// A canonical scalar from its 32 big-endian bytes (none for values at or
/// above the group order).
fn scalar_from(bytes: &[u8; SCALAR_LEN]) -> Option<Scalar> {
    Scalar::from_repr((*bytes).into()).into()
}

/// The small integer a share identifier stands for (`vsss-rs` numbers
/// shares 1, 2, ...).
fn index_of(id: &IdentifierPrimeField<Scalar>) -> Option<u8> {
    let repr = id.0.to_repr();
    let (high, low) = repr.split_at(SCALAR_LEN - 1);
    if high.iter().all(|&b| b == 0) {
        low.first().copied().filter(|&i| i != 0)
    } else {
        None
    }
}
