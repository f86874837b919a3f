//! sections-rust: echoes which request sections reached it and proves that no
//! runtime (rt.*) option or argument leaked into the header.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json};

fn keys(v: Option<&Json>) -> Json {
    match v {
        // BTreeMap keys are already sorted
        Some(Json::Object(m)) => Json::Array(m.keys().map(|k| Json::from(k.as_str())).collect()),
        _ => Json::Array(vec![]),
    }
}

fn main() {
    let header = sysinspect::header_or_exit();
    let mut leaked = Vec::new();
    let mut opts = Vec::new();
    if let Some(Json::Array(items)) = header.section("opts") {
        for o in items.iter().filter_map(Json::as_str) {
            opts.push(Json::from(o));
            if o.starts_with("rt.") {
                leaked.push(Json::from(format!("opt:{}", o)));
            }
        }
    }
    if let Some(Json::Object(args)) = header.section("args") {
        for k in args.keys().filter(|k| k.starts_with("rt.")) {
            leaked.push(Json::from(format!("arg:{}", k)));
        }
    }
    sysinspect::print(&object(vec![
        ("sections", keys(Some(&header.value))),
        ("opts", Json::Array(opts)),
        ("args", keys(header.section("args"))),
        ("config", keys(header.section("config"))),
        ("ext", keys(header.section("ext"))),
        ("host", keys(header.section("host"))),
        ("rt_leaked", Json::Array(leaked)),
    ]));
}
