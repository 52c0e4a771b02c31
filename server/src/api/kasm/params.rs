//! The Developer API's request fields, each read as Kasm clients send it and refused with
//! Kasm's messages: `Missing Parameters: <field> is missing` (400) when a required field is
//! absent, null or of another type, `Invalid Parameters: ...` (400) when it is there but wrong.
//! [`parse`] turns a body into an endpoint's request type and serde's errors into those
//! messages; the types' schemas say the same in the OpenAPI document.
use super::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// What a field type's check says when the field is absent or not even of the right type
/// (the field's name is added by [`parse`]); `missing:<name>` names another field.
const MISSING: &str = "missing";
/// Stands for the field's name in a field type's refusal.
const FIELD: &str = "{field}";

/// The endpoint's request from the body, or the refusal Kasm gives.
pub fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let field = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                _ => None,
            })
            .next_back()
            .unwrap_or_else(|| "the body".to_owned());
        refusal(&field, &error.into_inner().to_string())
    })
}

/// The refusal for `message` from the check of `field`.
fn refusal(field: &str, message: &str) -> ApiError {
    if let Some(absent) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return ApiError::Missing(absent.to_owned());
    }
    if message == MISSING {
        return ApiError::Missing(field.to_owned());
    }
    if let Some(named) = message.strip_prefix("missing:") {
        return ApiError::Missing(named.to_owned());
    }
    if message.starts_with("Invalid Parameters:") {
        return ApiError::Invalid(message.replace(FIELD, field));
    }
    ApiError::Invalid(format!("Invalid Parameters: {field}: {message}"))
}

/// Deserializes a field that is present, even as null, to `Some` (for fields where null
/// means "clear it" and absence means "keep it"; use with `#[serde(default)]`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A UUID, as 32 hex digits or dashed; required (empty counts as missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Id(pub Uuid);

impl TryFrom<Value> for Id {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) if !text.is_empty() => Uuid::parse_str(&text)
                .map(Id)
                .map_err(|_| format!("Invalid Parameters: {FIELD} is not a valid id")),
            _ => Err(MISSING.to_owned()),
        }
    }
}

/// A UUID in 32 hex digits or the dashed form, either case.
pub const ID_PATTERN: &str = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

impl PartialSchema for Id {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_PATTERN))
            .description(Some("A UUID: 32 hex digits, or the dashed form."))
            .examples(["0f4e6f1c9a3b4d2e8c7b6a5f4e3d2c1b"])
            .into()
    }
}

impl ToSchema for Id {
    fn name() -> Cow<'static, str> {
        "IdParameter".into()
    }
}

/// A string a call needs (any other type counts as missing).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Required(pub String);

impl TryFrom<Value> for Required {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(Required(text)),
            _ => Err(MISSING.to_owned()),
        }
    }
}

impl PartialSchema for Required {
    fn schema() -> RefOr<Schema> {
        String::schema()
    }
}

impl ToSchema for Required {}

/// An optional string (null is as good as absent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Text(pub String);

impl TryFrom<Value> for Text {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(Text(text)),
            _ => Err(format!("Invalid Parameters: {FIELD} must be a string")),
        }
    }
}

impl PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        String::schema()
    }
}

impl ToSchema for Text {}

/// An optional true or false (null is as good as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Flag(pub bool);

impl TryFrom<Value> for Flag {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(on) => Ok(Flag(on)),
            _ => Err(format!("Invalid Parameters: {FIELD} must be true or false")),
        }
    }
}

impl PartialSchema for Flag {
    fn schema() -> RefOr<Schema> {
        bool::schema()
    }
}

impl ToSchema for Flag {}

/// Whether an optional flag is set.
pub fn on(flag: Option<Flag>) -> bool {
    flag.is_some_and(|Flag(on)| on)
}

/// Environment variables for a session: an object of string values, each name one a caller
/// may set (see environment.rs).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Environment(pub serde_json::Map<String, Value>);

