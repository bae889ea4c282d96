//! The rendered tree as HTML, for a page's first paint before any script runs: what
//! React would put in the DOM for the same tree, written as `react-dom/server` writes
//! the common cases (`class` for `className`, `for` for `htmlFor`, `<br/>`, a `<!-- -->`
//! between adjacent texts, no event handler, a `javascript:` URL blocked, SVG's
//! `strokeWidth` as `stroke-width`, `draggable="false"`), so the browser's React can take
//! it over. `tests/tests/first_paint_html.rs` and the client runtime's
//! `test/html.test.tsx` check a corpus of trees against `react-dom/server`. Every text
//! and attribute value is escaped; the one thing written raw is what React writes raw,
//! a `dangerouslySetInnerHTML`'s `__html`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use super::vdom::{VElement, VNode};

/// Elements that have no closing tag and no children.
const VOID: [&str; 13] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// CSS properties whose numbers have no unit (React writes every other number in `px`).
const UNITLESS: [&str; 16] = [
    "animationIterationCount",
    "columnCount",
    "flex",
    "flexGrow",
    "flexShrink",
    "fontWeight",
    "gridColumn",
    "gridRow",
    "lineClamp",
    "lineHeight",
    "opacity",
    "order",
    "orphans",
    "tabSize",
    "widows",
    "zIndex",
];

/// Attributes React writes as `"true"` or `"false"` (its "booleanish strings"), not as
/// present or absent.
const BOOLEANISH: [&str; 7] = [
    "contentEditable",
    "draggable",
    "spellCheck",
    "autoReverse",
    "externalResourcesRequired",
    "focusable",
    "preserveAlpha",
];

/// Attributes whose value is a URL a browser may follow or load.
const URL_ATTRIBUTES: [&str; 6] = ["href", "src", "action", "formAction", "xlink:href", "poster"];

/// What a `javascript:` URL is written as: React's own replacement, which throws
/// instead of running the URL's code.
const BLOCKED_URL: &str = "javascript:throw new Error('React has blocked a javascript: URL as a security precaution.')";

/// Whether `url` is a `javascript:` URL as a browser reads it: leading control
/// characters and spaces, and tabs and line breaks anywhere, do not count; case does not
/// matter.
fn is_javascript_url(url: &str) -> bool {
    let letters =
        url.trim_start_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).take(11);
    letters.map(|c| c.to_ascii_lowercase()).eq("javascript:".chars())
}

/// The tree's root list as HTML.
pub fn to_html(tree: &[VNode]) -> String {
    let mut out = String::with_capacity(1024);
    write_nodes(&mut out, tree, None);
    out
}

/// Writes `nodes`, inside a `<select>` whose value is `selecting` if it is `Some`; says
/// whether the last thing written was text (a client component's fallback may end with
/// text, which a text after it must not run into).
fn write_nodes(out: &mut String, nodes: &[VNode], selecting: Option<&Value>) -> bool {
    let mut last_was_text = false;
    for node in nodes {
        match node {
            VNode::Text(text) => {
                // Two texts side by side would be one text node once parsed.
                if last_was_text {
                    out.push_str("<!-- -->");
                }
                escape_into(out, text);
                last_was_text = true;
            }
            VNode::Element(element) => last_was_text = write_element(out, element, selecting),
        }
    }
    last_was_text
}

