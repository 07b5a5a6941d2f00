//! Reading files (or stdin) within the size limit, and the whole path from paths or
//! bytes to objects for callers that want everything at once.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{discover, parse_doc, split_bytes, InputError, InputLimits, Loaded, RawDoc};

/// Reads and parses every path.
pub fn load(paths: &[PathBuf], limits: &InputLimits) -> Loaded {
    let mut loaded = Loaded::default();
    let files = discover(paths, &mut loaded.errors);
    loaded.files = files.len();
    for f in files {
        match read_file(&f, limits) {
            Ok(docs) => {
                for d in &docs {
                    parse_doc(d, limits, &mut loaded);
                }
            }
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

/// Splits and parses one file's bytes: what [`load`] does for each file. For callers
/// that already hold the bytes (an object in memory, the fuzzer).
pub fn load_bytes(file: &str, bytes: Vec<u8>, json: bool, limits: &InputLimits) -> Loaded {
    let mut out = Loaded {
        files: 1,
        ..Loaded::default()
    };
    match split_bytes(file, bytes, json) {
        Ok(docs) => {
            for d in &docs {
                parse_doc(d, limits, &mut out);
            }
        }
        Err(e) => out.errors.push(e),
    }
    out
}

/// Reads a file (or stdin for "-") and splits it into documents. A JSON file is one
/// document. Errors that concern the whole file come back as `Err`.
pub fn read_file(path: &Path, limits: &InputLimits) -> Result<Vec<RawDoc>, InputError> {
    let display = path.display().to_string();
    let bytes = read_bytes(path, limits).map_err(|message| InputError {
        file: display.clone(),
        document: None,
        message,
    })?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    split_bytes(&display, bytes, json)
}

fn read_bytes(path: &Path, limits: &InputLimits) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let cap = limits.max_file_bytes;
    let n = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(cap + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| {
            // Sized up front: growing the buffer while reading a 60 MB dump copied it
            // about once more and faulted in twice the memory.
            if let Ok(meta) = f.metadata() {
                buf.reserve_exact(meta.len().min(cap + 1) as usize);
            }
            f.take(cap + 1).read_to_end(&mut buf)
        })
    }
    .map_err(|e| format!("cannot read: {e}"))?;
    if n as u64 > cap {
        return Err(format!(
            "file is larger than the {} MiB limit (--max-file-size)",
            cap >> 20
        ));
    }
    Ok(buf)
}
