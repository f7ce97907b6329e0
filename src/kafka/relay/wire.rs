//! The few Kafka wire-protocol shapes the relay reads: request and response headers, and the
//! responses that name brokers (Metadata, FindCoordinator), whose broker addresses it rewrites.
//! Everything after the rewritten part is copied byte for byte.

use std::fmt;

/// API key of Metadata requests.
pub const METADATA: i16 = 3;
/// API key of FindCoordinator requests.
pub const FIND_COORDINATOR: i16 = 10;

/// Gives the address to advertise instead of a broker's `(host, port)`, or None to keep it.
pub type AddressMap<'a> = dyn Fn(&str, i32) -> Option<(String, i32)> + 'a;

/// A response the relay could not read; it is then forwarded unchanged.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed Kafka response: {}", self.0)
    }
}

/// API key, version and correlation id of a request frame (without its length prefix).
pub fn request_header(frame: &[u8]) -> Option<(i16, i16, i32)> {
    let mut r = Reader::new(frame);
    Some((r.i16().ok()?, r.i16().ok()?, r.i32().ok()?))
}

/// Correlation id of a response frame (without its length prefix).
pub fn response_correlation(frame: &[u8]) -> Option<i32> {
    Reader::new(frame).i32().ok()
}

/// Whether the relay must rewrite the response to this request.
pub fn names_brokers(api_key: i16) -> bool {
    api_key == METADATA || api_key == FIND_COORDINATOR
}

/// Rewrites the broker addresses in a Metadata or FindCoordinator response frame (without its
/// length prefix): `map(host, port)` gives the address to advertise instead, or None to keep.
pub fn rewrite_response(
    api_key: i16,
    version: i16,
    frame: &[u8],
    map: &AddressMap<'_>,
) -> Result<Vec<u8>, Malformed> {
    let flexible = match api_key {
        METADATA => version >= 9,
        FIND_COORDINATOR => version >= 3,
        _ => return Ok(frame.to_vec()),
    };
    let mut r = Reader::new(frame);
    let mut w = Writer::default();
    w.i32(r.i32()?); // correlation id
    if flexible {
        r.tagged_fields()?;
    }
    w.raw(&frame[4..r.pos]);
    match api_key {
        METADATA => metadata(&mut r, &mut w, version, flexible, map)?,
        _ => find_coordinator(&mut r, &mut w, version, flexible, map)?,
    }
    w.raw(&frame[r.pos..]);
    Ok(w.0)
}

fn metadata(
    r: &mut Reader<'_>,
    w: &mut Writer,
    version: i16,
    flexible: bool,
    map: &AddressMap<'_>,
) -> Result<(), Malformed> {
    if version >= 3 {
        w.i32(r.i32()?); // throttle_time_ms
    }
    let brokers = r.array_len(flexible)?;
    w.array_len(flexible, brokers);
    for _ in 0..brokers {
        w.i32(r.i32()?); // node_id
        address(r, w, flexible, map)?;
        if version >= 1 {
            w.nullable_string(flexible, r.nullable_string(flexible)?.as_deref()); // rack
        }
        if flexible {
            copy_tagged_fields(r, w)?;
        }
    }
    Ok(())
}

fn find_coordinator(
    r: &mut Reader<'_>,
    w: &mut Writer,
    version: i16,
    flexible: bool,
    map: &AddressMap<'_>,
) -> Result<(), Malformed> {
    if version >= 1 {
        w.i32(r.i32()?); // throttle_time_ms
    }
    if version <= 3 {
        w.i16(r.i16()?); // error_code
        if version >= 1 {
            w.nullable_string(flexible, r.nullable_string(flexible)?.as_deref());
        }
        w.i32(r.i32()?); // node_id
        return address(r, w, flexible, map);
    }
    let coordinators = r.array_len(flexible)?;
    w.array_len(flexible, coordinators);
    for _ in 0..coordinators {
        w.string(flexible, &r.string(flexible)?); // key
        w.i32(r.i32()?); // node_id
        address(r, w, flexible, map)?;
        w.i16(r.i16()?); // error_code
        w.nullable_string(flexible, r.nullable_string(flexible)?.as_deref());
        copy_tagged_fields(r, w)?;
    }
    Ok(())
}

/// Copies a tagged-field section as it is (the relay changes no tagged field).
fn copy_tagged_fields(r: &mut Reader<'_>, w: &mut Writer) -> Result<(), Malformed> {
    let start = r.pos;
    r.tagged_fields()?;
    w.raw(&r.buf[start..r.pos]);
    Ok(())
}

/// A broker's `host` and `port`, rewritten when `map` knows them.
fn address(
    r: &mut Reader<'_>,
    w: &mut Writer,
    flexible: bool,
    map: &AddressMap<'_>,
) -> Result<(), Malformed> {
    let host = r.string(flexible)?;
    let port = r.i32()?;
    let (host, port) = map(&host, port).unwrap_or((host, port));
    w.string(flexible, &host);
    w.i32(port);
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Malformed("length overflows"))?;
        let bytes = self.buf.get(self.pos..end).ok_or(Malformed("truncated"))?;
        self.pos = end;
        Ok(bytes)
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn uvarint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed("varint too long"))
    }

    fn array_len(&mut self, flexible: bool) -> Result<usize, Malformed> {
        let len = if flexible {
            self.uvarint()?
                .checked_sub(1)
                .ok_or(Malformed("null array"))?
        } else {
            u64::try_from(self.i32()?).map_err(|_| Malformed("null array"))?
        };
        // Each element takes at least one byte: a longer count is a lie, not a reason to loop.
        usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or(Malformed("array longer than the frame"))
    }

    fn nullable_string(&mut self, flexible: bool) -> Result<Option<String>, Malformed> {
        let len = if flexible {
            match self.uvarint()? {
                0 => return Ok(None),
                n => n - 1,
            }
        } else {
            match self.i16()? {
                -1 => return Ok(None),
                n => u64::try_from(n).map_err(|_| Malformed("negative string length"))?,
            }
        };
        let bytes = self.take(usize::try_from(len).map_err(|_| Malformed("string too long"))?)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Malformed("string is not UTF-8"))
    }

    fn string(&mut self, flexible: bool) -> Result<String, Malformed> {
        self.nullable_string(flexible)?
            .ok_or(Malformed("null where a string is required"))
    }

    fn tagged_fields(&mut self) -> Result<(), Malformed> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?; // tag
            let size = self.uvarint()?;
            self.take(usize::try_from(size).map_err(|_| Malformed("tagged field too long"))?)?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn i16(&mut self, v: i16) {
        self.raw(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.raw(&v.to_be_bytes());
    }

    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn array_len(&mut self, flexible: bool, len: usize) {
        if flexible {
            self.uvarint(len as u64 + 1);
        } else {
            self.i32(len as i32);
        }
    }

    fn nullable_string(&mut self, flexible: bool, s: Option<&str>) {
        match (s, flexible) {
            (None, true) => self.uvarint(0),
            (None, false) => self.i16(-1),
            (Some(s), true) => {
                self.uvarint(s.len() as u64 + 1);
                self.raw(s.as_bytes());
            }
            (Some(s), false) => {
                self.i16(s.len() as i16);
                self.raw(s.as_bytes());
            }
        }
    }

    fn string(&mut self, flexible: bool, s: &str) {
        self.nullable_string(flexible, Some(s));
    }
}

#[cfg(test)]
mod tests;