/// Writes `element`, inside a `<select>` whose value is `selecting` if it is `Some`;
/// says whether it ended with text (only a client component's fallback can: an element
/// ends with its end tag).
fn write_element(out: &mut String, element: &VElement, selecting: Option<&Value>) -> bool {
    if let Some(name) = element.tag.strip_prefix("$$") {
        // A client component: the browser renders it; a marker and its fallback hold
        // its place.
        if !is_name(name) {
            return false;
        }
        let _ = write!(out, "<!--pulse:{name}-->");
        return write_nodes(out, &element.children, selecting);
    }
    let tag = element.tag.as_str();
    if !is_name(tag) {
        tracing::debug!(tag, "an element with a tag that is no HTML name is left out of the page's HTML");
        return false;
    }
    let props = &element.props;
    let prop = |name: &str| props.get(name).filter(|value| !value.is_null());
    // A `<textarea>`'s value is its text, and a `<select>`'s marks its options
    // `selected`, as React writes them; neither is an attribute.
    let textarea = tag.eq_ignore_ascii_case("textarea");
    let select = tag.eq_ignore_ascii_case("select");
    let option = tag.eq_ignore_ascii_case("option") && selecting.is_some();
    out.push('<');
    out.push_str(tag);
    for (name, value) in props {
        let value_prop = matches!(name.as_str(), "value" | "defaultValue");
        if !((textarea || select) && value_prop) && !(option && name == "selected") {
            write_attribute(out, name, value);
        }
    }
    if option && selecting.is_some_and(|selected| is_selected(selected, element)) {
        out.push_str(r#" selected="""#);
    }
    if VOID.iter().any(|void| void.eq_ignore_ascii_case(tag)) {
        out.push_str("/>");
        return false;
    }
    out.push('>');
    let inner = prop("dangerouslySetInnerHTML").and_then(|inner| inner.get("__html"));
    let value = prop("value").or_else(|| prop("defaultValue"));
    match (inner, value) {
        // Written raw, as React writes it (the children, which React refuses beside it,
        // are left out).
        (Some(Value::String(html)), _) => out.push_str(html),
        (Some(Value::Number(n)), _) => out.push_str(&js_number(n)),
        (Some(_), _) => {}
        (None, Some(Value::String(text))) if textarea => escape_into(out, text),
        (None, Some(Value::Number(n))) if textarea => escape_into(out, &js_number(n)),
        (None, _) if select => {
            write_nodes(out, &element.children, value);
        }
        (None, _) => {
            write_nodes(out, &element.children, if option { None } else { selecting });
        }
    }
    let _ = write!(out, "</{tag}>");
    false
}

/// Whether `option` is selected in a `<select>` whose value is `selected`: its `value`
/// (or else its text) is the select's value, or one of them for a `multiple` select,
/// compared as JavaScript's `'' + value` writes each.
fn is_selected(selected: &Value, option: &VElement) -> bool {
    let own = match option.props.get("value").filter(|value| !value.is_null()) {
        Some(value) => js_string(value),
        None => Some(
            option
                .children
                .iter()
                .filter_map(|child| match child {
                    VNode::Text(text) => Some(text.as_str()),
                    VNode::Element(_) => None,
                })
                .collect(),
        ),
    };
    let Some(own) = own else { return false };
    match selected {
        Value::Array(values) => values.iter().any(|value| js_string(value).as_deref() == Some(own.as_str())),
        value => js_string(value).as_deref() == Some(own.as_str()),
    }
}

/// A number as JavaScript's `String(n)` writes it, once `JSON.parse` has made it a
/// double: the shortest digits that read back as it, in plain notation from 1e-6 up to
/// 1e21 and as `1.5e-7` or `1e+21` beyond (ECMAScript's `Number::toString`).
fn js_number(n: &serde_json::Number) -> String {
    // An integer a double holds exactly (every one an app is likely to write) is its digits.
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= 1 << 53) {
        return i.to_string();
    }
    let Some(f) = n.as_f64().filter(|f| f.is_finite()) else { return n.to_string() };
    if f == 0.0 {
        return "0".to_owned();
    }
    // Rust writes the shortest digits that read back as `f` too: `d.ddde±x`.
    let scientific = format!("{:e}", f.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else { return n.to_string() };
    let Ok(exponent) = exponent.parse::<i32>() else { return n.to_string() };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // `f` is 0.digits × 10^point.
    let (count, point) = (digits.len() as i32, exponent + 1);
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if count <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - count) as usize))
    } else if 0 < point && point <= 21 {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat(-point as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{}{}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
    };
    format!("{sign}{body}")
}

