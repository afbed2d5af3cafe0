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

#[cfg(test)]
mod tests {
    use super::*;

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
