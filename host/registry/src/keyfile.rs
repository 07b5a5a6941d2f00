//! cosign's key files and signatures, with ring (the crypto provider rustls already uses,
//! so one is compiled in): `cosign.pub` is a PEM `PUBLIC KEY` (PKIX); `cosign.key` is a
//! PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or cosign's older `ENCRYPTED COSIGN PRIVATE
//! KEY`) whose body is the JSON cosign and sigstore-rs write: a PKCS#8 key sealed with
//! NaCl secretbox under a key derived by scrypt (N 32768 or 65536, r 8, p 1) from the
//! password; an unencrypted PKCS#8 `PRIVATE KEY` is read too. Signing is ECDSA P-256
//! with SHA-256, ASN.1 signatures, as `cosign generate-key-pair` keys sign; verification
//! also takes P-384 and Ed25519 public keys.
//!
//! Key files are the user's own (trusted); signatures come from registries (not
//! trusted): a signature is only ever checked, its bytes never parsed beyond what ring
//! verifies.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, VerificationAlgorithm};
use serde::{Deserialize, Serialize};

const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PRIVATE_LABEL: &str = "PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";

/// DER of a SubjectPublicKeyInfo up to its key bytes, for each kind of key accepted.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// scrypt's cost as cosign writes it, and the only costs read (a key file cannot ask
/// for gigabytes of memory).
const SCRYPT_N: u32 = 32768;
const SCRYPT_N_HIGH: u32 = 65536;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

fn pem_text(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// A public key signatures are checked with.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    alg: &'static dyn VerificationAlgorithm,
    key: Vec<u8>,
}

impl VerifyingKey {
    /// A PEM `PUBLIC KEY`: ECDSA P-256 (cosign's), P-384 or Ed25519.
    pub fn from_pem(text: &[u8]) -> Result<VerifyingKey, String> {
        let p = pem::parse(text).map_err(|e| format!("not PEM: {e}"))?;
        if p.tag() != PUBLIC_LABEL {
            return Err(format!("a PEM {}, not a {PUBLIC_LABEL}", p.tag()));
        }
        let der = p.contents();
        let kinds: [(&[u8], usize, &'static dyn VerificationAlgorithm); 3] = [
            (P256_SPKI, 65, &signature::ECDSA_P256_SHA256_ASN1),
            (P384_SPKI, 97, &signature::ECDSA_P384_SHA384_ASN1),
            (ED25519_SPKI, 32, &signature::ED25519),
        ];
        kinds
            .into_iter()
            .find_map(|(prefix, len, alg)| {
                let key = der.strip_prefix(prefix).filter(|k| k.len() == len)?;
                Some(VerifyingKey {
                    alg,
                    key: key.to_vec(),
                })
            })
            .ok_or_else(|| {
                "not an ECDSA P-256, P-384 or Ed25519 key (cosign's keys are P-256)".to_string()
            })
    }

    /// Whether `signature` (base64, as cosign's annotation holds it) signs `payload`.
    pub fn verifies(&self, signature_b64: &str, payload: &[u8]) -> bool {
        let Ok(sig) = B64.decode(signature_b64.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(self.alg, &self.key)
            .verify(payload, &sig)
            .is_ok()
    }
}

/// An ECDSA P-256 private key.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SigningKey {
    /// cosign.key: encrypted with `password`, or a plain PKCS#8 `PRIVATE KEY`.
    pub fn from_pem(text: &[u8], password: &[u8]) -> Result<SigningKey, String> {
        let p = pem::parse(text).map_err(|e| format!("not PEM: {e}"))?;
        let der = match p.tag() {
            SIGSTORE_LABEL | COSIGN_LABEL => decrypt(p.contents(), password)?,
            PRIVATE_LABEL => p.contents().to_vec(),
            other => return Err(format!("a PEM {other}, not a cosign private key")),
        };
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der, &rng)
            .map_err(|e| {
                format!("not an ECDSA P-256 PKCS#8 key ({e}); tollgate signs with P-256 keys")
            })?;
        Ok(SigningKey { pair, rng })
    }

    /// The ASN.1 DER signature over `payload`, base64.
    pub fn sign(&self, payload: &[u8]) -> Result<String, String> {
        let sig = self
            .pair
            .sign(&self.rng, payload)
            .map_err(|_| "signing failed".to_string())?;
        Ok(B64.encode(sig.as_ref()))
    }
}

/// A new key pair as `cosign generate-key-pair` writes it: (cosign.key encrypted with
/// `password`, cosign.pub).
pub fn generate(password: &[u8]) -> Result<(String, String), String> {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| "no random numbers")?;
    let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|e| e.to_string())?;
    let spki = [P256_SPKI, pair.public_key().as_ref()].concat();
    let sealed = encrypt(pkcs8.as_ref(), password, &rng)?;
    Ok((
        pem_text(SIGSTORE_LABEL, sealed),
        pem_text(PUBLIC_LABEL, spki),
    ))
}

