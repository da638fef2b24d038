//! How an uploaded file may be served back.
//!
//! Attachments come from enterprises as well as officers, so a file is untrusted content: an
//! HTML page or an SVG with a script, served from the platform's origin with the type its
//! uploader declared, would run with the session of the officer who opens it. A file is
//! therefore served as its declared type only when that type is on a short list of passive
//! formats (images, PDF, office documents) *and* its first bytes are that format's signature;
//! anything else is `application/octet-stream`. The HTTP layer adds `Content-Disposition:
//! attachment`, `nosniff` and a sandboxing policy on top, so even a listed type is downloaded,
//! not rendered in the platform's pages.

/// The passive formats an attachment may be served as, each with the signature its bytes must
/// start with.
const PASSIVE: &[(&str, &[&[u8]])] = &[
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/jpeg", &[b"\xFF\xD8\xFF"]),
    ("image/gif", &[b"GIF87a", b"GIF89a"]),
    ("application/pdf", &[b"%PDF-"]),
    // Office Open XML (docx, xlsx, pptx) are ZIP containers.
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &[b"PK\x03\x04"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &[b"PK\x03\x04"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &[b"PK\x03\x04"],
    ),
    // The older binary formats (doc, xls, ppt) are OLE compound files.
    ("application/msword", &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"]),
    (
        "application/vnd.ms-excel",
        &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"],
    ),
    (
        "application/vnd.ms-powerpoint",
        &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"],
    ),
];

/// The content type to serve an attachment with: the declared type (parameters such as
/// `charset` dropped, case ignored) when it is a passive format and the bytes carry its
/// signature; `application/octet-stream` otherwise. A WebP is matched by its RIFF header.
pub fn served_content_type(declared: &str, bytes: &[u8]) -> &'static str {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "image/webp"
        && bytes.len() >= 12
        && &bytes[..4] == b"RIFF"
        && &bytes[8..12] == b"WEBP"
    {
        return "image/webp";
    }
    PASSIVE
        .iter()
        .find(|(t, signatures)| *t == essence && signatures.iter().any(|s| bytes.starts_with(s)))
        .map_or("application/octet-stream", |(t, _)| t)
}

/// A `Content-Disposition: attachment` value that names the file: an ASCII fallback (anything
/// outside printable ASCII, quotes and backslashes become `_`) and the exact name in RFC 5987
/// encoding, so Chinese file names survive and no name can break out of the header.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passive_formats_with_their_signature_keep_their_type() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(served_content_type("image/png", png), "image/png");
        assert_eq!(served_content_type("IMAGE/PNG; x=1", png), "image/png");
        assert_eq!(
            served_content_type("application/pdf", b"%PDF-1.7\n"),
            "application/pdf"
        );
        assert_eq!(
            served_content_type("image/webp", b"RIFF\x10\0\0\0WEBPVP8 "),
            "image/webp"
        );
        // A script declared as HTML, SVG or JavaScript is never served as such.
        let script = b"<html><script>fetch('/api/v1/users')</script>";
        for declared in [
            "text/html",
            "image/svg+xml",
            "text/javascript",
            "application/xhtml+xml",
            "",
        ] {
            assert_eq!(
                served_content_type(declared, script),
                "application/octet-stream",
                "{declared}"
            );
        }
        // A listed type whose bytes are something else: not trusted either.
        assert_eq!(
            served_content_type("image/png", script),
            "application/octet-stream"
        );
        assert_eq!(
            served_content_type("application/pdf", png),
            "application/octet-stream"
        );
    }

    #[test]
    fn dispositions_name_the_file_without_breaking_the_header() {
        assert_eq!(
            content_disposition("现场照片 1.jpg"),
            "attachment; filename=\"____ 1.jpg\"; filename*=UTF-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87%201.jpg"
        );
        let d = content_disposition("a\"b\r\nSet-Cookie: x.html");
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(
            d.starts_with("attachment; filename=\"a_b__Set-Cookie: x.html\""),
            "{d}"
        );
    }
}
