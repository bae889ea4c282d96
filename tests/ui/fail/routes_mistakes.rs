use pulse_runtime::Routes;

#[derive(Routes, Debug, Clone, PartialEq)]
#[redirect("/old/{room}", to = Rooms)]
#[redirect("/older/{id}", to = Room)]
enum Route {
    #[route("/")]
    Lobby,
    #[route("/rooms/{room}")]
    Room { room: String, extra: u32 },
    #[route("/users/{user}")]
    User,
    #[route("/files/{path}")]
    File { path: Option<String> },
    #[route("/rooms/{key}")]
    SameAsRoom { key: String },
    #[route("rooms")]
    NoSlash,
    Unrouted,
    #[route("/t/{id}")]
    Tuple(u32),
    #[route("/search?{q}")]
    Search { q: Option<String> },
    #[route("/search")]
    SearchAgain,
}

fn main() {}
