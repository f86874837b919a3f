//! shape-string-rust: prints a bare JSON string with characters beyond ASCII
//! (the runtime returns it as data.data).
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

fn main() {
    let _ = sysinspect::read_header();
    sysinspect::print(&sysinspect::Json::from("grüße, 世界 \u{1F600}"));
}