/// A JSON scalar as JavaScript's `'' + value` writes it; `None` for what is no scalar.
fn js_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(js_number(n)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// One prop as an attribute, as React would set it; nothing for what is no attribute
/// (event handlers, callbacks, `false`, `null`, objects other than `style`).
fn write_attribute(out: &mut String, name: &str, value: &Value) {
    let name: Cow<'_, str> = match name {
        "className" => "class".into(),
        "htmlFor" => "for".into(),
        "defaultValue" => "value".into(),
        "defaultChecked" => "checked".into(),
        "key" | "ref" | "children" | "dangerouslySetInnerHTML" | "suppressHydrationWarning" => return,
        // Event handlers, however spelt: never an attribute (React skips them too).
        _ if name.get(..2).is_some_and(|on| on.eq_ignore_ascii_case("on")) => return,
        _ => alias(name),
    };
    let name = &*name;
    if !is_attribute_name(name) {
        return;
    }
    // Written `"true"`/`"false"`, as React writes them, rather than present or absent.
    let enumerated = name.starts_with("aria-") || name.starts_with("data-") || BOOLEANISH.contains(&name);
    let text: Cow<'_, str> = match value {
        Value::Null => return,
        Value::Bool(false) if !enumerated => return,
        Value::Bool(true) if !enumerated => Cow::Borrowed(""),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(js_number(n)),
        Value::String(s) if URL_ATTRIBUTES.iter().any(|url| url.eq_ignore_ascii_case(name)) && is_javascript_url(s) => {
            Cow::Borrowed(BLOCKED_URL)
        }
        Value::String(s) => Cow::Borrowed(s),
        Value::Object(map) if name == "style" => Cow::Owned(style_text(map)),
        Value::Object(_) | Value::Array(_) => return,
    };
    let _ = write!(out, " {name}=\"");
    escape_into(out, &text);
    out.push('"');
}

/// The props React writes under another name: SVG's presentation attributes hyphenated
/// (`strokeWidth` → `stroke-width`), `xlinkHref` → `xlink:href` and their kin.
fn alias(name: &str) -> Cow<'_, str> {
    if name == "xmlnsXlink" {
        return "xmlns:xlink".into();
    }
    if name == "panose1" {
        return "panose-1".into();
    }
    for prefix in ["xlink", "xml"] {
        if let Some(rest) = name.strip_prefix(prefix).filter(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        {
            return format!("{prefix}:{}", rest.to_ascii_lowercase()).into();
        }
    }
    if !HYPHENATED.contains(&name) {
        return name.into();
    }
    let mut hyphenated = String::with_capacity(name.len() + 4);
    push_hyphenated(&mut hyphenated, name);
    hyphenated.into()
}

