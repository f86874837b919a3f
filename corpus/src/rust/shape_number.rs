//! shape-number-rust: prints a bare JSON number (the runtime returns it as data.data).
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

fn main() {
    let _ = sysinspect::read_header();
    println!("42");
}
