//! Renders a route table as the TypeScript `routes`: one function a page that makes its
//! address from typed parameters, so a misspelt page or a missing or mistyped
//! parameter fails tsc as it fails rustc.

use std::fmt::Write as _;

use pulse_runtime::routes::{ParamSchema, RouteSchema, SegmentSchema};

/// The page's name in TypeScript: `Room` → `room`, `NewRoom` → `newRoom`.
pub(crate) fn ts_name(rust: &str) -> String {
    let mut chars = rust.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What the rendered `routes` use from the client runtime, as imported.
pub(crate) fn runtime_names(routes: &[RouteSchema]) -> Vec<&'static str> {
    let uses = |wanted: fn(&SegmentSchema) -> bool| routes.iter().flat_map(|r| &r.segments).any(wanted);
    let mut names = vec!["href"];
    if uses(|s| matches!(s, SegmentSchema::Rest(_))) {
        names.push("pathRest");
    }
    if uses(|s| matches!(s, SegmentSchema::Param(_))) {
        names.push("pathSegment");
    }
    names.push("type Href");
    names
}

/// `export const routes = { .. } as const;`
pub(crate) fn render_routes(out: &mut String, routes: &[RouteSchema], cfg: &ts_rs::Config) {
    out.push_str(
        "/**\n * The app's pages: each makes its page's address from its typed parameters,\n \
         * percent-encoded as the server reads it back.\n */\n",
    );
    out.push_str("export const routes = {\n");
    for route in routes {
        if !route.docs.is_empty() {
            out.push_str("  /**\n");
            for line in route.docs.lines() {
                let _ = writeln!(out, "   * {line}");
            }
            out.push_str("   */\n");
        }
        let params: Vec<&ParamSchema> = route.params().collect();
        let signature = if params.is_empty() {
            String::new()
        } else {
            let fields: Vec<String> = params
                .iter()
                .map(|p| format!("{}{}: {}", p.name, if p.required { "" } else { "?" }, p.ty.ts_name(cfg)))
                .collect();
            format!("params: {{ {} }}", fields.join("; "))
        };
        let mut path = String::new();
        for segment in &route.segments {
            match segment {
                SegmentSchema::Literal(text) => {
                    let _ = write!(path, "/{text}");
                }
                SegmentSchema::Param(param) => {
                    let _ = write!(path, "/${{pathSegment(params.{})}}", param.name);
                }
                SegmentSchema::Rest(param) => {
                    let _ = write!(path, "/${{pathRest(params.{})}}", param.name);
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let query = if route.query.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = route.query.iter().map(|p| format!("{0}: params.{0}", p.name)).collect();
            format!(", {{ {} }}", pairs.join(", "))
        };
        let _ = writeln!(out, "  {}: ({signature}): Href => href(`{path}`{query}),", ts_name(route.name));
    }
    out.push_str("} as const;\n");
}