/// The JSON body of an encrypted key.
#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn box_key(password: &[u8], salt: &[u8], n: u32) -> Result<[u8; 32], String> {
    let params = scrypt::Params::new(n.ilog2() as u8, SCRYPT_R, SCRYPT_P)
        .map_err(|e| format!("scrypt: {e}"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key).map_err(|e| format!("scrypt: {e}"))?;
    Ok(key)
}

fn decrypt(body: &[u8], password: &[u8]) -> Result<Vec<u8>, String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let s: Sealed =
        serde_json::from_slice(body).map_err(|e| format!("not an encrypted cosign key: {e}"))?;
    if s.kdf.name != "scrypt" || s.cipher.name != "nacl/secretbox" {
        return Err(format!(
            "encrypted with {} and {}; cosign keys use scrypt and nacl/secretbox",
            s.kdf.name, s.cipher.name
        ));
    }
    let p = &s.kdf.params;
    if !(p.n == SCRYPT_N || p.n == SCRYPT_N_HIGH) || p.r != SCRYPT_R || p.p != SCRYPT_P {
        return Err(format!(
            "unexpected scrypt parameters N={} r={} p={}",
            p.n, p.r, p.p
        ));
    }
    let b64 = |what: &str, v: &str| B64.decode(v).map_err(|e| format!("{what}: {e}"));
    let salt = b64("salt", &s.kdf.salt)?;
    let nonce = b64("nonce", &s.cipher.nonce)?;
    let nonce: [u8; 24] = nonce
        .try_into()
        .map_err(|_| "the nonce is not 24 bytes".to_string())?;
    let ciphertext = b64("ciphertext", &s.ciphertext)?;
    let key = box_key(password, &salt, p.n)?;
    crypto_secretbox::XSalsa20Poly1305::new(&key.into())
        .decrypt(&nonce.into(), ciphertext.as_slice())
        .map_err(|_| "wrong password (is COSIGN_PASSWORD the key's password?)".to_string())
}

fn encrypt(plain: &[u8], password: &[u8], rng: &SystemRandom) -> Result<Vec<u8>, String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rng.fill(&mut salt).map_err(|_| "no random numbers")?;
    rng.fill(&mut nonce).map_err(|_| "no random numbers")?;
    let key = box_key(password, &salt, SCRYPT_N)?;
    let ciphertext = crypto_secretbox::XSalsa20Poly1305::new(&key.into())
        .encrypt(&nonce.into(), plain)
        .map_err(|_| "encryption failed".to_string())?;
    let sealed = Sealed {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams {
                n: SCRYPT_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ciphertext),
    };
    serde_json::to_vec(&sealed).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sign() {
        let (private, public) = generate(b"pw").unwrap();
        assert!(private.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let key = SigningKey::from_pem(private.as_bytes(), b"pw").unwrap();
        let verifying = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        let sig = key.sign(b"payload").unwrap();
        assert!(verifying.verifies(&sig, b"payload"));
        assert!(!verifying.verifies(&sig, b"other payload"));
        assert!(!verifying.verifies("not base64!", b"payload"));
        let e = SigningKey::from_pem(private.as_bytes(), b"wrong")
            .err()
            .unwrap();
        assert!(e.contains("wrong password"), "{e}");
    }

    /// A key pair written by sigstore-rs 0.15 (`tollgate plugin keygen` before this
    /// module replaced it; password `fixture-password`): decrypted here, its private key
    /// is the one its public key file names, and what it signs verifies.
    #[test]
    fn keys_written_by_sigstore_rs_are_read() {
        let private = include_bytes!("fixtures/sigstore-rs.key");
        let public = include_bytes!("fixtures/sigstore-rs.pub");
        let key = SigningKey::from_pem(private, b"fixture-password").unwrap();
        let verifying = VerifyingKey::from_pem(public).unwrap();
        assert_eq!(key.pair.public_key().as_ref(), verifying.key.as_slice());
        let sig = key.sign(b"payload").unwrap();
        assert!(verifying.verifies(&sig, b"payload"));
        assert!(SigningKey::from_pem(private, b"fixture").is_err());
    }

    /// The encrypted key of sigstore-rs' own test (kdf.rs, `serde_kdf`) reads as JSON of
    /// the same shape: field names, base64 and the scrypt parameters.
    #[test]
    fn sigstore_rs_encrypted_key_json_has_this_shape() {
        let body = br#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"+QseLb/O/0j2dG201MALNSv2xLcclv6UvpXZVvXGT0k="},"cipher":{"name":"nacl/secretbox","nonce":"B5zH5d9AwoPkgaPAwIgpnft2BO6HZM/j"},"ciphertext":"RQPqIJtoWjlVC49xXNG+zfkGrJF3DWIhdRArI0XeTjGx04QzjAAeybGgW4T9JWKuYYe49NIZCEOD2G8cisMJ9KXHPaxT6Q/lLa8XrkavRrzkaD3xj8tc2AAntvUz8OACtH3zmimeFLr+EtecDb/UNjNFCtW1SlIh6DsfTsbBL67uQqLrFQMW8r70SvsZLkXV8mFhMsKyVryWlQ=="}"#;
        // Its password is unknown: the shape is read, the seal refuses.
        let e = decrypt(body, b"").unwrap_err();
        assert!(e.contains("wrong password"), "{e}");
    }
}
