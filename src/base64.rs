//! Base64 (RFC 4648) encoding, the two alphabets the proxy writes: the
//! standard one with padding (PEM for redis-rs) and the URL-safe one
//! without padding (client keys, which travel in headers and env files).

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard alphabet, `=` padding (RFC 4648 §4).
pub fn standard(data: &[u8]) -> String {
    encode(data, STANDARD, true)
}

/// URL- and filename-safe alphabet, no padding (RFC 4648 §5).
pub fn url_unpadded(data: &[u8]) -> String {
    encode(data, URL_SAFE, false)
}

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(alphabet[((n >> shift) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_match_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(standard(plain.as_bytes()), encoded);
            assert_eq!(
                url_unpadded(plain.as_bytes()),
                encoded.trim_end_matches('=')
            );
        }
        // The two alphabets differ only in the last two characters.
        assert_eq!(standard(&[0xfb, 0xff]), "+/8=");
        assert_eq!(url_unpadded(&[0xfb, 0xff]), "-_8");
    }
}
