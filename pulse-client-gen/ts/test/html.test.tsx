// @vitest-environment happy-dom
// The server's HTML of a page (Rust's `to_html`) is what React renders for the same
// tree through PulseRoot's renderer, so hydration takes it over: the cases are written
// by `tests/tests/first_paint_html.rs`; each is rendered here with `react-dom/server`
// and both are compared as the DOM a browser parses from them (comments aside, text
// nodes apart where they are apart, attributes as a set).

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { expect, it } from "vitest";
import { PulseConnection, type VNode } from "../src/index";
import { renderTree } from "../src/root";

interface Case {
  name: string;
  html: string;
  tree: VNode[];
}

const cases: Case[] = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), "generated/html-cases.json"), "utf8"),
);

type Canonical = string | { tag: string; attributes: [string, string][]; children: Canonical[] };

/** The DOM a browser parses from `html`, as data: what hydration compares. */
function parsed(html: string): Canonical[] {
  const template = document.createElement("template");
  template.innerHTML = html;
  return canonical(template.content.childNodes);
}

function canonical(nodes: NodeListOf<ChildNode>): Canonical[] {
  const out: Canonical[] = [];
  for (const node of nodes) {
    if (node.nodeType === 3) out.push(node.textContent ?? "");
    else if (node.nodeType === 1) {
      const element = node as Element;
      const attributes = [...element.attributes]
        .map((attribute): [string, string] => [attribute.name, attribute.value])
        .sort(([a], [b]) => a.localeCompare(b));
      out.push({ tag: element.tagName.toLowerCase(), attributes, children: canonical(element.childNodes) });
    }
  }
  return out;
}

function Widget() {
  return createElement("span", null, "the widget");
}

const connection = new PulseConnection({ url: "ws://127.0.0.1:9/ws?v=1" });

it.each(cases.map((c) => [c.name, c] as const))("%s: the server's HTML is React's", (_, { html, tree }) => {
  const react = renderToString(createElement("div", null, ...renderTree(tree, connection, { Widget })));
  const server = `<div>${html}</div>`;
  expect(parsed(server)).toEqual(parsed(react));
});
