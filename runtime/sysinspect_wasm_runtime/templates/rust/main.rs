//! @ID@: a Sysinspect module written in Rust (WASI preview 1).
//!
//! It greets whoever the argument "name" names (default "world"); the option
//! "shout" greets in capitals, and the option "man" prints this module's
//! documentation instead of running.
#[path = "sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json, Level};

const ID: &str = "@ID@";

fn doc() -> Json {
    let item = |name: &str, desc: &str| object(vec![("name", name.into()), ("description", desc.into())]);
    object(vec![
        ("name", ID.into()),
        ("version", "0.1.0".into()),
        ("author", "".into()),
        ("description", "Greets whoever the argument name names.".into()),
        (
            "arguments",
            Json::Array(vec![object(vec![
                ("name", "name".into()),
                ("type", "string".into()),
                ("required", false.into()),
                ("default", "world".into()),
                ("description", "Who to greet.".into()),
            ])]),
        ),
        (
            "options",
            Json::Array(vec![
                item("shout", "Greet in capitals."),
                item("man", "Print this documentation and do nothing else."),
            ]),
        ),
        (
            "examples",
            Json::Array(vec![object(vec![
                ("description", "Greet the minion.".into()),
                ("code", r#"{"args": {"name": "minion"}}"#.into()),
            ])]),
        ),
        (
            "returns",
            object(vec![
                ("description", "The greeting.".into()),
                ("sample", object(vec![("greeting", "Hello, minion!".into())])),
            ]),
        ),
    ])
}

fn main() {
    let header = sysinspect::header_or_exit();
    if header.has_opt("man") {
        sysinspect::print(&doc());
        return;
    }
    let name = header.arg("name", "world");
    let mut greeting = format!("Hello, {}!", name);
    if header.has_opt("shout") {
        greeting = greeting.to_uppercase();
    }
    sysinspect::log(Level::Info, &format!("greeting {}", name));
    sysinspect::print(&object(vec![("greeting", greeting.into())]));
}
