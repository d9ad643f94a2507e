//! A NumPy `.npy` writer (format version 1.0, little-endian `<f4`, C order), so model inputs can be
//! checked against or fed to Python tools without extra dependencies.

use std::path::Path;

use multimat_crystal::io::write_atomic;

/// Writes `data` (row-major, `shape.iter().product()` values) as a `.npy` file of dtype `<f4`,
/// through a temporary file and a rename so a crash never leaves a half-written array.
/// An empty `shape` writes a 0-d array (one value).
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    write_atomic(path, &npy_f32_bytes(shape, data)?)
}

/// The bytes of a `.npy` v1.0 file holding `data` with `shape` (see [`write_npy_f32`]).
pub fn npy_f32_bytes(shape: &[usize], data: &[f32]) -> std::io::Result<Vec<u8>> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "shape {shape:?} holds {count} values but {} were given",
                data.len()
            ),
        ));
    }
    let header = header("<f4", shape)?;
    let mut out = Vec::with_capacity(header.len() + 4 * data.len());
    out.extend_from_slice(&header);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// A `.npy` v1.0 header (magic, version, length, dict, padding) for a C-order array of NumPy
/// dtype `descr` (e.g. `<f4`, `<f2`, `|u1`, `<u4`, `<i8`) and `shape`. The header is padded
/// so the data starts on a 64-byte boundary, as NumPy does.
pub fn header(descr: &str, shape: &[usize]) -> std::io::Result<Vec<u8>> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + length (2) + dict + '\n' must be a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let len = u16::try_from(dict.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "shape too long for a .npy v1.0 header",
        )
    })?;
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let b = npy_f32_bytes(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(b.len(), 10 + hlen + 24);
        assert_eq!(&b[10 + hlen..10 + hlen + 4], &1.0f32.to_le_bytes());
        assert!(npy_f32_bytes(&[4], &[1.0]).is_err());
        let one = npy_f32_bytes(&[5], &[0.0; 5]).unwrap();
        assert!(std::str::from_utf8(&one[10..70])
            .unwrap()
            .contains("'shape': (5,)"));
    }
}
