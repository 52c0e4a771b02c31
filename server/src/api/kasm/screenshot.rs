//! `get_kasm_screenshot`: a fresh capture of the user's running session desktop, answered as
//! raw `image/jpeg` bytes. The picture keeps the desktop's aspect ratio and fits inside
//! `width` × `height` (either may be left out; neither: 300 wide); it is never enlarged past
//! the desktop's own size. The capture is made by a VNC client of the server's own, on the
//! same path as the proxy's (the recorded container only, through its agent when it is on
//! another host), so it works whether or not anyone is watching the session.
use super::call::Call;
use super::openapi::{NotFound, NotRunning, Unavailable};
use super::params::{Id, Pixels};
use super::ApiError;
use crate::manager::Manager;
use crate::rfb;
use app::backend::AppState;
use app::model::SessionStatus;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// The width of a screenshot when neither width nor height is asked for.
pub const DEFAULT_WIDTH: u32 = 300;
const JPEG_QUALITY: u8 = 85;
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, ToSchema)]
pub struct ScreenshotRequest {
    /// The session.
    kasm_id: Id,
    /// The session's owner.
    user_id: Id,
    /// Largest width in pixels (1 to 65535); 300 when neither width nor height is given.
    width: Option<Pixels>,
    /// Largest height in pixels (1 to 65535). The aspect ratio is kept and the picture is never
    /// enlarged.
    height: Option<Pixels>,
}

/// A JPEG screenshot of a running session's desktop
#[utoipa::path(post, path = "/api/public/get_kasm_screenshot", tag = "Sessions",
    request_body = inline(ScreenshotRequest),
    responses((status = 200, description = "The screenshot, JPEG bytes.",
            content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, response = NotFound), (status = 409, response = NotRunning),
        (status = 503, response = Unavailable)))]
pub async fn get_kasm_screenshot(
    State(state): State<AppState>,
    Extension(manager): Extension<Arc<Manager>>,
    call: Call<ScreenshotRequest>,
) -> Result<Response, ApiError> {
    let request = call.request;
    let (user_id, kasm_id) = (request.user_id.0, request.kasm_id.0);
    let width = request.width.map(|Pixels(pixels)| pixels);
    let height = request.height.map(|Pixels(pixels)| pixels);
    let row = crate::proxy::target::lookup(&state.db, kasm_id)
        .await?
        .filter(|row| row.status != SessionStatus::Deleted)
        .ok_or_else(|| ApiError::NotFound("Kasm not found".into()))?;
    if row.owner != Some(user_id) {
        return Err(ApiError::Invalid(
            "The kasm does not belong to that user".into(),
        ));
    }
    let port = row.port.filter(|_| row.status == SessionStatus::Running);
    let (Some(port), Some(container), false) =
        (port, row.container_id.as_deref(), row.host.is_empty())
    else {
        return Err(ApiError::Conflict(format!(
            "The session is {}; only a running session has a screen to capture.",
            row.status
        )));
    };
    let stream = manager
        .open_stream(kasm_id, container, &row.host, port)
        .await?;
    let capture = rfb::capture(stream, &row.secret, CAPTURE_TIMEOUT)
        .await
        .map_err(|error| {
            ApiError::App(app::AppError::Unavailable(format!(
                "The session's screen could not be captured: {error}"
            )))
        })?;
    let jpeg = tokio::task::spawn_blocking(move || encode(capture, width, height))
        .await
        .map_err(|error| ApiError::App(app::AppError::Internal(error.to_string())))?
        .map_err(|error| ApiError::App(app::AppError::Internal(error)))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}

/// The size of a `width` × `height` picture scaled to fit inside the box (a side left out does
/// not bound it; neither: [`DEFAULT_WIDTH`] wide), keeping the aspect ratio, never enlarged,
/// at least 1 × 1.
pub fn fit(width: u32, height: u32, max_width: Option<u32>, max_height: Option<u32>) -> (u32, u32) {
    let (width, height) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let max_width = match (max_width, max_height) {
        (None, None) => Some(DEFAULT_WIDTH),
        _ => max_width,
    };
    let box_width = max_width.map_or(u64::MAX, u64::from).min(width);
    let box_height = max_height.map_or(u64::MAX, u64::from).min(height);
    // Whichever side limits more sets the scale; the other is rounded to the nearest pixel.
    let (w, h) = if box_width * height <= box_height * width {
        (box_width, (height * box_width + width / 2) / width)
    } else {
        ((width * box_height + height / 2) / height, box_height)
    };
    (w.max(1) as u32, h.max(1) as u32)
}

