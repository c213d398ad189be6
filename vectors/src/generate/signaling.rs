use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("signaling.json", "todo")
}
