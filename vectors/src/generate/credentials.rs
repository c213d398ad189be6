use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("credentials.json", "todo")
}
