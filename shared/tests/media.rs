//! Uploads judged by their bytes and stripped of their metadata, on real files made by
//! Pillow with EXIF (GPS, camera, orientation), XMP, comments and text chunks
//! (`tests/fixtures/media`).

use shared::media::{self, Kind};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/media/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `data` of `kind` without its metadata (stripped in place in a copy).
fn strip(kind: Kind, data: &[u8]) -> Result<Vec<u8>, media::Malformed> {
    let mut copy = data.to_vec();
    let kept = media::strip_metadata(kind, &mut copy)?;
    copy.truncate(kept);
    Ok(copy)
}

/// What the fixtures hide: the camera's make, the XMP creator, the comment, the latitude.
fn secrets(data: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(data);
    ["Secret", "GPS", "xmpmeta", "XMP", "Comment"]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

#[test]
fn every_image_loses_its_metadata_and_keeps_its_picture() {
    for (name, kind) in [
        ("photo.jpg", Kind::Jpeg),
        ("picture.png", Kind::Png),
        ("picture.webp", Kind::Webp),
        ("animation.gif", Kind::Gif),
    ] {
        let original = fixture(name);
        assert_eq!(Kind::sniff(&original), Some(kind), "{name}");
        assert!(
            !secrets(&original).is_empty(),
            "{name}: the fixture hides something"
        );
        let stripped = strip(kind, &original).unwrap();
        assert_eq!(secrets(&stripped), Vec::<&str>::new(), "{name}");
        assert_eq!(Kind::sniff(&stripped), Some(kind), "{name}");
        assert_eq!(
            media::pixels(&stripped),
            Some(64 * 48),
            "{name}: still a 64×48 image"
        );
        assert!(stripped.len() < original.len(), "{name}");
        // Stripping again changes nothing.
        assert_eq!(strip(kind, &stripped).unwrap(), stripped, "{name}");
    }
}

#[test]
fn a_jpeg_keeps_only_its_orientation() {
    let stripped = strip(Kind::Jpeg, &fixture("photo.jpg")).unwrap();
    // One EXIF segment is left, holding the orientation (6: turned 90°) and nothing else.
    let exif = stripped
        .windows(6)
        .position(|w| w == b"Exif\0\0")
        .expect("an EXIF");
    assert_eq!(stripped.windows(6).filter(|w| *w == b"Exif\0\0").count(), 1);
    let length = u16::from_be_bytes([stripped[exif - 2], stripped[exif - 1]]);
    assert_eq!(length, 2 + 6 + 26);
    assert_eq!(&stripped[exif + 6 + 8..exif + 6 + 10], &[0, 1], "one entry");
    assert_eq!(
        &stripped[exif + 6 + 10..exif + 6 + 12],
        &[0x01, 0x12],
        "Orientation"
    );
    assert_eq!(&stripped[exif + 6 + 18..exif + 6 + 20], &[0, 6]);
    // JFIF still opens the file.
    assert_eq!(&stripped[2..4], &[0xFF, 0xE0]);
}

#[test]
fn truncated_or_lying_files_are_malformed_not_a_panic() {
    for (name, kind) in [
        ("photo.jpg", Kind::Jpeg),
        ("picture.png", Kind::Png),
        ("picture.webp", Kind::Webp),
        ("animation.gif", Kind::Gif),
    ] {
        let original = fixture(name);
        // Wherever a file is cut, stripping ends in an answer, never a panic.
        for cut in 0..original.len() {
            let _ = strip(kind, &original[..cut]);
        }
        for cut in [1, 10, 40, original.len() / 2, original.len() - 1] {
            let truncated = &original[..cut];
            assert!(strip(kind, truncated).is_err(), "{name} cut at {cut}");
        }
        let other = if kind == Kind::Png {
            Kind::Gif
        } else {
            Kind::Png
        };
        assert!(strip(other, &original).is_err(), "{name} as {other:?}");
    }
}

#[test]
fn what_follows_a_jpeg_end_is_dropped() {
    let original = fixture("photo.jpg");
    let clean = strip(Kind::Jpeg, &original).unwrap();
    let mut appended = original.clone();
    appended.extend_from_slice(b"ftypmp42 a phone's motion video");
    assert_eq!(strip(Kind::Jpeg, &appended).unwrap(), clean);
    assert!(clean.ends_with(&[0xFF, 0xD9]));
}

#[test]
fn a_decompression_bomb_is_counted_from_its_header() {
    // A PNG header declaring 20000×20000 and nothing else.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&20000u32.to_be_bytes());
    png.extend_from_slice(&20000u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(media::pixels(&png), Some(400_000_000));
    assert_eq!(
        media::pixels(b"\x89PNG\r\n\x1a\n"),
        None,
        "no header, no count"
    );
}
