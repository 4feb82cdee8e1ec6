//! Uploaded files judged by their bytes, never by a name or the client's `Content-Type`: the
//! kind from the magic bytes, an image's pixel count from its header before anything decodes
//! it (decompression bombs are refused unread), a PDF's header and trailer, and metadata
//! removed without decoding and in place (an upload is never held twice) — EXIF (GPS!), XMP,
//! IPTC, comments and text chunks. A JPEG's EXIF orientation survives alone, so a phone's
//! portrait photo still stands up.

/// What an upload is, by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
    Gif,
    Pdf,
}

impl Kind {
    /// By the first bytes (16 are enough).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match head {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [b'%', b'P', b'D', b'F', b'-', ..] => Some(Self::Pdf),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn is_image(self) -> bool {
        self != Self::Pdf
    }
}

/// An image's width × height as its header declares it (nothing is decoded), or `None` when
/// the header cannot be read.
pub fn pixels(data: &[u8]) -> Option<u64> {
    let size = imagesize::blob_size(data).ok()?;
    Some(size.width as u64 * size.height as u64)
}

/// Whether `data` is shaped as a PDF: its header, and the end-of-file marker within the last
/// kilobyte (where readers look for it). Nothing in it is read further, let alone run.
pub fn is_pdf(data: &[u8]) -> bool {
    let tail = &data[data.len().saturating_sub(1024)..];
    data.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF")
}

/// The file's structure does not hold (truncated, or not what its magic bytes said).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {0}")]
pub struct Malformed(&'static str);

/// Removes `data`'s metadata in place (the buffer is compacted: kept parts move towards
/// its start, nothing else is allocated) and returns the length of what is left; a PDF is
/// left as it is. On `Err` the buffer's contents are unspecified.
pub fn strip_metadata(kind: Kind, data: &mut [u8]) -> Result<usize, Malformed> {
    match kind {
        Kind::Jpeg => jpeg(data),
        Kind::Png => png(data),
        Kind::Webp => webp(data),
        Kind::Gif => gif(data),
        Kind::Pdf => Ok(data.len()),
    }
}

/// Moves `data[from]` to `data[to..]` (to ≤ from.start: the writer never overtakes the
/// reader) and returns where writing goes on.
fn keep(data: &mut [u8], to: usize, from: std::ops::Range<usize>) -> usize {
    let len = from.len();
    data.copy_within(from, to);
    to + len
}

/// JPEG: every segment before the image data is kept but APP1 (EXIF, XMP), APP13 (IPTC),
/// COM and the other application segments; APP0 (JFIF), APP2 (the colour profile) and APP14
/// (Adobe's colour transform) stay, as does a new EXIF holding only the orientation.
fn jpeg(data: &mut [u8]) -> Result<usize, Malformed> {
    const BAD: Malformed = Malformed("JPEG");
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(BAD);
    }
    let mut w = 2;
    // The orientation of the first EXIF, and where in the output that EXIF stood.
    let mut orientation: Option<(u16, usize)> = None;
    let mut at = 2;
    loop {
        let marker = *data.get(at + 1).ok_or(BAD)?;
        if data[at] != 0xFF {
            return Err(BAD);
        }
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        // Standalone markers carry no length.
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            w = keep(data, w, at..at + 2);
            at += 2;
            continue;
        }
        let length =
            u16::from_be_bytes([*data.get(at + 2).ok_or(BAD)?, *data.get(at + 3).ok_or(BAD)?])
                as usize;
        let end = at + 2 + length;
        if length < 2 || end > data.len() {
            return Err(BAD);
        }
        match marker {
            // Start of scan: the image data is kept as it is, up to its end marker; what
            // follows the end (a phone's appended video, a trailer) goes too.
            0xDA => {
                let image_end = jpeg_end(data, end).ok_or(BAD)?;
                if let Some((o, place)) = orientation {
                    let segment = orientation_exif(o);
                    // Room is what was removed so far; an EXIF too small to make room
                    // (only a crafted one) loses its orientation.
                    if w + segment.len() <= at {
                        data.copy_within(place..w, place + segment.len());
                        data[place..place + segment.len()].copy_from_slice(&segment);
                        w += segment.len();
                    }
                }
                return Ok(keep(data, w, at..image_end));
            }
            0xE1 => {
                if orientation.is_none() {
                    orientation = exif_orientation(&data[at + 4..end]).map(|o| (o, w));
                }
            }
            0xE3..=0xEF if !matches!(marker, 0xEE) => {}
            0xFE => {}
            _ => w = keep(data, w, at..end),
        }
        at = end;
    }
}

/// Where the image ends (just past its EOI marker), scanning from the first scan's data at
/// `from`: entropy-coded bytes never hold a marker (0xFF is followed by 0 or a restart
/// marker there), and the segments between the scans of a progressive JPEG are skipped by
/// their length. `None` when the file stops before its end (truncated).
fn jpeg_end(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let ff = at + data.get(at..)?.iter().position(|&b| b == 0xFF)?;
        let marker = *data.get(ff + 1)?;
        match marker {
            0x00 | 0xD0..=0xD7 | 0xFF => at = ff + 1,
            0xD9 => return Some(ff + 2),
            _ => {
                let length = u16::from_be_bytes([*data.get(ff + 2)?, *data.get(ff + 3)?]) as usize;
                at = ff + 2 + length;
            }
        }
    }
}

