//! trap-panic-rust: panics. On wasm32-wasi a Rust panic prints its message to
//! stderr and aborts, which is the Wasm `unreachable` instruction: a trap.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

fn header_len() -> usize {
    sysinspect::header_json().map(|h| h.len()).unwrap_or(3)
}

fn main() {
    let _ = sysinspect::read_header();
    sysinspect::log(sysinspect::Level::Info, "about to panic");
    // the index comes from the header length, so the compiler cannot see the panic coming
    let index = header_len();
    let items: Vec<u32> = Vec::new();
    println!("{}", items[index]);
}
