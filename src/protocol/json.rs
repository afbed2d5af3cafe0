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
/// looks at them a byte at a time; this looks at a chunk at a time (a check without an early
/// exit, which the compiler turns into vector instructions) and copies clean chunks whole.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    // Past 128 a clean text gains little; a text full of quotes (a JSON value) loses.
    const CHUNK: usize = 128;
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Most strings are short (names, ids, ARNs): a fixed-size block is checked without a loop.
    let clean = match bytes.len() {
        0..=16 => Some(is_clean::<16>(bytes)),
        17..=64 => Some(is_clean::<64>(bytes)),
        _ => None,
    };
    if clean == Some(true) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut copied = 0;
    for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
        if !chunk.iter().fold(false, |any, &b| any | needs_escape(b)) {
            continue;
        }
        let start = n * CHUNK;
        out.extend_from_slice(&bytes[copied..start]);
        for &byte in chunk {
            if needs_escape(byte) {
                escape(out, byte);
            } else {
                out.push(byte);
            }
        }
        copied = start + chunk.len();
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Whether `bytes` (at most `N` of them) need no escaping, checked as a block of `N` padded
/// with a byte that needs none.
fn is_clean<const N: usize>(bytes: &[u8]) -> bool {
    let mut block = [b' '; N];
    block[..bytes.len()].copy_from_slice(bytes);
    !block.iter().fold(false, |any, &b| any | needs_escape(b))
}

/// Writes a struct's member name: serde's derive gives identifiers of this crate (or their
/// `rename`s), which never need escaping — debug builds check it.
fn write_key(out: &mut Vec<u8>, key: &'static str) {
    debug_assert!(!key.bytes().any(needs_escape), "member name {key:?} needs escaping");
    out.reserve(key.len() + 3);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Control characters, `"` and `\\` (bytes of multi-byte characters, 0x80 and above, never).
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            let hex = [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]];
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Serialises `value` as compact JSON, the same text `serde_json::to_vec` writes, with strings
/// escaped by [`write_string`]: the journal writes every change this way, and its records are
/// mostly base64 and ARNs. Raw values (serde_json's, and [`Raw`]) are written as they are. `Err`
/// for what this writer does not take (a map key that is not a string, a number or a bool),
/// which the caller then hands to serde_json.
///
/// # Errors
/// See above, and any error of `value`'s own `Serialize`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, WriteError> {
    to_vec_with_capacity(value, 256)
}

/// [`to_vec`] into a buffer of `capacity` bytes to start with.
///
/// # Errors
/// See [`to_vec`].
pub fn to_vec_with_capacity<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Vec<u8>, WriteError> {
    let mut writer = Writer { out: Vec::with_capacity(capacity), raw: false };
    value.serialize(&mut writer)?;
    Ok(writer.out)
}

/// Why [`to_vec`] did not write a value.
#[derive(Debug)]
pub struct WriteError(String);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteError {}

impl serde::ser::Error for WriteError {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        Self(message.to_string())
    }
}

struct Writer {
    out: Vec<u8>,
    /// The next string is a raw value's JSON text, written as it is.
    raw: bool,
}

impl Writer {
    fn number(&mut self, n: impl itoa::Integer) {
        self.out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// `{"variant":` of an enum's newtype, tuple or struct variant.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_string(&mut self.out, variant);
        self.out.push(b':');
    }
}

/// A sequence, map or struct being written: whether a comma is due before the next item.
struct Compound<'w> {
    writer: &'w mut Writer,
    first: bool,
    /// A variant's `{"variant":` is closed after the contents.
    variant: bool,
    /// A raw value: its one field is the JSON text, and nothing else is written.
    raw: bool,
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
    }

    fn close(self, end: u8) {
        self.writer.out.push(end);
        if self.variant {
            self.writer.out.push(b'}');
        }
    }
}

/// The name serde_json gives the struct a raw value serialises as (one field of that name, the
/// JSON text): serde_json and [`to_vec`] both write the text as it is.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// JSON text written into a document as it is, by serde_json and by [`to_vec`] alike, without
/// parsing it first as a `&RawValue` must be. The text must be valid JSON: the writer of the text
/// (this module or serde_json) vouches for it.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a>(pub &'a str);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        debug_assert!(serde_json::from_str::<&serde_json::value::RawValue>(self.0).is_ok(), "not JSON: {}", self.0);
        let mut raw = s.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0)?;
        raw.end()
    }
}

/// Every integer type is written the same way, by `itoa`.
macro_rules! integers {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<(), WriteError> {
            self.number(v);
            Ok(())
        })*
    };
}

impl<'w> Serializer for &'w mut Writer {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
    }
    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        serde_json::to_writer(&mut self.out, &v).map_err(serde::ser::Error::custom)
    }
    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        serde_json::to_writer(&mut self.out, &v).map_err(serde::ser::Error::custom)
    }
    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        write_string(&mut self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        if std::mem::take(&mut self.raw) {
            self.out.extend_from_slice(v.as_bytes());
        } else {
            write_string(&mut self.out, v);
        }
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), WriteError> {
        use serde::ser::SerializeSeq as _;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), WriteError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), WriteError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), WriteError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w>, WriteError> {
        self.out.push(b'[');
        Ok(Compound { writer: self, first: true, variant: false, raw: false })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w>, WriteError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'w>, WriteError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        self.open_variant(variant);
        self.out.push(b'[');
        Ok(Compound { writer: self, first: true, variant: true, raw: false })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w>, WriteError> {
        self.out.push(b'{');
        Ok(Compound { writer: self, first: true, variant: false, raw: false })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'w>, WriteError> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Compound { writer: self, first: true, variant: false, raw: true });
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, WriteError> {
        self.open_variant(variant);
        self.out.push(b'{');
        Ok(Compound { writer: self, first: true, variant: true, raw: false })
    }
}

impl serde::ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.comma();
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close(b']');
        Ok(())
    }
}

