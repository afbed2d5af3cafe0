//! Wire encodings of the JSON 1.1 protocol that serde does not give for free.

use crate::clock::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp as AWS sends it: a JSON number of epoch seconds with up to three decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch(pub Timestamp);

impl Serialize for Epoch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.epoch_seconds())
    }
}

impl From<Timestamp> for Epoch {
    fn from(t: Timestamp) -> Self {
        Self(t)
    }
}

/// A blob: standard base64 with padding, both ways.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("Base64 encoded data is invalid"))
    }
}

/// A JSON object whose members keep the order they were pushed in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Appends `text` as a JSON string, quoted and escaped byte for byte as `serde_json` writes it
/// (`\"`, `\\`, the short escapes of `\b \f \n \r \t`, `\u00xx` for other control characters,
/// everything else as it is). Values are the bulk of a GetSecretValue answer, and serde_json
/// looks at them a byte at a time; this skips eight bytes at a time while none needs escaping.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok())
            && !any_to_escape(u64::from_le_bytes(word))
        {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        let short = match byte {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            _ => None,
        };
        if short.is_some() || byte < 0x20 {
            out.extend_from_slice(&bytes[run..i]);
            run = i + 1;
            match short {
                Some(c) => out.extend_from_slice(&[b'\\', c]),
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
                }
            }
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (a word-wide
/// test; bytes of multi-byte characters, 0x80 and above, never count).
fn any_to_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    let zero = |w: u64| below(w, 1);
    (below(word, 0x20) | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "exactly8".into(),
            "sixteen bytes ok".into(),
            "{\"username\":\"admin\",\"password\":\"p\\a\\ss\"}".into(),
            "line\nbreak\ttab\rret\u{8}bs\u{c}ff\u{0}nul\u{1f}unit\u{7f}del".into(),
            "caf\u{e9} \u{1f600} \u{2028} \u{ffff} Ω≈ç√".into(),
        ];
        // Every ASCII byte at every position of a word, around words and runs of them.
        for byte in 0u8..0x80 {
            for at in 0..10 {
                let mut t = "x".repeat(at);
                t.push(char::from(byte));
                t.push_str(&"y".repeat(17 - at));
                texts.push(t);
            }
        }
        for text in &texts {
            let mut out = Vec::new();
            write_string(&mut out, text);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        let json = serde_json::to_string(&Epoch(Timestamp(1_523_477_145_713))).unwrap();
        assert_eq!(json, "1523477145.713");
        assert_eq!(serde_json::to_string(&Epoch(Timestamp(1_735_732_800_000))).unwrap(), "1735732800.0");
    }

    #[test]
    fn blobs_round_trip_base64() {
        assert_eq!(serde_json::to_string(&Blob(b"footest".to_vec())).unwrap(), "\"Zm9vdGVzdA==\"");
        let b: Blob = serde_json::from_str("\"Zm9vdGVzdA==\"").unwrap();
        assert_eq!(b.0, b"footest");
        assert!(serde_json::from_str::<Blob>("\"***\"").is_err());
    }

    #[test]
    fn ordered_map_keeps_order() {
        let m = OrderedMap(vec![("b".to_owned(), 1), ("a".to_owned(), 2)]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":1,"a":2}"#);
    }
}
