//! Input rules shared by the UI forms and the APIs. Each returns the error to show.
use crate::AppError;

pub const MIN_PASSWORD_LEN: usize = 8;

pub fn username(value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid("username", "Enter a username."));
    }
    if value.chars().count() > 64 {
        return Err(AppError::invalid(
            "username",
            "A username has at most 64 characters.",
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
    {
        return Err(AppError::invalid(
            "username",
            "A username may contain only letters, digits and . _ @ -",
        ));
    }
    Ok(value.to_owned())
}

pub fn password(field: &str, value: &str) -> Result<(), AppError> {
    if value.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(
            field,
            format!("A password needs at least {MIN_PASSWORD_LEN} characters."),
        ));
    }
    if value.len() > 1024 {
        return Err(AppError::invalid(
            field,
            "A password has at most 1024 bytes.",
        ));
    }
    Ok(())
}

/// A free-text field such as a first name: trimmed, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("At most {max} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "Control characters are not allowed.",
        ));
    }
    Ok(value.to_owned())
}

pub fn role(value: &str) -> Result<crate::model::Role, AppError> {
    crate::model::Role::parse(value)
        .ok_or_else(|| AppError::invalid("role", "The role must be admin or user."))
}

pub fn uuid(field: &str, value: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(value.trim())
        .map_err(|_| AppError::invalid(field, format!("'{value}' is not a valid id.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_restricted() {
        assert_eq!(username("  alice ").unwrap(), "alice");
        assert_eq!(username("a.b_c@d-e").unwrap(), "a.b_c@d-e");
        assert_eq!(username("").unwrap_err().field(), Some("username"));
        assert!(username("bad name").is_err());
        assert!(username("<script>").is_err());
        assert!(username(&"x".repeat(65)).is_err());
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(password("password", "1234567").is_err());
        assert!(password("password", "12345678").is_ok());
    }

    #[test]
    fn text_fields_are_bounded() {
        assert_eq!(text("first_name", " Ann ", 10).unwrap(), "Ann");
        assert!(text("first_name", &"x".repeat(11), 10).is_err());
        assert!(text("first_name", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn roles_and_ids_are_parsed_or_refused() {
        assert!(role("admin").is_ok());
        assert!(role("root").is_err());
        assert!(uuid("user_id", "not-a-uuid").is_err());
    }
}
