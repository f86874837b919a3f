//! headerinfo-rust: reports what it sees through api.header, api.header_has and
//! api.header_get (host traits and paths, missing keys, pointer escaping), and
//! whether api.header agrees with the header line read from stdin.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json};

fn get(pointer: &str) -> Json {
    sysinspect::get(pointer).unwrap_or_else(|e| object(vec![("error", e.to_string().into())]))
}

fn main() {
    let header = sysinspect::header_or_exit();
    let whole = sysinspect::header_json().unwrap_or_default();
    sysinspect::print(&object(vec![
        ("hostname", get("/host/traits/system.hostname")),
        ("os", get("/host/traits/system.os.name")),
        ("sharelib", get("/host/paths/sharelib")),
        ("config_sharelib", get("/config/path.sharelib")),
        ("slash_key", get("/host/traits/a~1b")),
        ("tilde_key", get("/host/traits/c~0d")),
        ("first_opt", get("/opts/0")),
        ("missing", get("/host/traits/no.such.trait")),
        ("has_traits", sysinspect::has("/host/traits").into()),
        ("has_hostname", sysinspect::has("  /host/traits/system.hostname  ").into()),
        ("has_missing", sysinspect::has("/host/traits/no.such.trait").into()),
        ("has_bad_pointer", sysinspect::has("host").into()),
        ("header_is_stdin", (whole == header.raw).into()),
    ]));
}
