//! Column types the `Any` driver does not decode itself, for
//! `#[derive(sqlx::FromRow)]` rows: JSON kept as TEXT, flags kept as
//! integers, and closed sets of states kept as their text.

use serde_json::Value;
use sqlx::any::{Any, AnyArguments, AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::query::Query;

use super::{Conn, DbResult};
use sqlx::decode::Decode;
use sqlx::error::BoxDynError;
use sqlx::types::Type;

/// Declares a TEXT-JSON column type whose NULL or unreadable value reads
/// as `$default`.
macro_rules! json_text {
    ($(#[$meta:meta])* $name:ident, $default:expr) => {
        $(#[$meta])*
        pub struct $name(pub Value);

        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <Option<String> as Decode<Any>>::decode(value)?;
                Ok($name(
                    text.and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_else(|| $default),
                ))
            }
        }

        impl From<$name> for Value {
            fn from(v: $name) -> Value {
                v.0
            }
        }
    };
}

json_text!(
    /// A JSON object in a TEXT column (`{}` when absent).
    JsonObject,
    Value::Object(Default::default())
);
json_text!(
    /// A JSON array in a TEXT column (`[]` when absent).
    JsonArray,
    Value::Array(Vec::new())
);

impl<T: serde::de::DeserializeOwned> From<JsonArray> for Vec<T> {
    fn from(v: JsonArray) -> Vec<T> {
        serde_json::from_value(v.0).unwrap_or_default()
    }
}

/// A nullable TEXT column holding JSON of `T` (absent or unreadable:
/// `None`).
pub struct JsonOpt<T>(pub Option<T>);

impl<T> Type<Any> for JsonOpt<T> {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r, T: serde::de::DeserializeOwned> Decode<'r, Any> for JsonOpt<T> {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <Option<String> as Decode<Any>>::decode(value)?;
        Ok(JsonOpt(text.and_then(|t| serde_json::from_str(&t).ok())))
    }
}

impl<T> From<JsonOpt<T>> for Option<T> {
    fn from(v: JsonOpt<T>) -> Option<T> {
        v.0
    }
}

/// A boolean stored as an integer (0 or 1) on both engines.
pub struct Flag(pub bool);

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
    }
}

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

/// Reads a row as `T` (for `.map(read)` over fetched rows).
pub fn read<T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>>(
    r: &sqlx::any::AnyRow,
) -> super::DbResult<T> {
    Ok(T::from_row(r)?)
}

/// Makes a value of one row.
pub trait Reader<T>: Fn(&AnyRow) -> DbResult<T> {}

impl<T, F: Fn(&AnyRow) -> DbResult<T>> Reader<T> for F {}

/// Reads what a query gives with a row reader: each row of it, or the one
/// row there may be.
#[allow(async_fn_in_trait)] // implemented here once, for sqlx's query
pub trait ReadRows {
    async fn read_all<T>(self, conn: &mut Conn, read: impl Reader<T>) -> DbResult<Vec<T>>;
    async fn read_one<T>(self, conn: &mut Conn, read: impl Reader<T>) -> DbResult<Option<T>>;
}

impl<'q> ReadRows for Query<'q, Any, AnyArguments<'q>> {
    async fn read_all<T>(self, conn: &mut Conn, read: impl Reader<T>) -> DbResult<Vec<T>> {
        self.fetch_all(conn).await?.iter().map(read).collect()
    }

    async fn read_one<T>(self, conn: &mut Conn, read: impl Reader<T>) -> DbResult<Option<T>> {
        self.fetch_optional(conn).await?.as_ref().map(read).transpose()
    }
}
