use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("handshake.json", "todo")
}
