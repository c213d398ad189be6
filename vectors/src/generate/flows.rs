use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("flows.json", "todo")
}
