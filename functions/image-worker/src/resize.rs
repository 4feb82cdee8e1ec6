//! A picture decoded under limits, turned upright, and written as WebP copies whose long
//! side is each of [`VARIANTS`] (never enlarged, aspect kept).

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use shared::domain::files::VARIANTS;

/// What one decode may allocate: a 40-megapixel picture is 120 MiB as RGB (the uploads'
/// bound), and the worker runs in 512 MiB.
const MAX_ALLOC: u64 = 200 * 1024 * 1024;
/// Beyond what 40 megapixels allow in any sensible shape.
const MAX_SIDE: u32 = 20_000;

/// The copies (long side, WebP bytes), largest first; an error for what cannot be decoded
/// (corrupt, truncated, over the limits), which no retry would change.
pub fn copies(data: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, image::ImageError> {
    let mut reader = ImageReader::new(Cursor::new(data)).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let picture = DynamicImage::from_decoder(decoder)?;

    // The largest copy straight from the picture (a fast box filter over millions of
    // pixels), then the finer filter from it for the smaller ones. Turned upright only
    // then: turning the whole picture would hold it twice (a 40-megapixel one is 120 MiB).
    let largest = VARIANTS.iter().copied().max().unwrap_or(512);
    let mut base = if picture.width().max(picture.height()) > largest {
        picture.thumbnail(largest, largest)
    } else {
        picture
    };
    base.apply_orientation(orientation);
    base = if base.color().has_alpha() {
        DynamicImage::ImageRgba8(base.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(base.to_rgb8())
    };
    let mut sizes = VARIANTS.to_vec();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes
        .into_iter()
        .map(|size| {
            let copy = if base.width().max(base.height()) > size {
                base.resize(size, size, FilterType::Lanczos3)
            } else {
                base.clone()
            };
            let mut webp = Vec::new();
            copy.write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)?;
            Ok((size, webp))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let picture = ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(picture)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    fn dimensions(webp: &[u8]) -> (u32, u32) {
        let copy = image::load_from_memory_with_format(webp, ImageFormat::WebP).unwrap();
        (copy.width(), copy.height())
    }

    #[test]
    fn copies_keep_the_aspect_and_fit_their_long_side() {
        let copies = copies(&jpeg(1200, 800)).unwrap();
        let sizes: Vec<_> = copies.iter().map(|(s, w)| (*s, dimensions(w))).collect();
        assert_eq!(
            sizes,
            [(512, (512, 341)), (256, (256, 171)), (64, (64, 43))]
        );
    }

    #[test]
    fn a_sideways_photo_is_turned_upright() {
        // A JPEG whose EXIF says "rotate 90° clockwise" (orientation 6), as phones write.
        let mut exif =
            b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.append(&mut exif);
        let plain = jpeg(1200, 800);
        let mut rotated = plain[..2].to_vec();
        rotated.extend_from_slice(&app1);
        rotated.extend_from_slice(&plain[2..]);
        let copies = copies(&rotated).unwrap();
        assert_eq!(dimensions(&copies[0].1), (341, 512), "portrait now");
    }

    #[test]
    fn a_small_picture_is_never_enlarged() {
        let copies = copies(&jpeg(100, 40)).unwrap();
        let sizes: Vec<_> = copies.iter().map(|(s, w)| (*s, dimensions(w))).collect();
        assert_eq!(sizes, [(512, (100, 40)), (256, (100, 40)), (64, (64, 26))]);
    }

    #[test]
    fn a_damaged_or_foreign_picture_is_an_error() {
        let mut png = Vec::new();
        DynamicImage::new_rgb8(300, 300)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        assert!(copies(&png[..png.len() / 2]).is_err());
        assert!(copies(&jpeg(300, 300)[..200]).is_err());
        assert!(copies(b"%PDF-1.4 not a picture").is_err());
    }
}
