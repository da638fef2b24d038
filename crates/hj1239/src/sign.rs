//! SM2 signatures of HJ 1239 packets (`obd.md` §8): SM2DSA with SM3 over the signed part of a
//! report, by the key in the terminal's security chip. Verification needs the chip's public key
//! (64 bytes, X then Y, as the activation message carries it) and the signer ID the terminal
//! signs with. Which ID HJ 1239 mandates is not settled: the GB/T 32918.2 default
//! ([`DEFAULT_SIGNER_ID`]) or the chip ID (one production firmware passes that), so the ID is a
//! setting; a wrong one makes every signature fail, which is what a receiver sees first.

use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature as Sm2Signature, SigningKey, VerifyingKey};

use crate::report::Signature;

/// The GB/T 32918.2 default distinguishing identifier.
pub const DEFAULT_SIGNER_ID: &str = "1234567812345678";

/// A signature that cannot be checked or does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The public key is not a point of the curve.
    #[error("the public key is not an SM2 point")]
    PublicKey,
    /// The secret key is not a valid scalar.
    #[error("the secret key is not a valid SM2 scalar")]
    SecretKey,
    /// R or S is zero or not below the group order.
    #[error("R or S is out of range")]
    Malformed,
    /// The data unit does not end in a signature block.
    #[error("the data unit does not end in a signature block (20, R, 20, S)")]
    Unsigned,
    /// The signature does not verify.
    #[error("the signature does not verify with this key and signer ID")]
    Mismatch,
}

fn verifying_key(public_key: &[u8; 64], signer_id: &str) -> Result<VerifyingKey, SignError> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(public_key);
    VerifyingKey::from_sec1_bytes(signer_id, &sec1).map_err(|_| SignError::PublicKey)
}

/// Checks `signature` over `message` with the chip's public key and signer ID.
pub fn verify(
    message: &[u8],
    signature: &Signature,
    public_key: &[u8; 64],
    signer_id: &str,
) -> Result<(), SignError> {
    let key = verifying_key(public_key, signer_id)?;
    let sig =
        Sm2Signature::from_scalars(signature.r, signature.s).map_err(|_| SignError::Malformed)?;
    key.verify(message, &sig).map_err(|_| SignError::Mismatch)
}

/// Checks an HJ 1239-2021 packet as received: the data unit's last 66 bytes are the signature
/// block, and it covers every byte before them. The bytes as received, not a re-encoding: two
/// encodings of the same values (an invalid marker `FEFF` or `FFFF`) differ.
pub fn verify_packet(
    data_unit: &[u8],
    public_key: &[u8; 64],
    signer_id: &str,
) -> Result<(), SignError> {
    let split = data_unit
        .len()
        .checked_sub(crate::report::SIGNATURE_LEN)
        .ok_or(SignError::Unsigned)?;
    let (signed, block) = data_unit.split_at(split);
    let signature = Signature::read(block).ok_or(SignError::Unsigned)?;
    verify(signed, &signature, public_key, signer_id)
}

/// Signs `message` as a terminal's chip would (deterministic nonce), for the simulator and
/// tests.
pub fn sign(
    message: &[u8],
    secret_key: &[u8; 32],
    signer_id: &str,
) -> Result<Signature, SignError> {
    let key = SigningKey::from_slice(signer_id, secret_key).map_err(|_| SignError::SecretKey)?;
    let sig: Sm2Signature = key.sign(message);
    Ok(Signature {
        r: sig.r_bytes().into(),
        s: sig.s_bytes().into(),
    })
}

/// The 64-byte public key (X then Y) of a secret key.
pub fn public_key(secret_key: &[u8; 32]) -> Result<[u8; 64], SignError> {
    let key =
        SigningKey::from_slice(DEFAULT_SIGNER_ID, secret_key).map_err(|_| SignError::SecretKey)?;
    let sec1 = key.verifying_key().to_sec1_bytes();
    let mut out = [0u8; 64];
    match sec1.get(1..65) {
        Some(xy) if sec1.len() == 65 => out.copy_from_slice(xy),
        _ => return Err(SignError::PublicKey),
    }
    Ok(out)
}
