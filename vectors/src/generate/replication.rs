use crate::file::VectorFile;

pub fn file() -> VectorFile {
    VectorFile::new("replication.json", "todo")
}
