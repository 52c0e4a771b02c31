//! Unit tests of the clipboard-down filter: ServerCutText dropped wherever it falls, every
//! other message passed byte for byte, however the stream is split.
use super::*;

fn server_init(bits_per_pixel: u8, name: &str) -> Vec<u8> {
    let mut bytes = vec![0x04, 0x00, 0x03, 0x00]; // 1024 x 768
    let mut format = [0u8; 16];
    format[0] = bits_per_pixel;
    bytes.extend(format);
    bytes.extend((name.len() as u32).to_be_bytes());
    bytes.extend(name.as_bytes());
    bytes
}

fn cut(text: &str) -> Vec<u8> {
    let mut bytes = vec![3, 0, 0, 0];
    bytes.extend((text.len() as u32).to_be_bytes());
    bytes.extend(text.as_bytes());
    bytes
}

fn rect(width: u16, height: u16, encoding: i32) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 0];
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend(encoding.to_be_bytes());
    bytes
}

/// A FramebufferUpdate: a 2x2 Raw rectangle (32-bit), a CopyRect, a ZRLE of 5 bytes.
fn update() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 3];
    bytes.extend(rect(2, 2, 0));
    bytes.extend([3u8; 16]); // pixels that look like ServerCutText types
    bytes.extend(rect(8, 8, 1));
    bytes.extend([0, 1, 0, 2]);
    bytes.extend(rect(64, 64, 16));
    bytes.extend(5u32.to_be_bytes());
    bytes.extend([3, 3, 3, 3, 3]);
    bytes
}

fn filter() -> ServerCutFilter {
    ServerCutFilter::new(Arc::new(AtomicUsize::new(4)))
}

#[test]
fn server_cut_text_is_dropped_and_the_rest_passes_as_it_was() {
    let mut stream = server_init(32, "desk");
    stream.extend(cut("secret"));
    stream.extend(update());
    stream.extend([2]); // Bell
    stream.extend([1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6]); // one colour map entry
    stream.extend([3, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 1, 2, 3, 4, 5, 6, 7, 8]); // extended
    stream.extend([248, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9]); // fence
    stream.extend(update());
    let mut expected = server_init(32, "desk");
    expected.extend(update());
    expected.extend([2]);
    expected.extend([1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6]);
    expected.extend([248, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9]);
    expected.extend(update());

    assert_eq!(filter().feed(&stream).unwrap(), expected);
    // Byte by byte, and in uneven pieces, the same.
    let mut one = filter();
    let bytes: Vec<u8> = stream
        .iter()
        .flat_map(|b| one.feed(&[*b]).unwrap())
        .collect();
    assert_eq!(bytes, expected);
    let mut pieces = filter();
    let bytes: Vec<u8> = stream
        .chunks(7)
        .flat_map(|chunk| pieces.feed(chunk).unwrap())
        .collect();
    assert_eq!(bytes, expected);
}

#[test]
fn raw_rectangles_follow_the_pixel_size_of_server_init_and_set_pixel_format() {
    let pixel = Arc::new(AtomicUsize::new(4));
    let mut filter = ServerCutFilter::new(pixel.clone());
    filter.feed(&server_init(16, "")).unwrap();
    assert_eq!(pixel.load(Ordering::SeqCst), 2);
    // 2x2 at 2 bytes per pixel: 8 bytes, then a ServerCutText that must go.
    let mut stream = vec![0, 0, 0, 1];
    stream.extend(rect(2, 2, 0));
    stream.extend([7u8; 8]);
    let expected = stream.clone();
    stream.extend(cut("x"));
    assert_eq!(filter.feed(&stream).unwrap(), expected);
    // The browser asks for 8 bits per pixel: 4 bytes now.
    pixel.store(1, Ordering::SeqCst);
    let mut stream = vec![0, 0, 0, 1];
    stream.extend(rect(2, 2, 0));
    stream.extend([7u8; 4]);
    let expected = stream.clone();
    stream.extend(cut("y"));
    assert_eq!(filter.feed(&stream).unwrap(), expected);
}

#[test]
fn last_rect_and_pseudo_encodings_are_measured() {
    let mut filter = filter();
    filter.feed(&server_init(32, "")).unwrap();
    let mut stream = vec![0, 0, 0xff, 0xff];
    stream.extend(rect(0, 0, -223)); // DesktopSize
    stream.extend(rect(0, 0, -307)); // DesktopName
    stream.extend(3u32.to_be_bytes());
    stream.extend(b"abc");
    stream.extend(rect(0, 0, -308)); // ExtendedDesktopSize, one screen
    stream.extend([1, 0, 0, 0]);
    stream.extend([0u8; 16]);
    stream.extend(rect(0, 0, -224)); // LastRect
    let expected = stream.clone();
    stream.extend(cut("z"));
    assert_eq!(filter.feed(&stream).unwrap(), expected);
}

#[test]
fn what_it_cannot_measure_ends_the_stream() {
    let mut filter = filter();
    filter.feed(&server_init(32, "")).unwrap();
    let mut stream = vec![0, 0, 0, 1];
    stream.extend(rect(4, 4, 7)); // Tight
    assert_eq!(filter.feed(&stream).unwrap_err(), Unreadable::Encoding(7));
    let mut filter = self::filter();
    filter.feed(&server_init(32, "")).unwrap();
    assert_eq!(filter.feed(&[42]).unwrap_err(), Unreadable::Message(42));
}

#[test]
fn only_measurable_encodings_are_kept() {
    for kept in [0, 1, 16, -223, -224, -307, -308, -312, -313, -250, -28] {
        assert!(keep_encoding(kept), "{kept}");
    }
    // Tight, Hextile, ZRLE's relatives, the cursor, the extended clipboard.
    for dropped in [7, 5, 2, -239, -314, 0xc0a1e5ce_u32 as i32] {
        assert!(!keep_encoding(dropped), "{dropped}");
    }
}
