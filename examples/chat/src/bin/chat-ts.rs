//! Writes the chat's TypeScript module, or checks it is current:
//! `cargo run -p chat --bin chat-ts -- [--check] examples/chat/client/src/generated/chat.ts`

fn main() -> std::process::ExitCode {
    chat::typescript().run_cli()
}
