//! compute-walk-rust: walks the folder in argument "dir" (default "/data") under
//! a preopened directory and reports every entry, sorted, with sizes, line
//! counts and an FNV-1a digest of each file.
use std::fs;
use std::path::Path;

#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json};

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

struct Walk {
    entries: Vec<Json>,
    files: i64,
    dirs: i64,
    bytes: i64,
}

fn walk(root: &Path, rel: &str, depth: usize, w: &mut Walk) -> std::io::Result<()> {
    if depth > 32 {
        return Ok(());
    }
    let here = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
    let mut names: Vec<String> = fs::read_dir(&here)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let child_rel = if rel.is_empty() { name.clone() } else { format!("{}/{}", rel, name) };
        let meta = fs::symlink_metadata(root.join(&child_rel))?;
        if meta.is_dir() {
            w.dirs += 1;
            w.entries.push(object(vec![("path", child_rel.as_str().into()), ("type", "dir".into())]));
            walk(root, &child_rel, depth + 1, w)?;
        } else if meta.is_file() {
            let data = fs::read(root.join(&child_rel))?;
            w.files += 1;
            w.bytes += data.len() as i64;
            w.entries.push(object(vec![
                ("path", child_rel.as_str().into()),
                ("type", "file".into()),
                ("size", Json::Int(data.len() as i64)),
                ("lines", Json::Int(data.iter().filter(|b| **b == b'\n').count() as i64)),
                ("fnv1a64", format!("{:016x}", fnv1a64(&data)).into()),
            ]));
        } else {
            w.entries.push(object(vec![("path", child_rel.as_str().into()), ("type", "other".into())]));
        }
    }
    Ok(())
}

fn main() {
    let header = sysinspect::header_or_exit();
    let dir = header.arg("dir", "/data").to_string();
    let mut w = Walk { entries: Vec::new(), files: 0, dirs: 0, bytes: 0 };
    if let Err(e) = walk(Path::new(&dir), "", 0, &mut w) {
        sysinspect::log(sysinspect::Level::Error, &format!("cannot walk {}: {}", dir, e));
        sysinspect::print(&object(vec![("error", format!("cannot walk {}: {}", dir, e).into())]));
        std::process::exit(1);
    }
    sysinspect::print(&object(vec![
        ("root", dir.as_str().into()),
        ("files", Json::Int(w.files)),
        ("dirs", Json::Int(w.dirs)),
        ("bytes", Json::Int(w.bytes)),
        ("entries", Json::Array(w.entries)),
    ]));
}
