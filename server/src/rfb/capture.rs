//! The whole screen as a picture: a canvas filled from Raw rectangles of a non-incremental
//! update (screenshots through `get_kasm_screenshot`).

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
pub(super) const CAPTURE_PIXEL_FORMAT: [u8; 16] =
    [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

/// The screen being filled from Raw rectangles in [`CAPTURE_PIXEL_FORMAT`].
pub(super) struct Canvas {
    width: usize,
    height: usize,
    pub(super) rgb: Vec<u8>,
    /// Pixels received so far (rectangles may overlap: an upper bound of what is covered).
    painted: usize,
}

impl Canvas {
    pub(super) fn new(width: u16, height: u16) -> Result<Canvas, String> {
        let (width, height) = (usize::from(width), usize::from(height));
        if width == 0 || height == 0 || width * height > MAX_CAPTURE_PIXELS {
            return Err(format!("cannot capture a {width}x{height} desktop"));
        }
        Ok(Canvas {
            width,
            height,
            rgb: vec![0; width * height * 3],
            painted: 0,
        })
    }

    /// Refuses a rectangle that does not lie inside the screen (before its pixels are read).
    pub(super) fn check(&self, x: u16, y: u16, w: u16, h: u16) -> Result<(), String> {
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if x + w > self.width || y + h > self.height {
            return Err(format!(
                "a {w}x{h} rectangle at {x},{y} lies outside the {}x{} screen",
                self.width, self.height
            ));
        }
        Ok(())
    }

    /// Paints a Raw rectangle: `pixels` holds w × h pixels of 4 bytes (blue, green, red, unused).
    pub(super) fn paint_raw(
        &mut self,
        x: u16,
        y: u16,
        w: u16,
        h: u16,
        pixels: &[u8],
    ) -> Result<(), String> {
        self.check(x, y, w, h)?;
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        if pixels.len() != w * h * 4 {
            return Err(format!(
                "a {w}x{h} Raw rectangle needs {} bytes, not {}",
                w * h * 4,
                pixels.len()
            ));
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

    pub(super) fn complete(&self) -> bool {
        self.painted >= self.width * self.height
    }
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
