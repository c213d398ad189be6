use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("keys.json", "todo")
}
