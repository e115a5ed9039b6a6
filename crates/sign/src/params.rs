//! Collecting, checking and sorting parameters on the stack.

/// The most parameters one signature may cover. The largest request of the
/// family has 18 fields and the largest documented reply about 25; the rest
/// is headroom for fields WeChat adds to replies later.
pub const MAX_PARAMS: usize = 64;

/// Why a set of parameters cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A parameter name is empty or has a character outside `[a-z0-9_]`.
    #[error(
        "parameter name {name:?} is invalid: a name is one or more of the characters a-z, 0-9, _"
    )]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// The same name was given twice (even if one of the values is empty);
    /// which value to sign would be a guess.
    #[error("parameter `{name}` is given more than once")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A parameter named `sign` was passed for signing; `sign` never signs itself.
    #[error("a parameter named `sign` cannot be signed: `sign` is the result, not an input")]
    SignParameter,
    /// More parameters than [`MAX_PARAMS`].
    #[error("too many parameters: at most {max} can be signed")]
    TooMany {
        /// The limit, [`MAX_PARAMS`].
        max: usize,
    },
}

/// What to do with a parameter named `sign` while collecting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignField {
    /// Requests: a `sign` input is an error.
    Refuse,
    /// Replies: pull `sign` out as the value to verify against.
    Extract,
}

/// Bits of a sort key that hold the parameter's index in arrival order
/// (the key's last byte; the first seven hold the start of the name).
const INDEX_BITS: u32 = 8;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
// Every index below MAX_PARAMS fits in INDEX_BITS.
const _: () = assert!(MAX_PARAMS <= 1 << INDEX_BITS);

/// The 1 to 7 bytes of a short name, big-endian, zero-padded (`None` if
/// empty). Built from two overlapping loads in registers: writing the bytes
/// into a stack array and reading it back as one word stalls on store
/// forwarding.
#[inline(always)]
fn short_name_word(bytes: &[u8]) -> Option<u64> {
    let n = bytes.len() as u32;
    // `first` and `last` are the first and last `k` bytes (k <= n < 2k); the
    // bytes they share are equal, so OR-ing them in place is exact.
    let place = |first: u64, last: u64, k: u32| (first << (64 - 8 * k)) | (last << (64 - 8 * n));
    match n {
        1 => Some(u64::from(bytes[0]) << 56),
        2..=3 => {
            let first = u16::from_be_bytes(*bytes.first_chunk::<2>()?);
            let last = u16::from_be_bytes(*bytes.last_chunk::<2>()?);
            Some(place(u64::from(first), u64::from(last), 2))
        }
        4..=7 => {
            let first = u32::from_be_bytes(*bytes.first_chunk::<4>()?);
            let last = u32::from_be_bytes(*bytes.last_chunk::<4>()?);
            Some(place(u64::from(first), u64::from(last), 4))
        }
        _ => None,
    }
}

/// Checks that `name` is one or more of `[a-z0-9_]` and returns its sort
/// prefix: the first seven bytes, big-endian, zero-padded, in the top 56
/// bits (the last byte is left for the index). Name bytes are never zero, so
/// prefixes compare like the names' raw bytes, except that names sharing
/// their first seven bytes tie. The check is one table load per byte, with
/// no branch per byte.
#[inline(always)]
fn name_prefix(name: &str) -> Option<u64> {
    let bytes = name.as_bytes();
    let mut valid = true;
    for &b in bytes {
        valid &= NAME_BYTE[usize::from(b)];
    }
    if !valid {
        return None;
    }
    let head = match bytes.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => short_name_word(bytes)?,
    };
    Some(head & !INDEX_MASK)
}

/// Whether each byte value may appear in a name (`[a-z0-9_]`).
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'a'..=b'z' | b'0'..=b'9' | b'_');
        b += 1;
    }
    table
};