impl TryFrom<Value> for Environment {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        let invalid = || {
            "Invalid Parameters: environment must be an object of variable names and string values"
                .to_owned()
        };
        let Value::Object(variables) = value else {
            return Err(invalid());
        };
        if let Some(problem) = variables
            .keys()
            .find_map(|name| super::environment::refusal(name))
        {
            return Err(format!("Invalid Parameters: {problem}"));
        }
        if !variables.values().all(Value::is_string) {
            return Err(invalid());
        }
        Ok(Environment(variables))
    }
}

impl PartialSchema for Environment {
    fn schema() -> RefOr<Schema> {
        string_map().into()
    }
}

impl ToSchema for Environment {}

/// An object of string values whose names are plain (letters, digits, underscores).
pub fn string_map() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,127}$")),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            ObjectBuilder::new().schema_type(Type::String).into(),
        )))
}

/// A whole number of `min..=max` sent as a number or a string of digits.
pub fn whole_number(value: &Value, min: u64, max: u64) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
        .filter(|number| (min..=max).contains(number))
}

/// The schema of [`whole_number`]: an integer in range, or a string of digits.
pub fn whole_number_schema(min: u64, max: u64) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min as f64))
                .maximum(Some(max as f64)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^\\s*[0-9]{1,20}\\s*$")),
        )
        .into()
}

/// `width` or `height` of a screenshot: 1 to 65535 pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Pixels(pub u32);

impl TryFrom<Value> for Pixels {
    type Error = String;
    fn try_from(value: Value) -> Result<Self, String> {
        whole_number(&value, 1, 65535)
            .map(|pixels| Pixels(pixels as u32))
            .ok_or_else(|| {
                format!(
                    "Invalid Parameters: {FIELD} must be a whole number of pixels from 1 to 65535"
                )
            })
    }
}

impl PartialSchema for Pixels {
    fn schema() -> RefOr<Schema> {
        whole_number_schema(1, 65535)
    }
}

impl ToSchema for Pixels {}

/// Accepted for compatibility and not used: any value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Ignored(#[allow(dead_code)] serde::de::IgnoredAny);

impl PartialSchema for Ignored {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Accepted for compatibility; Berth does not use it."))
            .into()
    }
}

impl ToSchema for Ignored {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        user_id: Id,
        target: Target,
        enable_sharing: Option<Flag>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Target {
        name: Required,
    }

    fn message(body: Value) -> String {
        match parse::<Sample>(body).unwrap_err() {
            ApiError::Missing(field) => format!("Missing Parameters: {field} is missing"),
            ApiError::Invalid(message) => message,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_field_as_kasm_does() {
        let id = "0f4e6f1c9a3b4d2e8c7b6a5f4e3d2c1b";
        let cases = [
            (json!({}), "Missing Parameters: user_id is missing"),
            (
                json!({"user_id": 5}),
                "Missing Parameters: user_id is missing",
            ),
            (
                json!({"user_id": ""}),
                "Missing Parameters: user_id is missing",
            ),
            (
                json!({"user_id": "x"}),
                "Invalid Parameters: user_id is not a valid id",
            ),
            (
                json!({"user_id": id}),
                "Missing Parameters: target is missing",
            ),
            (
                json!({"user_id": id, "target": {}}),
                "Missing Parameters: name is missing",
            ),
            (
                json!({"user_id": id, "target": {"name": "a"}, "enable_sharing": "yes"}),
                "Invalid Parameters: enable_sharing must be true or false",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(message(body.clone()), expected, "{body}");
        }
        let dashed = "0f4e6f1c-9a3b-4d2e-8c7b-6a5f4e3d2c1b";
        let parsed: Sample =
            parse(json!({"user_id": dashed, "target": {"name": ""}, "enable_sharing": null}))
                .unwrap();
        assert_eq!(parsed.user_id.0.simple().to_string(), id);
    }
}
