//! VNC authentication (RFC 6143 7.2.2): the server sends 16 random bytes, the client answers
//! with them DES-encrypted under the password. Berth does this with a session's container on
//! the browser's behalf: the browser never learns the session's secret.
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

/// The challenge's length, and the response's.
pub const CHALLENGE: usize = 16;

/// The DES key of a VNC password: its first 8 bytes (zero-padded), each byte's bits reversed
/// (the RFB convention, inherited from the original VNC's DES code).
fn key(password: &str) -> [u8; 8] {
    let mut key = [0u8; 8];
    for (slot, byte) in key.iter_mut().zip(password.bytes()) {
        *slot = byte.reverse_bits();
    }
    key
}

/// The key a VNC password file is obfuscated with (TigerVNC's `vncpasswd -f`), its bits
/// reversed as for any VNC DES key.
const PASSWORD_FILE_KEY: [u8; 8] = [23, 82, 107, 6, 35, 78, 88, 7];

/// What `vncpasswd -f` writes for `password`: its first 8 bytes (zero-padded), DES-encrypted
/// under the fixed obfuscation key. Lets the agent replace a session's password file without
/// starting `vncpasswd` in the container.
pub fn password_file(password: &str) -> [u8; 8] {
    let fixed = PASSWORD_FILE_KEY.map(u8::reverse_bits);
    let cipher = des::Des::new(GenericArray::from_slice(&fixed));
    let mut block = [0u8; 8];
    for (slot, byte) in block.iter_mut().zip(password.bytes()) {
        *slot = byte;
    }
    cipher.encrypt_block(GenericArray::from_mut_slice(&mut block));
    block
}

/// The answer to `challenge` for `password`: both 8-byte halves DES-encrypted (ECB).
pub fn response(password: &str, challenge: &[u8; CHALLENGE]) -> [u8; CHALLENGE] {
    let cipher = des::Des::new(GenericArray::from_slice(&key(password)));
    let mut answer = *challenge;
    for half in answer.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(half));
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Computed independently with OpenSSL:
    /// `printf 0123456789abcdef | openssl enc -des-ecb -K 42a64e2e16b42c4c -nopad
    ///  -provider legacy -provider default | xxd -p` (the key: "Berth-42", bits reversed).
    #[test]
    fn the_response_matches_openssl_des() {
        assert_eq!(hex(&key("Berth-42")), "42a64e2e16b42c4c");
        assert_eq!(
            hex(&response("Berth-42", b"0123456789abcdef")),
            "e98ad6ac2c54ab97a940096fca1e1109"
        );
    }

    /// `printf 'Berth-42\n' | vncpasswd -f | od -An -tx1` in the Desktop image, and OpenSSL:
    /// `printf Berth-42 | openssl enc -des-ecb -K e84ad660c4721ae0 -nopad ...`.
    #[test]
    fn the_password_file_matches_vncpasswd() {
        assert_eq!(hex(&password_file("Berth-42")), "58b0cf00ee4736c5");
        assert_eq!(
            password_file("Berth-42"),
            password_file("Berth-42-and-more")
        );
    }

    #[test]
    fn only_the_first_eight_characters_count() {
        let challenge = b"fedcba9876543210";
        assert_eq!(
            response("Berth-42", challenge),
            response("Berth-42-and-more", challenge)
        );
        assert_ne!(
            response("Berth-42", challenge),
            response("Berth-43", challenge)
        );
        // Short passwords are padded with zero bytes.
        assert_eq!(key("ab"), [0x86, 0x46, 0, 0, 0, 0, 0, 0]);
    }
}