/// Parameters sorted by the raw bytes of their names, in fixed arrays on
/// the stack.
///
/// Each parameter gets a `u64` key, `name prefix | arrival index`; the keys
/// are sorted as plain integers, then the rare runs of names sharing a
/// 7-byte prefix are ordered by their full names. Built in place
/// ([`Sorted::new`], then [`Sorted::collect`]) so that the arrays are never
/// moved.
pub(crate) struct Sorted<'a> {
    /// Parameters in arrival order (`None` past `len`).
    params: [Option<(&'a str, &'a str)>; MAX_PARAMS],
    /// Sort keys of `params[..len]`, in name order.
    keys: [u64; MAX_PARAMS],
    len: usize,
    /// The `sign` value found while collecting with [`SignField::Extract`].
    pub(crate) sign: Option<&'a str>,
}

impl<'a> Sorted<'a> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Sorted {
            params: [None; MAX_PARAMS],
            keys: [0; MAX_PARAMS],
            len: 0,
            sign: None,
        }
    }

    /// Collects `params`, keeping only names for which `keep` is true, in
    /// order of name. Every name is checked, and duplicates are refused,
    /// whether or not the value is empty, so a typo or a repeated field never
    /// hides behind an empty value; empty values are then skipped when
    /// signing.
    pub(crate) fn collect<I>(
        &mut self,
        params: I,
        sign_field: SignField,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), SignError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        for (name, value) in params {
            if name == "sign" {
                match sign_field {
                    SignField::Refuse => return Err(SignError::SignParameter),
                    SignField::Extract => {
                        if self.sign.is_some() {
                            return Err(SignError::DuplicateName { name: name.into() });
                        }
                        self.sign = Some(value);
                        continue;
                    }
                }
            }
            let Some(prefix) = name_prefix(name) else {
                return Err(SignError::InvalidName { name: name.into() });
            };
            if !keep(name) {
                continue;
            }
            let index = self.len;
            let Some(slot) = self.params.get_mut(index) else {
                return Err(SignError::TooMany { max: MAX_PARAMS });
            };
            *slot = Some((name, value));
            // index < MAX_PARAMS <= 64, so it fits in INDEX_BITS.
            self.keys[index] = prefix | index as u64;
            self.len += 1;
        }
        // Plain integers: an in-place, allocation-free small sort.
        self.keys[..self.len].sort_unstable();
        self.order_ties()
    }

    fn name_at(&self, key: u64) -> &'a str {
        // Keys only ever hold indices of filled slots.
        self.params[(key & INDEX_MASK) as usize].map_or("", |(name, _)| name)
    }

    /// Orders each run of keys with equal prefixes by the full names (they
    /// are in arrival order so far) and refuses duplicate names, which always
    /// share a prefix.
    fn order_ties(&mut self) -> Result<(), SignError> {
        let mut start = 0;
        while start < self.len {
            let prefix = self.keys[start] >> INDEX_BITS;
            let mut end = start + 1;
            while end < self.len && self.keys[end] >> INDEX_BITS == prefix {
                end += 1;
            }
            if end - start > 1 {
                for i in start + 1..end {
                    let key = self.keys[i];
                    let name = self.name_at(key);
                    let mut at = i;
                    while at > start {
                        let before = self.name_at(self.keys[at - 1]);
                        if before.as_bytes() == name.as_bytes() {
                            return Err(SignError::DuplicateName { name: name.into() });
                        }
                        if before.as_bytes() < name.as_bytes() {
                            break;
                        }
                        self.keys[at] = self.keys[at - 1];
                        at -= 1;
                    }
                    self.keys[at] = key;
                }
            }
            start = end;
        }
        Ok(())
    }

    /// The sorted pairs with non-empty values.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.keys[..self.len]
            .iter()
            .filter_map(|&key| self.params[(key & INDEX_MASK) as usize])
            .filter(|(_, value)| !value.is_empty())
    }

    /// Feeds `k=v&k=v…&<suffix_name>=<secret>` to `update`.
    ///
    /// The pairs are copied into a stack buffer whose size is a multiple of
    /// the hash block size, so the hasher sees a few block-aligned calls
    /// instead of four small ones per pair. The secret is passed to `update`
    /// directly, never copied into the buffer.
    pub(crate) fn feed(&self, suffix_name: &str, secret: &str, update: impl FnMut(&[u8])) {
        let mut feeder = Feeder {
            buf: [0; FEED_BUF],
            len: 0,
            update,
        };
        for (name, value) in self.pairs() {
            feeder.push_pair(name.as_bytes(), value.as_bytes());
        }
        feeder.push(suffix_name.as_bytes());
        feeder.push_byte(b'=');
        feeder.flush();
        (feeder.update)(secret.as_bytes());
    }

    /// The canonical string with the secret shown as `***`.
    pub(crate) fn masked(&self, suffix_name: &str) -> String {
        let mut out = String::new();
        for (name, value) in self.pairs() {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push('&');
        }
        out.push_str(suffix_name);
        out.push_str("=***");
        out
    }
}

