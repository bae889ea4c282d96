use pulse_runtime::Routes;

#[derive(Routes)]
struct Route {
    page: String,
}

fn main() {}
