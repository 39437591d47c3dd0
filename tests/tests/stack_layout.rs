//! The initial process stack the loader builds: argc/argv/envp/auxv order,
//! the auxv values a program relies on, string placement and alignment
//! (`stack_layout.c`), compared with what Linux builds for the same binary.

use tests::{Failures, check_guest};

#[test]
fn initial_stack_matches_linux() {
    let mut failures = Failures::new();
    let args = ["", "two words", "é-utf8", "last"];
    check_guest(&mut failures, "stack_layout", &args, b"", 0, &mut || {});
    failures.finish("stack_layout");
}

/// Many arguments and one very long one (the strings span many pages) still
/// land where Linux puts them.
#[test]
fn initial_stack_with_many_and_long_strings() {
    let mut args: Vec<String> = (0..500).map(|i| format!("arg{i}")).collect();
    args.push("x".repeat(70_000));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut failures = Failures::new();
    check_guest(&mut failures, "stack_layout", &args, b"", 0, &mut || {});
    failures.finish("stack_layout with long argv");
}