/// Size of the feed buffer: four 64-byte blocks (MD5 and SHA-256 both hash
/// 64-byte blocks), enough for a typical request in one or two calls.
const FEED_BUF: usize = 256;

/// A block-aligned staging buffer in front of a hasher's `update`.
struct Feeder<F: FnMut(&[u8])> {
    buf: [u8; FEED_BUF],
    len: usize,
    update: F,
}

impl<F: FnMut(&[u8])> Feeder<F> {
    /// Appends `bytes`; the common case (they fit) stays inline.
    #[inline(always)]
    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            copy_short(dst, bytes);
            self.len = end;
        } else {
            self.push_spilling(bytes);
        }
    }

    /// Appends `bytes` that do not fit: fills the buffer, hashes it, repeats.
    #[cold]
    #[inline(never)]
    fn push_spilling(&mut self, mut bytes: &[u8]) {
        loop {
            let room = FEED_BUF - self.len;
            if bytes.len() <= room {
                self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
                self.len += bytes.len();
                return;
            }
            let (head, rest) = bytes.split_at(room);
            self.buf[self.len..].copy_from_slice(head);
            (self.update)(&self.buf);
            self.len = 0;
            bytes = rest;
        }
    }

    /// Appends `name=value&`: one bounds check when the pair fits.
    #[inline(always)]
    fn push_pair(&mut self, name: &[u8], value: &[u8]) {
        let start = self.len;
        let end = start + name.len() + value.len() + 2;
        if let Some(dst) = self.buf.get_mut(start..end) {
            let (name_dst, rest) = dst.split_at_mut(name.len());
            copy_short(name_dst, name);
            if let Some((eq, rest)) = rest.split_first_mut() {
                *eq = b'=';
                let (value_dst, rest) = rest.split_at_mut(value.len());
                copy_short(value_dst, value);
                if let Some(amp) = rest.first_mut() {
                    *amp = b'&';
                }
            }
            self.len = end;
        } else {
            self.push(name);
            self.push_byte(b'=');
            self.push(value);
            self.push_byte(b'&');
        }
    }

    #[inline(always)]
    fn push_byte(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        } else {
            self.push_spilling(&[byte]);
        }
    }

    fn flush(&mut self) {
        (self.update)(&self.buf[..self.len]);
        self.len = 0;
    }
}

/// `dst.copy_from_slice(src)` for slices of equal length, with the short
/// lengths of parameter names and values done as two overlapping
/// fixed-size copies instead of a call to `memcpy`.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    #[inline(always)]
    fn overlapping<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (
            dst.get_mut(n - N..).and_then(|d| d.first_chunk_mut::<N>()),
            src.last_chunk::<N>(),
        ) {
            *d = *s;
        }
    }
    match src.len() {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => overlapping::<2>(dst, src),
        4..=7 => overlapping::<4>(dst, src),
        8..=15 => overlapping::<8>(dst, src),
        16..=32 => overlapping::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}
