//! Tolerant reading of the fields contract 0.2.0 added (security profiles, volumes, env, ...):
//! `null` reads as absent, and a field of the wrong JSON type reads as absent instead of failing
//! the whole object (manifests on disk are not validated by an API server). Every such field goes
//! through [`Lax`], which consumes any JSON value it is given, so one odd field never costs the
//! pod's other findings. The fields the seed read stay strict: a pod that was an input error
//! before still is one.
//!
//! ```text
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default, rename_all = "camelCase")]
//! struct Spec {
//!     #[serde(deserialize_with = "lax::opt")]
//!     host_users: Option<bool>,
//!     #[serde(deserialize_with = "lax::list")]
//!     volumes: Vec<Volume>,
//! }
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A value read leniently: `None` when it is `null` or of a JSON type `T` cannot be read from.
/// Whatever the value, it is consumed entirely, so the enclosing object reads on.
#[derive(Debug)]
pub struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(LaxVisitor(PhantomData))
            .map(Lax)
    }
}

struct LaxVisitor<T>(PhantomData<T>);

/// `T` from a scalar, or `None` when `T` is not that kind of value.
fn scalar<'de, T, D>(value: D) -> Option<T>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = de::value::Error>,
{
    T::deserialize(value).ok()
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for LaxVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(scalar(value.into_deserializer()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(scalar(value.into_deserializer()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(scalar(value.into_deserializer()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(scalar(value.into_deserializer()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(scalar(value.into_deserializer()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // A `T` that reads sequences consumes it all; any other fails before reading an
        // element, and the elements left are skipped.
        let value = T::deserialize(SeqAccessDeserializer::new(&mut seq)).ok();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let value = T::deserialize(MapAccessDeserializer::new(&mut map)).ok();
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(value)
    }
}

/// `deserialize_with` for an optional field read leniently.
pub fn opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Ok(Lax::<T>::deserialize(deserializer)?.0)
}

/// `deserialize_with` for a list: a value that is not a list reads as empty, and an element of
/// the wrong type (or `null`) is left out.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    let elements = Lax::<Vec<Lax<T>>>::deserialize(deserializer)?.0;
    Ok(elements
        .unwrap_or_default()
        .into_iter()
        .filter_map(|element| element.0)
        .collect())
}

/// `deserialize_with` for a string field whose absence reads as `""`.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(opt::<D, String>(deserializer)?.unwrap_or_default())
}
