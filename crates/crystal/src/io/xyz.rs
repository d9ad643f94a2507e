//! Extended XYZ (being written; see issue 2).
use crate::error::{Error, ErrorKind, Location};
use crate::structure::Structure;

pub fn read_extxyz(_text: &str, source_name: &str) -> Result<Structure, Error> {
    Err(Error::new(source_name, Location::File, ErrorKind::Unsupported("XYZ reader not built yet".into())))
}

pub fn write_extxyz(_s: &Structure, _title: &str) -> String {
    String::new()
}