/// Tuples of every kind are written as sequences.
macro_rules! as_sequence {
    ($trait:ident, $method:ident) => {
        impl serde::ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = WriteError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> Result<(), WriteError> {
                serde::ser::SerializeSeq::end(self)
            }
        }
    };
}

as_sequence!(SerializeTuple, serialize_element);
as_sequence!(SerializeTupleStruct, serialize_field);
as_sequence!(SerializeTupleVariant, serialize_field);

impl serde::ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        self.comma();
        let start = self.writer.out.len();
        key.serialize(&mut *self.writer)?;
        // serde_json quotes number and bool keys; anything else cannot be a key.
        match self.writer.out.get(start) {
            Some(b'"') => {}
            Some(b'-' | b'0'..=b'9' | b't' | b'f') => {
                self.writer.out.insert(start, b'"');
                self.writer.out.push(b'"');
            }
            _ => return Err(serde::ser::Error::custom("a map key must be a string")),
        }
        self.writer.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), WriteError> {
        self.close(b'}');
        Ok(())
    }
}

impl serde::ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), WriteError> {
        if self.raw {
            self.writer.raw = true;
            value.serialize(&mut *self.writer)?;
            if std::mem::take(&mut self.writer.raw) {
                return Err(serde::ser::Error::custom("a raw value is not text"));
            }
            return Ok(());
        }
        self.comma();
        write_key(&mut self.writer.out, key);
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), WriteError> {
        if !self.raw {
            self.close(b'}');
        }
        Ok(())
    }
}

impl serde::ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), WriteError> {
        serde::ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), WriteError> {
        serde::ser::SerializeStruct::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        use std::collections::BTreeMap;
        #[derive(Serialize)]
        enum Kind {
            Unit,
            New(u8),
            Tuple(i32, String),
            Struct { a: Option<bool>, b: Vec<u8> },
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Sample {
            name: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            none: Option<u8>,
            kinds: Vec<Kind>,
            numbers: (i64, u64, f64, f32, i128),
            by_name: BTreeMap<String, Vec<String>>,
            by_number: BTreeMap<i64, bool>,
            by_flag: BTreeMap<bool, ()>,
            letter: char,
            blob: Blob,
            epoch: Epoch,
            value: serde_json::Value,
        }
        let sample = Sample {
            name: "a \"quoted\"\nname \u{1} é 😀".into(),
            skipped: None,
            none: None,
            kinds: vec![
                Kind::Unit,
                Kind::New(7),
                Kind::Tuple(-3, "t".into()),
                Kind::Struct { a: Some(true), b: vec![0, 255] },
            ],
            numbers: (i64::MIN, u64::MAX, 1.5e-7, 0.1, -170_141_183_460_469_231_731_687_303_715_884_105_728),
            by_name: [("k\"1".to_owned(), vec!["v".to_owned()]), ("k2".to_owned(), vec![])].into_iter().collect(),
            by_number: [(-5, true), (12, false)].into_iter().collect(),
            by_flag: [(true, ())].into_iter().collect(),
            letter: '"',
            blob: Blob(b"foo".to_vec()),
            epoch: Epoch(Timestamp(1_523_477_145_713)),
            value: serde_json::json!({"n": 1, "f": 2.25, "s": "x\ty", "l": [null, false], "o": {}}),
        };
        assert_eq!(String::from_utf8(to_vec(&sample).unwrap()).unwrap(), serde_json::to_string(&sample).unwrap());
        assert_eq!(to_vec(&f64::NAN).unwrap(), serde_json::to_vec(&f64::NAN).unwrap());
        let raw = serde_json::value::RawValue::from_string(r#"{"a": [1, "x\"y"]}"#.into()).unwrap();
        assert_eq!(to_vec(&raw).unwrap(), serde_json::to_vec(&raw).unwrap(), "written as it is");
        let ours = (Raw(r#"{"n":1}"#), Some(Raw("[]")), "after");
        assert_eq!(to_vec(&ours).unwrap(), serde_json::to_vec(&ours).unwrap());
        assert_eq!(to_vec(&ours).unwrap(), br#"[{"n":1},[],"after"]"#);
    }

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
            // Several in one word, and next to bytes of multi-byte characters.
            "ab\u{1}\"\\\ncd\u{1f}\u{e9}\"\u{e9}\u{0}é\\xyz".into(),
        ];
        // Every ASCII byte at the start, the end and around the edges of the chunks looked at
        // whole, and escapes in neighbouring chunks.
        for byte in 0u8..0x80 {
            for at in (0..10).chain(120..136).chain(250..260).chain(290..300) {
                let mut t = "x".repeat(at);
                t.push(char::from(byte));
                t.push_str(&"y".repeat(299 - at));
                texts.push(t.clone());
                t.insert(0, '"');
                texts.push(t);
            }
        }
        // Short texts of every length through the block sizes, each with an escape anywhere.
        for len in 1..=70 {
            texts.push("z".repeat(len));
            for at in 0..len {
                for byte in ['"', '\\', '\n', '\u{1f}', '\u{7f}', 'é'] {
                    let mut t: Vec<char> = "z".repeat(len).chars().collect();
                    t[at] = byte;
                    texts.push(t.into_iter().collect());
                }
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
