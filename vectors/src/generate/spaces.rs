use crate::file::VectorFile;

pub fn membership() -> VectorFile {
    VectorFile::new("membership.json", "todo")
}
pub fn feeds() -> VectorFile {
    VectorFile::new("feeds.json", "todo")
}
pub fn items() -> VectorFile {
    VectorFile::new("items.json", "todo")
}
