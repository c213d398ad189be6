use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("codes.json", "todo")
}
