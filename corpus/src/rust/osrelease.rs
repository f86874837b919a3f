//! osrelease-rust: returns one key of /etc/os-release, the Sysinspect way.
//! Argument "key" (default VERSION); option "nohello" drops the greeting;
//! option "man" prints the module's documentation.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json, Level};

const ID: &str = "osrelease-rust";

fn doc() -> Json {
    let item = |name: &str, desc: &str| object(vec![("name", name.into()), ("required", false.into()), ("description", desc.into())]);
    object(vec![
        ("name", ID.into()),
        ("version", "0.1.0".into()),
        ("author", "Sysinspect Wasm corpus".into()),
        ("description", "Returns the value of one key of /etc/os-release.".into()),
        (
            "arguments",
            Json::Array(vec![object(vec![
                ("name", "key".into()),
                ("type", "string".into()),
                ("required", false.into()),
                ("default", "VERSION".into()),
                ("description", "The os-release key to return.".into()),
            ])]),
        ),
        (
            "options",
            Json::Array(vec![
                item("nohello", "Do not add the greeting."),
                item("man", "Print this documentation and do nothing else."),
            ]),
        ),
        (
            "examples",
            Json::Array(vec![object(vec![
                ("description", "Return the distribution's pretty name.".into()),
                ("code", format!("args:\n  rt.mod: {}\n  key: PRETTY_NAME", ID).into()),
            ])]),
        ),
        (
            "returns",
            object(vec![
                ("<key>", "the value, or null when the key is absent".into()),
                ("hello", "a greeting, unless the option nohello is given".into()),
            ]),
        ),
    ])
}

/// Strip os-release quoting: "..." or '...' with backslash escapes.
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner: Vec<char> = v[1..v.len() - 1].chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < inner.len() {
            if inner[i] == '\\' && i + 1 < inner.len() {
                i += 1;
            }
            out.push(inner[i]);
            i += 1;
        }
        return out;
    }
    v.to_string()
}

fn main() {
    let header = sysinspect::header_or_exit();
    if header.has_opt("man") {
        sysinspect::print(&doc());
        return;
    }
    let key = header.arg("key", "VERSION");
    let text = match std::fs::read_to_string("/etc/os-release") {
        Ok(t) => t,
        Err(e) => {
            sysinspect::print(&object(vec![("error", format!("cannot read /etc/os-release: {}", e).into())]));
            std::process::exit(1);
        }
    };
    let value = text.lines().map(str::trim).find_map(|line| {
        let (k, v) = line.split_once('=')?;
        if k == key {
            Some(unquote(v))
        } else {
            None
        }
    });
    let mut out = std::collections::BTreeMap::new();
    match value {
        Some(v) => {
            out.insert(key.to_string(), Json::from(v));
        }
        None => {
            sysinspect::log(Level::Warn, &format!("key {} is not in /etc/os-release", key));
            out.insert(key.to_string(), Json::Null);
        }
    }
    if !header.has_opt("nohello") {
        out.insert("hello".to_string(), Json::from(format!("Hello from {}", ID)));
    }
    sysinspect::print(&Json::Object(out));
}