/// The orientation (1..=8) an APP1 EXIF payload (`Exif\0\0` + TIFF) declares.
fn exif_orientation(app1: &[u8]) -> Option<u16> {
    let tiff = app1.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b = tiff.get(i..i + 2)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b = tiff.get(i..i + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    (0..entries.min(512))
        .map(|n| ifd + 2 + n * 12)
        .find(|&entry| u16_at(entry) == Some(0x0112))
        .and_then(|entry| u16_at(entry + 8))
        .filter(|o| (1..=8).contains(o))
}

/// An APP1 segment whose EXIF holds the orientation and nothing else.
fn orientation_exif(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"MM\0\x2A\0\0\0\x08"); // big-endian, first IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(&tiff);
    segment
}

/// PNG: the text chunks, EXIF and the modification time go; every other chunk stays.
fn png(data: &mut [u8]) -> Result<usize, Malformed> {
    const BAD: Malformed = Malformed("PNG");
    if data.len() < 8 {
        return Err(BAD);
    }
    let mut w = 8;
    let mut at = 8;
    while at < data.len() {
        let length = u32::from_be_bytes(
            data.get(at..at + 4)
                .ok_or(BAD)?
                .try_into()
                .unwrap_or_default(),
        ) as usize;
        let end = at
            .checked_add(12 + length)
            .filter(|&e| e <= data.len())
            .ok_or(BAD)?;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap_or_default();
        if !matches!(&kind, b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME") {
            w = keep(data, w, at..end);
        }
        at = end;
        if &kind == b"IEND" {
            return Ok(w);
        }
    }
    Err(BAD)
}

/// WebP: the EXIF and XMP chunks go, and the extended header stops announcing them.
fn webp(data: &mut [u8]) -> Result<usize, Malformed> {
    const BAD: Malformed = Malformed("WebP");
    if data.len() < 12 {
        return Err(BAD);
    }
    // The RIFF header's size says where the file ends: shorter is truncated, and anything
    // after it is not part of the picture.
    let declared = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let total = declared.checked_add(8).ok_or(BAD)?;
    if total > data.len() {
        return Err(BAD);
    }
    let mut w = 12;
    let mut at = 12;
    while at < total {
        let fourcc: [u8; 4] = data
            .get(at..at + 4)
            .filter(|_| at + 8 <= total)
            .ok_or(BAD)?
            .try_into()
            .unwrap_or_default();
        let size = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap_or_default()) as usize;
        if at + 8 + size > total {
            return Err(BAD);
        }
        let end = (at + 8 + size + size % 2).min(total);
        match &fourcc {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let start = w;
                w = keep(data, w, at..end);
                // Flags: bit 3 EXIF, bit 2 XMP.
                if start + 8 < w {
                    data[start + 8] &= !0b0000_1100;
                }
            }
            _ => w = keep(data, w, at..end),
        }
        at = end;
    }
    let riff = (w - 8) as u32;
    data[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok(w)
}

/// GIF: comment extensions and XMP's application extension go; the loop extension and the
/// frames stay.
fn gif(data: &mut [u8]) -> Result<usize, Malformed> {
    const BAD: Malformed = Malformed("GIF");
    let screen: [u8; 13] = data.get(..13).ok_or(BAD)?.try_into().unwrap_or_default();
    let mut at = 13;
    if screen[10] & 0x80 != 0 {
        at += 3 << ((screen[10] & 0x07) + 1);
    }
    if at > data.len() {
        return Err(BAD);
    }
    let mut w = at;
    // The end of the data sub-blocks starting at `from`.
    let blocks_end = |data: &[u8], mut from: usize| -> Result<usize, Malformed> {
        loop {
            let size = *data.get(from).ok_or(BAD)? as usize;
            from += 1 + size;
            if size == 0 {
                return Ok(from);
            }
        }
    };
    loop {
        match *data.get(at).ok_or(BAD)? {
            0x3B => {
                data[w] = 0x3B;
                return Ok(w + 1);
            }
            0x21 => {
                let label = *data.get(at + 1).ok_or(BAD)?;
                let end = blocks_end(data, at + 2)?;
                if end > data.len() {
                    return Err(BAD);
                }
                let xmp = label == 0xFF && data.get(at + 3..at + 11) == Some(b"XMP Data");
                if label != 0xFE && !xmp {
                    w = keep(data, w, at..end);
                }
                at = end;
            }
            0x2C => {
                let descriptor: [u8; 10] = data
                    .get(at..at + 10)
                    .ok_or(BAD)?
                    .try_into()
                    .unwrap_or_default();
                let mut start = at + 10;
                if descriptor[9] & 0x80 != 0 {
                    start += 3 << ((descriptor[9] & 0x07) + 1);
                }
                // LZW minimum code size, then the image's sub-blocks.
                let end = blocks_end(data, start + 1)?;
                if end > data.len() {
                    return Err(BAD);
                }
                w = keep(data, w, at..end);
                at = end;
            }
            _ => return Err(BAD),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_judged_by_their_bytes() {
        assert_eq!(Kind::sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Kind::Jpeg));
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\nIHDR"), Some(Kind::Png));
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(Kind::sniff(b"GIF89a.."), Some(Kind::Gif));
        assert_eq!(Kind::sniff(b"%PDF-1.7"), Some(Kind::Pdf));
        for other in [
            &b"<html>"[..],
            b"MZ\x90\0",
            b"RIFF\0\0\0\0WAVEfmt ",
            b"",
            b"\xFF\xD8",
        ] {
            assert_eq!(Kind::sniff(other), None);
        }
    }

    #[test]
    fn a_pdf_needs_its_header_and_its_trailer() {
        assert!(is_pdf(
            b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
        ));
        assert!(!is_pdf(b"%PDF-1.4\n1 0 obj"), "truncated");
        assert!(!is_pdf(b"<script>%%EOF"));
    }

    #[test]
    fn an_orientation_exif_reads_back() {
        let segment = orientation_exif(6);
        assert_eq!(exif_orientation(&segment[4..]), Some(6));
    }
}
