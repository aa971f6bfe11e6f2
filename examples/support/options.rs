//! The examples' command line: `--name value` options and bare `--name` flags, shared by the
//! examples that include this file.
#![allow(dead_code)] // Not every example takes numbers or flags.

/// The value given after `name`, if any.
pub fn value(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|arg| arg == name)?;
    args.get(at + 1).cloned()
}

/// The number given after `name`, else `default`.
pub fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    value(name).map_or(default, |given| {
        given
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not {given:?}"))
    })
}

/// Whether the flag `name` is given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|arg| arg == name)
}
