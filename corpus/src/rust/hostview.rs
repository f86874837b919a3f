//! hostview-rust: upstream's host helpers and PackageKit wrappers, as a module author uses them.
//!
//! Arguments: trait (default "system.hostname"), path (default "sharelib"), pk (optional: available,
//! status, packages, history, install, remove or upgrade), names (package names), count (history).
//! Prints {"has", "trait", "paths", "path"} (null for what is absent), plus "pk_available" and the
//! helper's answer "pk" (an {"error": ...} answer as it came) when pk is given.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{host, object, packagekit, Error, Json};

fn main() {
    let header = sysinspect::header_or_exit();
    let trait_name = header.arg("trait", "system.hostname").to_string();
    let path_name = header.arg("path", "sharelib").to_string();
    let mut fields = vec![
        ("has", Json::Bool(host::has(&trait_name))),
        ("trait", host::trait_value(&trait_name).unwrap_or(Json::Null)),
        ("paths", host::paths()),
        ("path", host::path_value(&path_name).unwrap_or(Json::Null)),
    ];
    let op = header.arg("pk", "").to_string();
    if !op.is_empty() {
        let args = header.section("args");
        let names: Vec<String> = match args.and_then(|a| a.get("names")) {
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let count = args.and_then(|a| a.get("count")).and_then(Json::as_i64).map(|c| c as u32);
        let answer = match op.as_str() {
            "status" => packagekit::status(),
            "packages" => packagekit::packages(),
            "history" => packagekit::history(&names, count),
            "install" => packagekit::install(&names),
            "remove" => packagekit::remove(&names),
            "upgrade" => packagekit::upgrade(&names),
            _ => Ok(Json::Null),
        };
        fields.push(("pk_available", Json::Bool(packagekit::available())));
        fields.push(("pk", match answer {
            Ok(value) => value,
            Err(Error::Host(message)) => object(vec![("error", message.into())]),
            Err(other) => object(vec![("sdk_error", other.to_string().into())]),
        }));
    }
    sysinspect::print(&object(fields));
}
