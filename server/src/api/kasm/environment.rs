//! Which environment variables a Developer API caller may set in a session (`request_kasm`'s
//! `environment`, `exec_command_kasm`'s `exec_config.environment`). Names must be plain
//! portable names (letters, digits, underscores; not starting with a digit; at most 128
//! characters); none may change how programs are loaded or started, or what the session
//! itself relies on: the dynamic loader's and glibc's (`LD_*`, `GCONV_PATH`, `GLIBC_TUNABLES`,
//! `MALLOC_*`...), the shells' start-up hooks (`BASH_ENV`, `ENV`, `BASH_FUNC_*`,
//! `PROMPT_COMMAND`, `IFS`...), interpreters' start-up options (`PYTHON*`, `PERL5*`, `RUBY*`,
//! `NODE_OPTIONS`...), the session's identity and display (`PATH`, `HOME`, `USER`, `SHELL`,
//! `DISPLAY`, `XDG_*`, `DBUS_*`) and Berth's own (`BERTH_*`).

/// Names refused outright.
const REFUSED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "IFS",
    "ENV",
    "BASH_ENV",
    "PS4",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "GLOBIGNORE",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "TMPDIR",
    "DISPLAY",
    "XAUTHORITY",
    "NODE_OPTIONS",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "GIO_EXTRA_MODULES",
    "GTK_MODULES",
    "GTK_PATH",
    "GST_PLUGIN_PATH",
    "QT_PLUGIN_PATH",
    "MOZ_PLUGIN_PATH",
    "OPENSSL_CONF",
    "SSLKEYLOGFILE",
];

/// Prefixes refused (loader, interpreters, session plumbing, Berth's own).
const REFUSED_PREFIXES: &[&str] = &[
    "LD_",
    "BASH_FUNC_",
    "MALLOC_",
    "PYTHON",
    "PERL5",
    "PERLLIB",
    "PERLIO",
    "RUBY",
    "GEM_",
    "XDG_",
    "DBUS_",
    "BERTH_",
];

/// Why `name` may not be set (`None`: it may).
pub fn refusal(name: &str) -> Option<String> {
    let portable = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !portable {
        return Some(format!(
            "environment variable {:?} is not a plain name (letters, digits and underscores, not starting with a digit)",
            name.chars().take(64).collect::<String>()
        ));
    }
    let upper = name.to_ascii_uppercase();
    if REFUSED.contains(&upper.as_str())
        || REFUSED_PREFIXES
            .iter()
            .any(|prefix| upper.starts_with(prefix))
    {
        return Some(format!(
            "environment variable {name} cannot be set: it changes how programs in the session load or start, or is the session's own"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_shell_and_interpreter_hooks_are_refused() {
        for name in [
            "LD_PRELOAD",
            "ld_preload",
            "BASH_ENV",
            "ENV",
            "PATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "NODE_OPTIONS",
            "GLIBC_TUNABLES",
            "BERTH_SESSION_SECRET",
            "XDG_CONFIG_HOME",
        ] {
            assert!(refusal(name).is_some(), "{name} was allowed");
        }
        // Not plain names: exported bash functions, '=', NUL, a leading digit.
        for name in ["BASH_FUNC_ls%%", "A=B", "A\0", "1ABC", "", "SPACE NAME"] {
            assert!(refusal(name).is_some(), "{name:?} was allowed");
        }
    }

    #[test]
    fn application_variables_are_allowed() {
        for name in [
            "FROM_KASM_CLIENT",
            "APP_MODE",
            "LANG",
            "TZ",
            "kasm_user",
            "_private",
        ] {
            assert_eq!(refusal(name), None, "{name}");
        }
    }
}
