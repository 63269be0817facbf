//! The command line.

pub fn main() -> std::process::ExitCode {
    // The exec shim runs before any other parsing: see `shim`'s module doc.
    #[cfg(unix)]
    {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if args.get(1).is_some_and(|a| a == crate::shim::ARG) {
            crate::shim::main(&args[2..])
        }
    }
    std::process::ExitCode::SUCCESS
}
