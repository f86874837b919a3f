// A Rust module that divides by zero three calls deep: main -> parse_limit -> divide_share.
// Rust checks the division and panics; with panic=abort the panic ends in `unreachable`.
#[inline(never)]
fn divide_share(total: i32, parts: i32) -> i32 {
    total / parts
}

#[inline(never)]
fn parse_limit(text: &str) -> i32 {
    let parts: i32 = text.trim().parse().unwrap_or(0);
    divide_share(1000, parts)
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let limit = parse_limit(&arg);
    println!("{{\"limit\": {}}}", limit);
}
