//! The README shows the chat in short: what it shows must be the chat's own code. Every
//! event its `#[channel]` declares is declared the same way by examples/chat (the Rust
//! block also compiles, as a doctest of the chat's crate), and its browser block is
//! type-checked against the chat's generated module.

use std::path::Path;

fn read(path: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The text of the first fenced block of `language` after `after`.
fn block<'a>(text: &'a str, after: &str, language: &str) -> &'a str {
    let from = text.find(after).unwrap_or_else(|| panic!("no `{after}` in the README"));
    let fence = format!("```{language}\n");
    let start = text[from..].find(&fence).map(|i| from + i + fence.len()).expect("the block");
    let end = text[start..].find("```").map(|i| start + i).expect("the block's end");
    &text[start..end]
}

/// An event line of a `#[channel]` declaration, without its comment and spacing:
/// `typing(Typing)=>server`.
fn event(line: &str) -> Option<String> {
    let code = line.split("//").next()?.trim().trim_end_matches(',');
    code.contains("=>").then(|| code.split_whitespace().collect())
}

/// The event lines of the first `#[channel(` declaration in `code`.
fn events(code: &str) -> Vec<String> {
    let start = code.find("#[channel(").expect("a channel declaration");
    let end = start + code[start..].find("))]").expect("its end");
    code[start..end].lines().filter_map(event).collect()
}

#[test]
fn the_readmes_channel_is_the_chats() {
    let readme = read("README.md");
    let shown = events(block(&readme, "## The chat, in short", "rust"));
    let chat = events(&read("examples/chat/src/lib.rs"));
    assert!(shown.len() >= 5, "the README's declaration: {shown:?}");
    for event in &shown {
        assert!(chat.contains(event), "the README declares `{event}`; examples/chat declares {chat:?}");
    }
}

/// Where the README's browser block is kept, for tsc to check against the chat's
/// generated module (`./scripts/test-all.sh` type-checks the chat's client folder).
const CHECKED_BLOCK: &str = "examples/chat/client/src/typecheck/readme.tsx";

/// The README's browser block as a module tsc checks: the imports it leaves out, then
/// the block as it is.
fn checked_block(readme: &str) -> String {
    format!(
        "// The README's browser block (\"The chat, in short\"), copied by tests/tests/readme.rs\n\
         // so that tsc checks it against the chat's generated module: what the README shows\n\
         // compiles. Do not edit: change the README, then `PULSE_BLESS=1 cargo test -p\n\
         // pulse-tests --test readme`.\n\n\
         import {{ useChannelState }} from \"@pulse-rs/client\";\n\
         import {{ useEffect, useState }} from \"react\";\n\
         import {{ type ChatClientProps, type Message, useChatChannel }} from \"../generated/chat\";\n\n{}",
        block(readme, "Browser ([ChatClient.tsx]", "tsx")
    )
}

#[test]
fn the_readmes_browser_block_is_type_checked() {
    let expected = checked_block(&read("README.md"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(CHECKED_BLOCK);
    if std::env::var_os("PULSE_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{CHECKED_BLOCK} is not the README's browser block; run `PULSE_BLESS=1 cargo test -p pulse-tests --test readme`"
    );
}
