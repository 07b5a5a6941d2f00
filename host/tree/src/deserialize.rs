//! Any serde-deserializable value (JSON text, `serde_json::Value`) into the encoding.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::*;

/// Appends the encoding of a serde-deserialized value.
pub(crate) struct Build<'w>(pub(crate) &'w mut Writer);

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.bool(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.i64(v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.u64(v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.f64(v);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.string(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.null();
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.null();
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let w = self.0;
        let mark = w.begin_array();
        let mut n = 0;
        while seq.next_element_seed(Build(w))?.is_some() {
            n += 1;
        }
        w.end_array(mark, n);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let w = self.0;
        let mark = w.begin_object();
        let mut n = 0;
        let mut sorted = true;
        let mut previous: Option<(usize, usize)> = None;
        loop {
            // A key is written as its length and then its bytes.
            let start = w.bytes.len() + 4;
            if map.next_key_seed(BuildKey(w))?.is_none() {
                break;
            }
            let key = (start, w.bytes.len());
            if let (Some(p), true) = (previous, sorted) {
                sorted = w.bytes[p.0..p.1] < w.bytes[key.0..key.1];
            }
            previous = Some(key);
            map.next_value_seed(Build(w))?;
            n += 1;
        }
        w.end_object(mark, n, sorted);
        Ok(())
    }
}

pub(crate) struct BuildKey<'w>(&'w mut Writer);

impl<'de> DeserializeSeed<'de> for BuildKey<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for BuildKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.key(v);
        Ok(())
    }
}
