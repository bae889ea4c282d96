//! The first paint's HTML is what React renders for the same tree: `to_html`'s output
//! for a corpus of trees goes to `pulse-client-gen/ts/test/generated/html-cases.json`,
//! and the client runtime's tests (`ts/test/html.test.tsx`) render each tree with
//! `react-dom/server` through `PulseRoot`'s own renderer and compare. A difference is
//! a page that React would not hydrate.

use std::collections::BTreeMap;

use pulse_runtime::component::{VElement, VNode, to_html};
use serde_json::{Value, json};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pulse-client-gen/ts/test/generated/html-cases.json");

fn text(text: &str) -> VNode {
    VNode::Text(text.to_owned())
}

fn element(tag: &str, props: Value, children: Vec<VNode>) -> VNode {
    let props: BTreeMap<String, Value> = serde_json::from_value(props).unwrap();
    VNode::Element(VElement { tag: tag.to_owned(), key: None, props, children })
}

/// Trees as server components render them: texts, the common elements and attributes,
/// styles, links, forms, client components with and without a fallback.
fn corpus() -> Vec<(&'static str, Vec<VNode>)> {
    vec![
        ("texts side by side", vec![text("a"), text("b"), element("p", json!({}), vec![text("c"), text("d")])]),
        ("escaped text", vec![element("p", json!({ "title": "a \"b\" <c> & 'd'" }), vec![text("<b>&amp;'\"</b>")])]),
        (
            "class, for, ids and booleans",
            vec![element(
                "div",
                json!({ "className": "chat", "id": "c1", "hidden": false }),
                vec![
                    element("label", json!({ "htmlFor": "name" }), vec![text("Name")]),
                    element(
                        "input",
                        json!({ "id": "name", "disabled": true, "checked": false, "value": "ann" }),
                        vec![],
                    ),
                    element("input", json!({ "type": "checkbox", "defaultChecked": true, "name": "x" }), vec![]),
                    element("br", json!({}), vec![]),
                    element("button", json!({ "type": "submit", "disabled": false }), vec![text("Send")]),
                ],
            )],
        ),
        (
            "styles",
            vec![element(
                "p",
                json!({ "style": { "fontWeight": "bold", "marginTop": 4, "opacity": 0.5, "zIndex": 2, "--gap": "1px" } }),
                vec![text("styled")],
            )],
        ),
        (
            "data and aria attributes",
            vec![element(
                "div",
                json!({ "aria-hidden": true, "data-open": false, "data-count": 3, "role": "list", "tabIndex": 0 }),
                vec![],
            )],
        ),
        (
            "booleanish attributes",
            vec![element("div", json!({ "spellCheck": false, "draggable": true, "contentEditable": false }), vec![])],
        ),
        (
            "links, the app's and others",
            vec![element(
                "nav",
                json!({}),
                vec![
                    element(
                        "a",
                        json!({ "href": "/rooms/x", "data-pulse-link": true, "className": "current" }),
                        vec![text("x")],
                    ),
                    element(
                        "a",
                        json!({ "href": "https://example.com/?a=1&b=2", "target": "_blank", "rel": "noreferrer" }),
                        vec![text("out")],
                    ),
                ],
            )],
        ),
        (
            "event handlers are no attributes",
            vec![element("button", json!({ "onClick": { "$cb": "1:1" } }), vec![text("+")])],
        ),
        (
            "a list",
            vec![element(
                "ul",
                json!({ "className": "server-messages" }),
                vec![
                    element("li", json!({}), vec![text("ann: hello")]),
                    element("li", json!({}), vec![text("bob: "), text("hi")]),
                ],
            )],
        ),
        ("an empty list", vec![element("ul", json!({ "className": "server-messages" }), vec![])]),
        (
            "client components, with and without a fallback",
            vec![element(
                "div",
                json!({}),
                vec![
                    text("before"),
                    element("$$Widget", json!({ "channelId": "x" }), vec![]),
                    text("between"),
                    element(
                        "$$Widget",
                        json!({}),
                        vec![element("p", json!({ "className": "status" }), vec![text("loading…")])],
                    ),
                    element("$$Widget", json!({}), vec![text("loading")]),
                    text("after"),
                ],
            )],
        ),
        (
            "a form",
            vec![element(
                "form",
                json!({ "className": "f", "onSubmit": { "$cb": "1:2" } }),
                vec![
                    element(
                        "input",
                        json!({ "name": "q", "placeholder": "Search", "autoComplete": "off", "maxLength": 20 }),
                        vec![],
                    ),
                    element(
                        "select",
                        json!({ "name": "s" }),
                        vec![element("option", json!({ "value": "a" }), vec![text("A")])],
                    ),
                    element("textarea", json!({ "name": "t", "value": "a <b> & c", "rows": 3 }), vec![]),
                    element("textarea", json!({ "defaultValue": "draft" }), vec![]),
                ],
            )],
        ),
        (
            "an icon in SVG",
            vec![element(
                "svg",
                json!({ "viewBox": "0 0 10 10", "width": 10, "aria-label": "dot" }),
                vec![
                    element(
                        "circle",
                        json!({ "cx": 5, "cy": 5, "r": 4, "strokeWidth": 2, "fillOpacity": 0.5, "stroke": "red" }),
                        vec![],
                    ),
                    element("use", json!({ "xlinkHref": "#dot", "xmlLang": "en" }), vec![]),
                ],
            )],
        ),
        (
            "selects with their values",
            vec![element(
                "form",
                json!({}),
                vec![
                    element(
                        "select",
                        json!({ "name": "one", "value": "b" }),
                        vec![
                            element("option", json!({ "value": "a" }), vec![text("A")]),
                            element("option", json!({ "value": "b" }), vec![text("B")]),
                            element(
                                "optgroup",
                                json!({ "label": "more" }),
                                vec![element("option", json!({ "value": "b" }), vec![text("B again")])],
                            ),
                        ],
                    ),
                    element(
                        "select",
                        json!({ "defaultValue": "Second" }),
                        vec![
                            element("option", json!({}), vec![text("First")]),
                            element("option", json!({}), vec![text("Sec"), text("ond")]),
                        ],
                    ),
                    element(
                        "select",
                        json!({ "multiple": true, "value": ["a", 3] }),
                        vec![
                            element("option", json!({ "value": "a" }), vec![text("A")]),
                            element("option", json!({ "value": "b" }), vec![text("B")]),
                            element("option", json!({ "value": 3 }), vec![text("Three")]),
                        ],
                    ),
                    element(
                        "select",
                        json!({ "value": 2 }),
                        vec![
                            element("option", json!({ "value": 1 }), vec![text("one")]),
                            element("option", json!({ "value": "2" }), vec![text("two")]),
                        ],
                    ),
                ],
            )],
        ),
        (
            "inner HTML set dangerously",
            vec![element(
                "div",
                json!({ "className": "post", "dangerouslySetInnerHTML": { "__html": "<b>bold</b> &amp; <i>raw</i>" } }),
                vec![],
            )],
        ),
        (
            "numbers as JavaScript writes them",
            vec![element(
                "div",
                json!({
                    "tabIndex": -0.0,
                    "data-width": 10.0,
                    "data-big": 1e21,
                    "data-small": 1.5e-7,
                    "data-half": 0.5,
                    "data-tiny": 1e-6,
                    "data-huge": 1_152_921_504_606_846_976_u64,
                    "style": { "marginTop": 4.0, "lineHeight": 1.0, "width": 2.5 },
                }),
                vec![element(
                    "select",
                    json!({ "value": 3.0 }),
                    vec![
                        element("option", json!({ "value": 3 }), vec![text("three")]),
                        element("option", json!({ "value": 4.0 }), vec![text("four")]),
                    ],
                )],
            )],
        ),
        ("unicode", vec![element("p", json!({ "title": "é ✓ 😀" }), vec![text("é ✓ 😀 \u{2028}")])]),
    ]
}

#[test]
fn the_html_cases_for_the_client_runtime_are_current() {
    let cases: Vec<Value> = corpus()
        .into_iter()
        .map(|(name, tree)| json!({ "name": name, "html": to_html(&tree), "tree": tree }))
        .collect();
    let written = serde_json::to_string_pretty(&cases).unwrap() + "\n";
    if std::env::var_os("PULSE_BLESS").is_some() {
        std::fs::write(CASES, &written).unwrap();
    }
    let committed = std::fs::read_to_string(CASES).unwrap_or_default();
    assert!(
        committed == written,
        "{CASES} is not what to_html writes now: run `PULSE_BLESS=1 cargo test -p pulse-tests --test first_paint_html`"
    );
}
