//! The fixed-size signature value and its constant-time comparison.

use core::fmt;
use subtle::ConstantTimeEq;

/// The hashing method of the main `sign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5: the default, and the only method documented for the marketing
    /// transfers family (which must never receive `sign_type`).
    Md5,
    /// HMAC-SHA256 keyed with the API key (`sign_type=HMAC-SHA256` in the
    /// general v2 API).
    HmacSha256,
}

impl Algorithm {
    /// Length in hex characters of a signature made with this method.
    pub const fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::HmacSha256 => 64,
        }
    }

    /// The method a received signature of this length was made with, as the
    /// official SDKs decide it: 32 hex characters is MD5, 64 is HMAC-SHA256.
    pub const fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(Algorithm::Md5),
            64 => Some(Algorithm::HmacSha256),
            _ => None,
        }
    }
}

/// A computed signature: uppercase hexadecimal, 32 characters (MD5) or 64
/// (HMAC-SHA256), stored inline (no heap).
///
/// Equality with another `Signature` or with a received string
/// ([`Signature::matches`]) runs in constant time.
#[derive(Clone, Copy)]
pub struct Signature {
    hex: [u8; 64],
    len: u8,
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The two uppercase hex digits of each byte value, so that a digest is
/// written with one table load per byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX_UPPER[byte >> 4], HEX_UPPER[byte & 0x0f]];
        byte += 1;
    }
    pairs
};

impl Signature {
    pub(crate) fn from_digest(digest: &[u8]) -> Self {
        let mut hex = [0u8; 64];
        let n = digest.len().min(32);
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
        }
        Signature {
            hex,
            // n <= 32, so 2 * n <= 64 fits in a u8.
            len: (2 * n) as u8,
        }
    }

    /// The signature as uppercase hex, ready for the `sign` element.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into `hex`.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The signature's ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.hex[..usize::from(self.len)]
    }

    /// The method this signature was made with.
    pub fn algorithm(&self) -> Algorithm {
        if self.len == 64 {
            Algorithm::HmacSha256
        } else {
            Algorithm::Md5
        }
    }

    /// Whether a received signature equals this one, ignoring ASCII case, in
    /// time that depends only on the lengths (which are public).
    pub fn matches(&self, received: &str) -> bool {
        let received = received.as_bytes();
        if received.len() != usize::from(self.len) {
            return false;
        }
        let mut upper = [0u8; 64];
        for (dst, src) in upper.iter_mut().zip(received) {
            *dst = src.to_ascii_uppercase();
        }
        bool::from(self.as_bytes().ct_eq(&upper[..received.len()]))
    }
}

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && bool::from(self.as_bytes().ct_eq(other.as_bytes()))
    }
}

impl Eq for Signature {}

impl PartialEq<str> for Signature {
    fn eq(&self, other: &str) -> bool {
        self.matches(other)
    }
}

impl PartialEq<&str> for Signature {
    fn eq(&self, other: &&str) -> bool {
        self.matches(other)
    }
}

impl AsRef<str> for Signature {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.as_str())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
