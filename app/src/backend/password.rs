//! Argon2id password hashing, off the async runtime (hashing is deliberately slow), a few at
//! a time: each hash or verification takes Argon2's 19 MiB, so unbounded, a burst of sign-ins
//! or API calls with made-up secrets would take as many gigabytes as it has requests in flight.
use crate::AppError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::LazyLock;
use tokio::sync::Semaphore;

pub fn hash_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::Internal(format!("password hashing failed: {error}")))
}

pub fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The memory one Argon2 computation takes (the crate's default parameters: m = 19456 KiB).
const ARGON2_MEMORY: u64 = 19 * 1024 * 1024;

/// Argon2 computations allowed at once: two per core (more only queue for the CPU), and no
/// more than an eighth of the memory available at start-up can hold.
pub fn slots_for(cores: usize, available_memory: u64) -> usize {
    let by_memory = (available_memory / 8 / ARGON2_MEMORY) as usize;
    (cores * 2).min(by_memory).max(1)
}

static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Semaphore::new(slots_for(cores, available_memory()))
});

/// MemAvailable from /proc/meminfo (4 GiB when it cannot be read).
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemAvailable:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(4 << 30, |kib| kib * 1024)
}

/// Runs one Argon2 computation on the blocking pool once a slot is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| AppError::Internal(error.to_string()))
}

pub async fn hash(password: String) -> Result<String, AppError> {
    bounded(move || hash_blocking(&password)).await?
}

/// Verifies `password` against `hash`; with no hash (unknown user) it still spends the same
/// time, so response times do not reveal which usernames exist.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    bounded(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            let _ = hash_blocking(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A random password for generated accounts: 20 characters from an unambiguous alphabet.
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hash = hash_blocking("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        assert_ne!(
            hash_blocking("pw123456").unwrap(),
            hash_blocking("pw123456").unwrap()
        );
    }

    #[test]
    fn argon2_slots_are_bounded_by_cores_and_memory() {
        const GIB: u64 = 1 << 30;
        assert_eq!(slots_for(2, 24 * GIB), 4, "two per core");
        assert_eq!(slots_for(64, GIB), 6, "an eighth of 1 GiB holds six");
        assert_eq!(slots_for(8, 0), 1, "always one");
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate());
    }
}
