//! sysinspect.rs: guest SDK for Sysinspect Wasm modules written in Rust
//! (target wasm32-wasi, std only, no crates).
//!
//! Copy this file into your crate and declare it with `mod sysinspect;` (or
//! `#[path = "..."] mod sysinspect;`). It wraps the host API imported from the
//! module namespace "api" (log, exec, header, header_has, header_get, and
//! upstream's PackageKit helpers in `packagekit`), gives upstream's host
//! helpers (`host::has`, `host::trait_value`, `host::paths`,
//! `host::path_value`), reads the request header (one JSON line on stdin) and
//! carries a small JSON value type (parse and compact serialisation) so that a
//! module needs no crates.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, Write};

/// The raw host API (PROTOCOL section 2): pointers are offsets in this module's memory.
pub mod raw {
    #[link(wasm_import_module = "api")]
    extern "C" {
        pub fn log(level: i32, msg: *const u8, len: i32);
        pub fn exec(req: *const u8, req_len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn header(out: *mut u8, out_cap: i32) -> i32;
        pub fn header_has(ptr: *const u8, len: i32) -> i32;
        pub fn header_get(ptr: *const u8, len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_available() -> i32;
        pub fn packagekit_status(out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_packages(out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_history(req: *const u8, req_len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_install(req: *const u8, req_len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_remove(req: *const u8, req_len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn packagekit_upgrade(req: *const u8, req_len: i32, out: *mut u8, out_cap: i32) -> i32;
    }
}

/// What the host returns for a malformed call.
pub const BAD_CALL: i32 = -2;

/// Log levels; the host logs anything else as INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// Why an SDK call failed.
#[derive(Debug)]
pub enum Error {
    /// The host answered -2: the call was malformed.
    BadCall,
    /// The answer did not fit the buffer.
    TooLarge,
    /// Input that is not valid JSON.
    Json(String),
    /// Reading stdin failed.
    Io(io::Error),
    /// The host answered `{"error": "..."}` (PackageKit refused or failed).
    Host(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::BadCall => write!(f, "the host rejected the call"),
            Error::TooLarge => write!(f, "the host's answer is too large"),
            Error::Json(m) => write!(f, "invalid JSON: {}", m),
            Error::Io(e) => write!(f, "I/O error: {}", e),
            Error::Host(m) => write!(f, "{}", m),
        }
    }
}

/// Append a line to the module log (returned under "__sysinspect-module-logs").
pub fn log(level: Level, msg: &str) {
    if !msg.is_empty() {
        unsafe { raw::log(level as i32, msg.as_ptr(), msg.len() as i32) }
    }
}

fn grow(call: impl FnMut(*mut u8, i32) -> i32) -> Result<Vec<u8>, Error> {
    grow_from(4096, call)
}

fn grow_from(mut cap: usize, mut call: impl FnMut(*mut u8, i32) -> i32) -> Result<Vec<u8>, Error> {
    while cap <= 1 << 26 {
        let mut buf = vec![0u8; cap];
        let n = call(buf.as_mut_ptr(), cap as i32);
        if n < 0 {
            return Err(Error::BadCall);
        }
        if (n as usize) < cap {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        cap *= 4;
    }
    Err(Error::TooLarge)
}

/// The whole header as the host holds it (api.header).
pub fn header_json() -> Result<String, Error> {
    let bytes = grow(|out, cap| unsafe { raw::header(out, cap) })?;
    String::from_utf8(bytes).map_err(|e| Error::Json(e.to_string()))
}

/// Whether the JSON Pointer (RFC 6901) resolves in the header (api.header_has).
pub fn has(pointer: &str) -> bool {
    !pointer.is_empty() && unsafe { raw::header_has(pointer.as_ptr(), pointer.len() as i32) } == 1
}

/// The value at the pointer, `Json::Null` when absent (api.header_get).
pub fn get(pointer: &str) -> Result<Json, Error> {
    if pointer.is_empty() {
        return Err(Error::BadCall);
    }
    let bytes = grow(|out, cap| unsafe { raw::header_get(pointer.as_ptr(), pointer.len() as i32, out, cap) })?;
    Json::parse(&String::from_utf8_lossy(&bytes))
}

/// What api.exec reports about a host command.
#[derive(Debug, Clone)]
pub struct ExecResult {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    /// Set instead when the host refused the request.
    pub error: Option<String>,
}

/// Run argv on the host through api.exec (no shell), optionally in cwd. The
/// command runs once; an answer longer than `cap` bytes is an error.
pub fn exec(argv: &[&str], cwd: Option<&str>, cap: usize) -> Result<ExecResult, Error> {
    let mut req = BTreeMap::new();
    req.insert("argv".to_string(), Json::Array(argv.iter().map(|a| Json::from(*a)).collect()));
    if let Some(dir) = cwd {
        req.insert("cwd".to_string(), Json::from(dir));
    }
    let body = Json::Object(req).to_string();
    let mut out = vec![0u8; cap];
    let n = unsafe { raw::exec(body.as_ptr(), body.len() as i32, out.as_mut_ptr(), cap as i32) };
    if n < 0 {
        return Err(Error::BadCall);
    }
    if n as usize >= cap {
        return Err(Error::TooLarge);
    }
    let answer = Json::parse(&String::from_utf8_lossy(&out[..n as usize]))?;
    Ok(ExecResult {
        exit_code: answer.get("exit_code").and_then(Json::as_i64).unwrap_or(-1),
        stdout: answer.get("stdout").and_then(Json::as_str).unwrap_or("").to_string(),
        stderr: answer.get("stderr").and_then(Json::as_str).unwrap_or("").to_string(),
        error: answer.get("error").and_then(Json::as_str).map(str::to_string),
    })
}

/// The request header a module receives on stdin.
#[derive(Debug, Clone)]
pub struct Header {
    /// The line as read, without the newline.
    pub raw: String,
    pub value: Json,
}

impl Header {
    /// A top-level section: "opts", "args", "config", "ext" or "host".
    pub fn section(&self, name: &str) -> Option<&Json> {
        self.value.get(name)
    }

    /// Whether the option was given.
    pub fn has_opt(&self, name: &str) -> bool {
        match self.section("opts") {
            Some(Json::Array(items)) => items.iter().any(|o| o.as_str() == Some(name)),
            _ => false,
        }
    }

    /// The string argument, or `default`.
    pub fn arg<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.section("args").and_then(|a| a.get(name)).and_then(Json::as_str).unwrap_or(default)
    }
}

/// Read the header line from stdin and parse it.
pub fn read_header() -> Result<Header, Error> {
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).map_err(Error::Io)?;
    if line.ends_with('\n') {
        line.pop();
    }
    let value = Json::parse(&line)?;
    Ok(Header { raw: line, value })
}

/// Read the header, or answer `{"error": "..."}` and exit 1: what most modules want first.
pub fn header_or_exit() -> Header {
    match read_header() {
        Ok(header) => header,
        Err(e) => {
            print(&object(vec![("error", e.to_string().into())]));
            std::process::exit(1);
        }
    }
}

/// Write `value` as one compact JSON document and a newline to stdout.
pub fn print(value: &Json) {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{}", value);
    let _ = out.flush();
}

/// Upstream's host helpers over `host.traits` and `host.paths` (its SDK's host.rs).
pub mod host {
    use super::{get, has as has_pointer, Json};

    /// `name` as one JSON Pointer token: `~` as `~0`, `/` as `~1`.
    pub fn escape_pointer_segment(name: &str) -> String {
        name.replace('~', "~0").replace('/', "~1")
    }

    /// Does `host.traits.<name>` exist?
    pub fn has(name: &str) -> bool {
        has_pointer(&format!("/host/traits/{}", escape_pointer_segment(name)))
    }

    /// The value of `host.traits.<name>`; `None` when there is no such trait.
    pub fn trait_value(name: &str) -> Option<Json> {
        let pointer = format!("/host/traits/{}", escape_pointer_segment(name));
        if has_pointer(&pointer) { get(&pointer).ok() } else { None }
    }

    /// The whole `host.paths` object; an empty object when the host sent none.
    pub fn paths() -> Json {
        if has_pointer("/host/paths") {
            if let Ok(value) = get("/host/paths") {
                return value;
            }
        }
        Json::Object(Default::default())
    }

    /// The value of `host.paths.<name>`; `None` when absent.
    pub fn path_value(name: &str) -> Option<Json> {
        let pointer = format!("/host/paths/{}", escape_pointer_segment(name));
        if has_pointer(&pointer) { get(&pointer).ok() } else { None }
    }
}

/// Upstream's PackageKit helpers (api.packagekit_*): each answer as a `Json`
/// value, an `{"error": ...}` answer as `Error::Host`.
pub mod packagekit {
    use super::{grow, grow_from, raw, Error, Json};

    fn answer(bytes: Vec<u8>) -> Result<Json, Error> {
        let value = Json::parse(&String::from_utf8_lossy(&bytes))?;
        if let Some(message) = value.get("error").and_then(Json::as_str) {
            return Err(Error::Host(message.to_string()));
        }
        Ok(value)
    }

    fn request(names: &[&str], count: Option<u32>) -> String {
        let mut fields = vec![("names", Json::Array(names.iter().map(|n| Json::from(*n)).collect()))];
        if let Some(count) = count {
            fields.push(("count", Json::Int(count as i64)));
        }
        super::object(fields).to_string()
    }

    /// Whether the host can reach PackageKit's system bus.
    pub fn available() -> bool {
        unsafe { raw::packagekit_available() == 1 }
    }

    /// The daemon's status: `available`, `backend_name`, `daemon_state`, ...
    pub fn status() -> Result<Json, Error> {
        answer(grow(|out, cap| unsafe { raw::packagekit_status(out, cap) })?)
    }

    /// The installed packages: `[{info, package_id, name, version, arch, data, summary}, ...]`.
    /// (Long, and each retry asks the daemon again: the buffer starts at 1 MiB.)
    pub fn packages() -> Result<Json, Error> {
        answer(grow_from(1 << 20, |out, cap| unsafe { raw::packagekit_packages(out, cap) })?)
    }

    /// PackageKit's history of `names`, at most `count` entries each (`None`: the host's default, 10).
    pub fn history(names: &[&str], count: Option<u32>) -> Result<Json, Error> {
        let req = request(names, count);
        answer(grow(|out, cap| unsafe { raw::packagekit_history(req.as_ptr(), req.len() as i32, out, cap) })?)
    }

    // One call, never repeated with a larger buffer: a change must not run twice.
    fn change(call: unsafe extern "C" fn(*const u8, i32, *mut u8, i32) -> i32, names: &[&str]) -> Result<Json, Error> {
        let req = request(names, None);
        let mut out = vec![0u8; 1 << 20];
        let n = unsafe { call(req.as_ptr(), req.len() as i32, out.as_mut_ptr(), out.len() as i32) };
        if n < 0 {
            return Err(Error::BadCall);
        }
        out.truncate(n as usize);
        answer(out)
    }

    /// Install `names` (the host refuses an empty list): `{action, requested, package_ids, changed}`.
    pub fn install(names: &[&str]) -> Result<Json, Error> {
        change(raw::packagekit_install, names)
    }

    /// Remove `names` (the host refuses an empty list).
    pub fn remove(names: &[&str]) -> Result<Json, Error> {
        change(raw::packagekit_remove, names)
    }

    /// Upgrade `names` (the host refuses an empty list: never the whole system).
    pub fn upgrade(names: &[&str]) -> Result<Json, Error> {
        change(raw::packagekit_upgrade, names)
    }
}

// ---- JSON -------------------------------------------------------------------------

/// A JSON value. Objects keep their keys sorted; integers that fit i64 stay exact.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl From<i64> for Json {
    fn from(n: i64) -> Json {
        Json::Int(n)
    }
}
impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}
impl From<f64> for Json {
    fn from(x: f64) -> Json {
        Json::Float(x)
    }
}

/// Build an object from (key, value) pairs.
pub fn object(pairs: Vec<(&str, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl Json {
    /// Member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.get(key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(n) => Some(*n as f64),
            Json::Float(x) => Some(*x),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Parse a complete JSON document.
    pub fn parse(text: &str) -> Result<Json, Error> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(Error::Json(format!("trailing data at byte {}", p.i)));
        }
        Ok(v)
    }
}

/// Write `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        write_json(&mut out, self);
        f.write_str(&out)
    }
}

fn write_json(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(n) => {
            let _ = write!(out, "{}", n);
        }
        Json::Float(x) => {
            if !x.is_finite() {
                out.push_str("null");
            } else if x.fract() == 0.0 && x.abs() < 1e16 {
                let _ = write!(out, "{:.1}", x);
            } else {
                let _ = write!(out, "{:?}", x);
            }
        }
        Json::Str(s) => write_str(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Json::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, what: &str) -> Result<T, Error> {
        Err(Error::Json(format!("{} at byte {}", what, self.i)))
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn value(&mut self, depth: usize) -> Result<Json, Error> {
        if depth > 128 {
            return self.err("nesting too deep");
        }
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'n') if self.eat("null") => Ok(Json::Null),
            Some(b't') if self.eat("true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Json::Bool(false)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Json::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        return Ok(Json::Array(items));
                    }
                    return self.err("expected , or ]");
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Json::Object(m));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected a key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return self.err("expected :");
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        return Ok(Json::Object(m));
                    }
                    return self.err("expected , or }");
                }
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }
    fn number(&mut self) -> Result<Json, Error> {
        let start = self.i;
        let mut float = false;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if !float {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Json::Int(n));
            }
        }
        match text.parse::<f64>() {
            Ok(x) => Ok(Json::Float(x)),
            Err(_) => self.err("bad number"),
        }
    }
    fn hex4(&mut self) -> Result<u32, Error> {
        let h = self.s.get(self.i..self.i + 4).and_then(|b| std::str::from_utf8(b).ok());
        match h.and_then(|h| u32::from_str_radix(h, 16).ok()) {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }
    fn string(&mut self) -> Result<String, Error> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|e| Error::Json(e.to_string()));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(c) => *c,
                        None => return self.err("unterminated escape"),
                    };
                    self.i += 1;
                    let ch = match c {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'/' => '/',
                        b'\\' => '\\',
                        b'"' => '"',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.eat("\\u") {
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                Some(c) => {
                    out.push(*c);
                    self.i += 1;
                }
            }
        }
    }
}