/// Appends `name` hyphenated: `strokeWidth` → `stroke-width`.
fn push_hyphenated(out: &mut String, name: &str) {
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// React's props written hyphenated (its attribute aliases).
const HYPHENATED: [&str; 73] = [
    "acceptCharset",
    "httpEquiv",
    "alignmentBaseline",
    "arabicForm",
    "baselineShift",
    "capHeight",
    "clipPath",
    "clipRule",
    "colorInterpolation",
    "colorInterpolationFilters",
    "colorProfile",
    "colorRendering",
    "dominantBaseline",
    "enableBackground",
    "fillOpacity",
    "fillRule",
    "floodColor",
    "floodOpacity",
    "fontFamily",
    "fontSize",
    "fontSizeAdjust",
    "fontStretch",
    "fontStyle",
    "fontVariant",
    "fontWeight",
    "glyphName",
    "glyphOrientationHorizontal",
    "glyphOrientationVertical",
    "horizAdvX",
    "horizOriginX",
    "imageRendering",
    "letterSpacing",
    "lightingColor",
    "markerEnd",
    "markerMid",
    "markerStart",
    "overlinePosition",
    "overlineThickness",
    "paintOrder",
    "pointerEvents",
    "renderingIntent",
    "shapeRendering",
    "stopColor",
    "stopOpacity",
    "strikethroughPosition",
    "strikethroughThickness",
    "strokeDasharray",
    "strokeDashoffset",
    "strokeLinecap",
    "strokeLinejoin",
    "strokeMiterlimit",
    "strokeOpacity",
    "strokeWidth",
    "textAnchor",
    "textDecoration",
    "textRendering",
    "transformOrigin",
    "underlinePosition",
    "underlineThickness",
    "unicodeBidi",
    "unicodeRange",
    "unitsPerEm",
    "vAlphabetic",
    "vHanging",
    "vIdeographic",
    "vMathematical",
    "vectorEffect",
    "vertAdvY",
    "vertOriginX",
    "vertOriginY",
    "wordSpacing",
    "writingMode",
    "xHeight",
];

/// A `style` object as CSS text: `fontWeight` → `font-weight`, numbers in `px` unless
/// the property has no unit.
fn style_text(map: &serde_json::Map<String, Value>) -> String {
    let mut css = String::new();
    for (property, value) in map {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if UNITLESS.contains(&property.as_str()) || n.as_f64() == Some(0.0) => js_number(n),
            Value::Number(n) => format!("{}px", js_number(n)),
            _ => continue,
        };
        if !css.is_empty() {
            css.push(';');
        }
        if property.starts_with("--") {
            css.push_str(property);
        } else {
            push_hyphenated(&mut css, property);
        }
        let _ = write!(css, ":{value}");
    }
    css
}

