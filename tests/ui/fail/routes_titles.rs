use pulse_runtime::Routes;

#[derive(Routes, Debug, Clone, PartialEq)]
enum Route {
    #[route("/", title = "Home", colour = "red")]
    Home,
    #[route("/rooms/{room}", title = "Room {rom}")]
    Room { room: String },
    #[route("/about", description = "About {page}")]
    About,
    #[route("/x/{id}", title = "X {id", description = "fine")]
    X { id: u32 },
    #[route("/y/{id}", title = "Y", title = "again")]
    Y { id: u32 },
    #[route("/z", title = "a } b")]
    Z,
}

fn main() {}
