//! The whole screen as a picture: a canvas filled from Raw rectangles of a non-incremental
//! update (screenshots through `get_kasm_screenshot`).
use super::client::{init, negotiate, skip_message, update_request, ServerInit};
use super::error::within;
use super::reader::{ByteStream, Reader};
use super::RfbError;
use std::time::Duration;

/// A picture of the whole desktop: `rgb` holds `width` × `height` pixels, row by row, three
/// bytes (red, green, blue) each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub width: u16,
    pub height: u16,
    pub rgb: Vec<u8>,
}

/// The most pixels a capture accepts (a 5K desktop has 14.7 million).
const MAX_CAPTURE_PIXELS: usize = 16 << 20;

/// SetPixelFormat's format for captures: 32 bits per pixel, depth 24, little-endian, true
/// colour, 8 bits each of red (bit 16), green (bit 8) and blue (bit 0).
const CAPTURE_PIXEL_FORMAT: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// The screen being filled from Raw rectangles in [`CAPTURE_PIXEL_FORMAT`].
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    /// Pixels received so far (rectangles may overlap: an upper bound of what is covered).
    painted: usize,
}

impl Canvas {
    fn new(width: u16, height: u16) -> Result<Canvas, RfbError> {
        let (width, height) = (usize::from(width), usize::from(height));
        if width == 0 || height == 0 || width * height > MAX_CAPTURE_PIXELS {
            return Err(RfbError::ScreenSize { width, height });
        }
        Ok(Canvas {
            width,
            height,
            rgb: vec![0; width * height * 3],
            painted: 0,
        })
    }

    /// Refuses a rectangle that does not lie inside the screen (before its pixels are read).
    fn check(&self, x: u16, y: u16, w: u16, h: u16) -> Result<(), RfbError> {
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if x + w > self.width || y + h > self.height {
            return Err(RfbError::OutsideScreen {
                x,
                y,
                w,
                h,
                width: self.width,
                height: self.height,
            });
        }
        Ok(())
    }

    /// Paints a Raw rectangle: `pixels` holds w × h pixels of 4 bytes (blue, green, red, unused).
    fn paint_raw(&mut self, x: u16, y: u16, w: u16, h: u16, pixels: &[u8]) -> Result<(), RfbError> {
        self.check(x, y, w, h)?;
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if pixels.len() != w * h * 4 {
            return Err(RfbError::PixelCount);
        }
        if w == 0 {
            return Ok(());
        }
        for (row, source) in pixels.chunks_exact(w * 4).enumerate() {
            let start = ((y + row) * self.width + x) * 3;
            let target = &mut self.rgb[start..start + w * 3];
            for (rgb, bgrx) in target.chunks_exact_mut(3).zip(source.chunks_exact(4)) {
                rgb.copy_from_slice(&[bgrx[2], bgrx[1], bgrx[0]]);
            }
        }
        self.painted += w * h;
        Ok(())
    }

    fn complete(&self) -> bool {
        self.painted >= self.width * self.height
    }
}

/// Captures the whole screen as it is now, over an authenticated stream to the container:
/// 32-bit true colour, Raw encoding only, one non-incremental update request for the full
/// screen (asked again should an update cover less than the screen).
pub async fn capture(
    stream: Box<dyn ByteStream>,
    password: &str,
    timeout: Duration,
) -> Result<Capture, RfbError> {
    within(timeout, "screen capture", capture_now(stream, password)).await
}

async fn capture_now(stream: Box<dyn ByteStream>, password: &str) -> Result<Capture, RfbError> {
    let mut rfb = Reader::over(stream);
    negotiate(&mut rfb, Some(password)).await?;
    let ServerInit { width, height, .. } = init(&mut rfb).await?;
    let mut canvas = Canvas::new(width, height)?;
    let mut pixel_format = vec![0, 0, 0, 0];
    pixel_format.extend_from_slice(&CAPTURE_PIXEL_FORMAT);
    rfb.send(pixel_format).await?;
    rfb.send(vec![2, 0, 0, 1, 0, 0, 0, 0]).await?; // SetEncodings: Raw only
    while !canvas.complete() {
        rfb.send(update_request(width, height)).await?;
        loop {
            let kind = rfb.take(1).await?[0];
            if kind != 0 {
                skip_message(&mut rfb, kind).await?;
                continue;
            }
            let header = rfb.take(3).await?;
            let rectangles = u16::from_be_bytes([header[1], header[2]]);
            for _ in 0..rectangles {
                let rect = rfb.take(12).await?;
                let field = |i: usize| u16::from_be_bytes([rect[i], rect[i + 1]]);
                let (x, y, w, h) = (field(0), field(2), field(4), field(6));
                let encoding = i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]);
                if encoding != 0 {
                    return Err(RfbError::NotRaw(encoding));
                }
                canvas.check(x, y, w, h)?;
                let pixels = rfb.take(usize::from(w) * usize::from(h) * 4).await?;
                canvas.paint_raw(x, y, w, h, &pixels)?;
            }
            break;
        }
    }
    Ok(Capture {
        width,
        height,
        rgb: canvas.rgb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw pixels in the capture format (blue, green, red, unused) from RGB triples.
    fn raw(pixels: &[[u8; 3]]) -> Vec<u8> {
        pixels
            .iter()
            .flat_map(|&[r, g, b]| [b, g, r, 0xaa])
            .collect()
    }

    #[test]
    fn raw_rectangles_are_decoded_into_place() {
        let mut canvas = Canvas::new(3, 2).unwrap();
        assert!(!canvas.complete());
        // The left column, then the 2x2 block beside it.
        canvas
            .paint_raw(0, 0, 1, 2, &raw(&[[255, 0, 0], [0, 255, 0]]))
            .unwrap();
        canvas
            .paint_raw(
                1,
                0,
                2,
                2,
                &raw(&[[0, 0, 255], [1, 2, 3], [4, 5, 6], [7, 8, 9]]),
            )
            .unwrap();
        assert!(canvas.complete());
        assert_eq!(
            canvas.rgb,
            vec![
                255, 0, 0, 0, 0, 255, 1, 2, 3, // row 0
                0, 255, 0, 4, 5, 6, 7, 8, 9, // row 1
            ]
        );
    }

    #[test]
    fn bad_rectangles_are_refused() {
        let mut canvas = Canvas::new(4, 4).unwrap();
        assert!(canvas.check(3, 0, 2, 1).is_err(), "past the right edge");
        assert!(canvas.check(0, 4, 1, 1).is_err(), "past the bottom");
        assert!(canvas.check(0, 0, 4, 4).is_ok());
        assert!(
            canvas.paint_raw(0, 0, 2, 2, &[0; 15]).is_err(),
            "short data"
        );
        assert!(canvas.paint_raw(0, 0, 0, 0, &[]).is_ok());
        assert!(!canvas.complete());
        assert!(Canvas::new(0, 10).is_err());
        assert!(Canvas::new(65535, 65535).is_err());
    }

    #[test]
    fn the_capture_pixel_format_is_32_bit_little_endian_true_colour() {
        let [bpp, depth, big_endian, true_colour, ..] = CAPTURE_PIXEL_FORMAT;
        assert_eq!((bpp, depth, big_endian, true_colour), (32, 24, 0, 1));
        assert_eq!(&CAPTURE_PIXEL_FORMAT[10..13], &[16, 8, 0]);
    }
}