/// An element's or a component's name: ASCII letters, digits and `-`, a letter first.
fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, as React escapes text and values.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// `value` as JSON safe inside a `<script>` element: `<`, `>`, `&` and the line
/// separators U+2028/U+2029 escaped, so no text in it can end the script.
pub fn json_in_script(value: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn element(tag: &str, props: Value, children: Vec<VNode>) -> VNode {
        let props: BTreeMap<String, Value> = serde_json::from_value(props).unwrap();
        VNode::Element(VElement { tag: tag.to_owned(), key: None, props, children })
    }

    fn text(text: &str) -> VNode {
        VNode::Text(text.to_owned())
    }

    #[test]
    fn elements_are_written_as_react_writes_them() {
        let tree = [element(
            "div",
            json!({ "className": "chat", "id": "c1" }),
            vec![
                element("label", json!({ "htmlFor": "name" }), vec![text("Name")]),
                element("input", json!({ "id": "name", "disabled": true, "checked": false, "value": "ann" }), vec![]),
                element("br", json!({}), vec![text("ignored")]),
                element(
                    "p",
                    json!({ "style": { "fontWeight": "bold", "marginTop": 4, "opacity": 0.5, "--gap": "1px" } }),
                    vec![],
                ),
                element("div", json!({ "aria-hidden": true, "data-open": false, "onClick": { "$cb": "1:1" } }), vec![]),
            ],
        )];
        assert_eq!(
            to_html(&tree),
            concat!(
                r#"<div class="chat" id="c1">"#,
                r#"<label for="name">Name</label>"#,
                r#"<input disabled="" id="name" value="ann"/>"#,
                r#"<br/>"#,
                r#"<p style="--gap:1px;font-weight:bold;margin-top:4px;opacity:0.5"></p>"#,
                r#"<div aria-hidden="true" data-open="false"></div>"#,
                "</div>"
            )
        );
    }

    #[test]
    fn adjacent_texts_stay_apart_and_client_components_leave_a_marker() {
        let tree = [text("a"), text("b"), element("$$ChatClient", json!({ "channelId": "x" }), vec![]), text("c")];
        assert_eq!(to_html(&tree), "a<!-- -->b<!--pulse:ChatClient-->c");
    }

    #[test]
    fn a_client_components_placeholder_stands_in_its_place() {
        let placeholder = vec![element("p", json!({ "className": "wait" }), vec![text("loading")])];
        let tree = [text("a"), element("$$ChatClient", json!({ "channelId": "x" }), placeholder), text("b")];
        assert_eq!(to_html(&tree), "a<!--pulse:ChatClient--><p class=\"wait\">loading</p>b");
        // A fallback ending with text, then text: two text nodes, as React renders them.
        let tree = [element("$$ChatClient", json!({}), vec![text("loading")]), text("after")];
        assert_eq!(to_html(&tree), "<!--pulse:ChatClient-->loading<!-- -->after");
    }

    /// Nothing a user typed can become markup: texts, attribute values, and names that
    /// are no names.
    #[test]
    fn nothing_from_the_tree_is_written_raw() {
        let attack = r#"</p><script>alert("x")</script>'&"#;
        let tree = [
            element(
                "p",
                json!({ "title": attack, "bad name": "x", "a\"b": "y", "onclick": "x()", "ONLOAD": "x()", "Onerror": "x()" }),
                vec![text(attack)],
            ),
            element("script", json!({}), vec![text(attack)]),
            element("img src=x onerror=alert(1)", json!({}), vec![]),
            element("$$Bad<Name", json!({}), vec![]),
        ];
        let html = to_html(&tree);
        let escaped = "&lt;/p&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&amp;";
        assert_eq!(html, format!(r#"<p title="{escaped}">{escaped}</p><script>{escaped}</script>"#));
    }

    /// A `javascript:` URL, however a browser would still read it, is written as React's
    /// blocked one; other URLs are written as they are.
    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        let cases = [
            (json!(10.0), "10"),
            (json!(-0.0), "0"),
            (json!(0.5), "0.5"),
            (json!(-123.456), "-123.456"),
            (json!(1e-6), "0.000001"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(1e21), "1e+21"),
            (json!(1.25e22), "1.25e+22"),
            (json!(1e20), "100000000000000000000"),
            (json!(1_152_921_504_606_846_976_u64), "1152921504606847000"),
            (json!(-42), "-42"),
            (json!(0.1 + 0.2), "0.30000000000000004"),
        ];
        for (value, written) in cases {
            let Value::Number(n) = &value else { unreachable!() };
            assert_eq!(js_number(n), written, "{value}");
        }
    }

    #[test]
    fn javascript_urls_are_blocked() {
        for url in ["javascript:alert(1)", " JavaScript:alert(1)", "\u{1}java\tscript:alert(1)", "JAVA\nSCRIPT:x"] {
            let html = to_html(&[element("a", json!({ "href": url }), vec![])]);
            assert_eq!(html, format!(r#"<a href="{}"></a>"#, BLOCKED_URL.replace('\'', "&#x27;")), "{url:?}");
        }
        // An attribute's name is the browser's whatever its case.
        let html = to_html(&[element("a", json!({ "HREF": "javascript:x" }), vec![])]);
        assert!(html.contains("React has blocked"), "{html}");
        for url in ["/rooms/x", "https://example.com/javascript:", "javascript", "mailto:a@b"] {
            let html = to_html(&[element("a", json!({ "href": url }), vec![])]);
            assert!(html.contains(&format!(r#"href="{url}""#)), "{html}");
        }
        assert_eq!(to_html(&[element("BR", json!({}), vec![])]), "<BR/>");
    }

    #[test]
    fn json_in_a_script_cannot_end_it() {
        let json = json_in_script(&json!({ "t": "</script><!--", "u": "\u{2028}&" }));
        assert!(!json.contains('<') && !json.contains('&') && !json.contains('\u{2028}'), "{json}");
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, json!({ "t": "</script><!--", "u": "\u{2028}&" }));
    }

    proptest::proptest! {
        /// Any text, as a child or an attribute's value, comes out escaped and whole.
        #[test]
        fn any_text_is_escaped(value in "\\PC*") {
            let tree = [element("p", json!({ "title": value }), vec![text(&value)])];
            let mut escaped = String::new();
            for c in value.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#x27;"),
                    c => escaped.push(c),
                }
            }
            proptest::prop_assert_eq!(to_html(&tree), format!(r#"<p title="{escaped}">{escaped}</p>"#));
        }
    }
}
