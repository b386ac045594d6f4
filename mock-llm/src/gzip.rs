//! A minimal gzip encoder (RFC 1952 around uncompressed "stored" deflate blocks, RFC 1951),
//! enough for the `gzip` fault: a body any gzip decoder reads, sent to a client that never
//! asked for one. No compression: only the framing matters to the test.
//!
//! Invariant: the output is a valid gzip member of `data` (CRC-32 and length included).

/// Longest stored deflate block.
const BLOCK: usize = 0xFFFF;

/// `data` as one gzip member.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / BLOCK * 5 + 23);
    // Magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut blocks = data.chunks(BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        // `block` is at most BLOCK (u16::MAX) bytes long.
        let len = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected), bit by bit: bodies here are small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_member_has_the_gzip_framing_and_the_data_stored() {
        let data = vec![b'x'; BLOCK + 10];
        let gz = encode(&data);
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        // Two stored blocks: the first not final, full; the second final, 10 bytes.
        assert_eq!(&gz[10..15], &[0, 0xFF, 0xFF, 0, 0]);
        assert_eq!(&gz[15 + BLOCK..20 + BLOCK], &[1, 10, 0, 0xF5, 0xFF]);
        let n = gz.len();
        assert_eq!(gz[n - 4..], ((BLOCK + 10) as u32).to_le_bytes());
        assert_eq!(gz[n - 8..n - 4], crc32(&data).to_le_bytes());
    }
}
