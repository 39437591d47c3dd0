//! The initial process stack the loader builds: argc/argv/envp/auxv order,
//! the auxv values a program relies on, string placement and alignment
//! (`stack_layout.c`), compared with what Linux builds for the same binary.

use tests::check_guest;

#[test]
fn initial_stack_matches_linux() {
    check_guest("stack_layout", &["", "two words", "é-utf8", "last"], b"", 0, &mut || {});
}

/// Many arguments and a large environment string still land where Linux puts
/// them (the stack area grows past one page of strings).
#[test]
fn initial_stack_with_many_and_long_strings() {
    let long = "x".repeat(70_000);
    let mut args: Vec<String> = (0..500).map(|i| format!("arg{i}")).collect();
    args.push(long);
    check_guest("stack_layout", &args, b"", 0, &mut || {});
}
