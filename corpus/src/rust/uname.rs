//! uname-rust: runs `uname -a` on the host through api.exec and logs through api.log.
#[path = "../../sdk/rust/sysinspect.rs"]
mod sysinspect;

use sysinspect::{object, Json, Level};

fn fail(msg: &str) -> ! {
    sysinspect::log(Level::Error, msg);
    sysinspect::print(&object(vec![("error", msg.into())]));
    std::process::exit(1)
}

fn main() {
    if let Err(e) = sysinspect::read_header() {
        fail(&e.to_string());
    }
    let argv = ["/usr/bin/uname", "-a"];
    sysinspect::log(Level::Info, &format!("running {}", argv.join(" ")));
    let res = match sysinspect::exec(&argv, None, 1 << 20) {
        Ok(r) => r,
        Err(e) => fail(&format!("api.exec failed: {}", e)),
    };
    if let Some(err) = res.error {
        fail(&format!("the host refused: {}", err));
    }
    sysinspect::log(Level::Debug, &format!("uname exited with {}", res.exit_code));
    sysinspect::print(&object(vec![
        ("exit_code", Json::Int(res.exit_code)),
        ("uname", res.stdout.trim().into()),
    ]));
}
