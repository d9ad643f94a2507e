//! NumPy `.npy` (format 1.0) headers and the element types a modality can be stored in.
//!
//! A shard is a plain C-order little-endian `.npy` file so that
//! `numpy.load(path, mmap_mode="r")` maps it without copying.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element type of a modality on disk. Values are always handed out as `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dtype {
    /// IEEE binary32, little endian (`<f4`).
    #[serde(rename = "f32")]
    F32,
    /// IEEE binary16, little endian (`<f2`); halves the size of e.g. 768-d text embeddings.
    #[serde(rename = "f16")]
    F16,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 => 2,
        }
    }

    /// The NumPy `descr` string.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F16 => "<f2",
        }
    }

    /// The manifest name (`"f32"` / `"f16"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
        }
    }

    /// Appends `values` encoded in this dtype. Fails on non-finite values, and for f16 on
    /// values whose magnitude exceeds the f16 range (65504), which would silently become ±inf.
    pub fn encode(self, values: &[f32], out: &mut Vec<u8>) -> std::result::Result<(), String> {
        out.reserve(values.len() * self.size());
        for (i, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(format!("value {i} is {v}"));
            }
            match self {
                Dtype::F32 => out.extend_from_slice(&v.to_le_bytes()),
                Dtype::F16 => {
                    let h = half::f16::from_f32(v);
                    if !h.is_finite() {
                        return Err(format!("value {i} = {v} overflows float16"));
                    }
                    out.extend_from_slice(&h.to_bits().to_le_bytes());
                }
            }
        }
        Ok(())
    }

    /// Decodes `bytes` (a whole number of elements) into `out` as f32.
    pub fn decode(self, bytes: &[u8], out: &mut [f32]) {
        match self {
            Dtype::F32 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            Dtype::F16 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
                }
            }
        }
    }
}

/// Builds a format-1.0 header for a C-order array of `rows` × `shape`, padded so the data
/// starts on a 64-byte boundary (NumPy's alignment rule).
pub fn header(dtype: Dtype, rows: usize, shape: &[usize]) -> Vec<u8> {
    let mut dims = vec![rows];
    dims.extend_from_slice(shape);
    // Only fails for shapes with thousands of dimensions, which a modality never has.
    multimat_modalities::npy::header(dtype.descr(), &dims)
        .expect("modality shape fits a .npy header")
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: Dtype,
    /// Full shape, rows first.
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
}

/// Parses the header at the start of `bytes` (format 1.0, 2.0 or 3.0; only `<f4`/`<f2` and
/// C order are accepted). `file` is only used to name the file in errors.
pub fn parse_header(bytes: &[u8], file: &std::path::Path) -> Result<NpyHeader> {
    let bad = |m: String| Error::new(file, ErrorKind::BadShard(m));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (missing \\x93NUMPY magic)".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("header truncated".into()));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(format!(".npy format version {v} not supported"))),
    };
    let end = start + hlen;
    if bytes.len() < end {
        return Err(bad(format!(
            "header claims {hlen} bytes, file has {}",
            bytes.len()
        )));
    }
    let dict =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text".into()))?;
    let value_after = |key: &str| -> Option<&str> {
        let k = dict.find(&format!("'{key}'"))?;
        let rest = &dict[k + key.len() + 2..];
        let colon = rest.find(':')?;
        Some(rest[colon + 1..].trim_start())
    };
    let descr = value_after("descr")
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.split('\'').next())
        .ok_or_else(|| bad("header has no descr".into()))?;
    let dtype = match descr {
        "<f4" => Dtype::F32,
        "<f2" => Dtype::F16,
        other => return Err(bad(format!("dtype {other:?} is not <f4 or <f2"))),
    };
    let fortran =
        value_after("fortran_order").ok_or_else(|| bad("header has no fortran_order".into()))?;
    if !fortran.starts_with("False") {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let shape_text = value_after("shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| bad("header has no shape tuple".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("shape entry {s:?} is not an integer")))
        })
        .collect::<Result<Vec<_>>>()?;
    if shape.is_empty() {
        return Err(bad("shape has no row dimension".into()));
    }
    Ok(NpyHeader {
        dtype,
        shape,
        data_offset: end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_alignment() {
        for (rows, shape) in [
            (0usize, vec![768usize]),
            (1024, vec![1, 32, 32, 32]),
            (7, vec![]),
        ] {
            let h = header(Dtype::F16, rows, &shape);
            assert_eq!(h.len() % 64, 0);
            let p = parse_header(&h, std::path::Path::new("x.npy")).unwrap();
            let mut full = vec![rows];
            full.extend(&shape);
            assert_eq!(p.shape, full);
            assert_eq!(p.dtype, Dtype::F16);
            assert_eq!(p.data_offset, h.len());
        }
        let err = parse_header(
            b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8'",
            std::path::Path::new("y.npy"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("y.npy: bad shard"), "{err}");
    }

    #[test]
    fn f16_encoding_rejects_overflow() {
        let mut out = Vec::new();
        assert!(Dtype::F16.encode(&[1.5, -2.0], &mut out).is_ok());
        let mut back = [0f32; 2];
        Dtype::F16.decode(&out, &mut back);
        assert_eq!(back, [1.5, -2.0]);
        assert!(Dtype::F16.encode(&[1e6], &mut Vec::new()).is_err());
        assert!(Dtype::F32.encode(&[f32::NAN], &mut Vec::new()).is_err());
    }
}