/// Scales the capture to fit the box and encodes it as JPEG.
fn encode(
    capture: rfb::Capture,
    max_width: Option<u32>,
    max_height: Option<u32>,
) -> Result<Vec<u8>, String> {
    let (width, height) = (u32::from(capture.width), u32::from(capture.height));
    let screen = image::RgbImage::from_raw(width, height, capture.rgb)
        .ok_or("the capture does not hold width × height pixels")?;
    let (w, h) = fit(width, height, max_width, max_height);
    let picture = if (w, h) == (width, height) {
        screen
    } else {
        // Each screen pixel counts once towards one picture pixel: fast, and fine for shrinking.
        image::imageops::thumbnail(&screen, w, h)
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode(picture.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|error| error.to_string())?;
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pictures_fit_the_box_with_the_screens_aspect() {
        assert_eq!(fit(1280, 720, Some(400), Some(400)), (400, 225));
        assert_eq!(fit(1280, 720, None, None), (300, 169)); // 168.75
        assert_eq!(fit(1280, 720, None, Some(90)), (160, 90));
        assert_eq!(fit(1280, 720, Some(640), None), (640, 360));
        assert_eq!(fit(720, 1280, Some(400), Some(400)), (225, 400));
        assert_eq!(fit(1280, 720, Some(1000), Some(100)), (178, 100)); // 177.8
        assert_eq!(fit(1000, 1000, Some(10), Some(20)), (10, 10));
        // Never enlarged, never empty.
        assert_eq!(fit(1280, 720, Some(4000), Some(4000)), (1280, 720));
        assert_eq!(fit(1280, 720, Some(1280), None), (1280, 720));
        assert_eq!(fit(10000, 10, Some(100), None), (100, 1)); // 0.1 rounds up to one row
        assert_eq!(fit(1, 1, Some(1), Some(1)), (1, 1));
    }

    #[test]
    fn dimensions_are_positive_whole_pixels() {
        let body = json!({"width": 400, "height": "225", "a": 0, "b": -5, "c": 1.5, "d": "x", "e": null, "f": 70000});
        let dimension = |name: &str| -> Result<Option<u32>, String> {
            match body.get(name).filter(|value| !value.is_null()) {
                None => Ok(None),
                Some(value) => Pixels::try_from(value.clone()).map(|Pixels(pixels)| Some(pixels)),
            }
        };
        assert_eq!(dimension("width").unwrap(), Some(400));
        assert_eq!(dimension("height").unwrap(), Some(225));
        assert_eq!(dimension("e").unwrap(), None);
        assert_eq!(dimension("missing").unwrap(), None);
        for bad in ["a", "b", "c", "d", "f"] {
            assert!(dimension(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn captures_are_scaled_and_encoded_as_jpeg() {
        // A 64x36 screen: left half red, right half blue.
        let (width, height) = (64u16, 36u16);
        let rgb = (0..height)
            .flat_map(|_| (0..width).flat_map(|x| if x < 32 { [255, 0, 0] } else { [0, 0, 255] }))
            .collect();
        let capture = rfb::Capture { width, height, rgb };
        let jpeg = encode(capture.clone(), Some(32), Some(32)).unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "JPEG start of image");
        let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
            .unwrap()
            .to_rgb8();
        assert_eq!(decoded.dimensions(), (32, 18));
        let left = decoded.get_pixel(4, 9);
        let right = decoded.get_pixel(28, 9);
        assert!(left[0] > 200 && left[2] < 60, "{left:?}");
        assert!(right[2] > 200 && right[0] < 60, "{right:?}");
        // Full size when the box is larger than the screen.
        let jpeg = encode(capture, Some(1000), None).unwrap();
        let decoded = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (64, 36));
    }
}
