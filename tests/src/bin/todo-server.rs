//! Serves the todo app (`pulse_tests::todo`) on 127.0.0.1: `todo-server [port] [assets]`
//! (port 0 for any; `assets`, a built client to serve). Prints `listening on <port>`
//! once bound; stops on Ctrl-C or SIGTERM.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    pulse_tests::init_tracing();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut server = pulse_tests::todo::server();
    if let Some(assets) = args.next() {
        server = server.assets(assets);
    }
    let running = server.build().bind(("127.0.0.1", port)).await?;
    println!("listening on {}", running.local_addr().port());
    pulse_runtime::stop_signal().await;
    running.shutdown().await;
    Ok(())
}
