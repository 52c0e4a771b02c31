//! File names a transfer may use: one plain name inside the session's `~/Uploads` or
//! `~/Downloads`, never a path. Checked by the web server before anything is streamed and again
//! by the agent, which is reached by the manager only; symbolic links are checked in the
//! container itself (`agent::files`).

/// The longest name accepted, in bytes (Linux's NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a name is refused: the message names the problem.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("The file name is empty.".into());
    }
    if name.contains('\0') {
        return Err("The file name contains a NUL character.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("The file name contains a control character.".into());
    }
    if name.starts_with('/') {
        return Err("The file name is an absolute path; give a plain name.".into());
    }
    if name == "." || name == ".." || name.split(['/', '\\']).any(|part| part == "..") {
        return Err("The file name climbs out of the folder (\"..\").".into());
    }
    if name.contains('/') {
        return Err("The file name contains \"/\"; give a plain name, not a path.".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "The file name is longer than {MAX_NAME_BYTES} bytes ({}).",
            name.len()
        ));
    }
    if name.starts_with(TEMPORARY_PREFIX) {
        return Err(format!(
            "Names starting with {TEMPORARY_PREFIX:?} are kept for uploads under way."
        ));
    }
    Ok(())
}

/// What an upload is written to until it is complete (then renamed to its name).
pub const TEMPORARY_PREFIX: &str = ".berth-upload.";

/// `name` percent-encoded for one path segment (every byte but unreserved ones).
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `Content-Disposition` header value for downloading `name`: an ASCII fallback and the
/// exact name (RFC 6266, RFC 5987), with nothing a browser could read as another parameter.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ';' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        encode_segment(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for good in [
            "report.pdf",
            "a b c.txt",
            "été.txt",
            ".hidden",
            "...",
            "a..b",
            "x\\y",
            &"n".repeat(255),
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn paths_and_tricks_are_refused_naming_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("..", "climbs"),
            (".", "climbs"),
            ("../etc/passwd", "climbs"),
            ("..\\..\\x", "climbs"),
            ("/etc/shadow", "absolute"),
            ("a/b", "\"/\""),
            ("a/", "\"/\""),
            ("a\0b", "NUL"),
            ("a\nb", "control"),
            ("a\rb", "control"),
            ("a\u{7f}b", "control"),
            ("a\u{9b}b", "control"),
            (".berth-upload.x1", "kept for uploads"),
        ];
        for (bad, problem) in cases {
            let message = check(bad).expect_err(bad);
            assert!(message.contains(problem), "{bad:?}: {message}");
        }
        let long = "é".repeat(128); // 256 bytes
        assert!(check(&long).unwrap_err().contains("255 bytes"));
    }

    #[test]
    fn names_are_encoded_for_urls_and_headers() {
        assert_eq!(encode_segment("a b/é%"), "a%20b%2F%C3%A9%25");
        assert_eq!(encode_segment("..."), "...");
        let header = content_disposition("x\";y=\"z é.txt");
        assert_eq!(
            header,
            "attachment; filename=\"x__y=_z _.txt\"; filename*=UTF-8''x%22%3By%3D%22z%20%C3%A9.txt"
        );
        assert!(axum::http::HeaderValue::from_str(&header).is_ok());
    }
}
