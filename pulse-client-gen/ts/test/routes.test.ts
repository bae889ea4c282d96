import { describe, expect, it } from "vitest";
import { type LinkClick, followLink } from "../src/index";
import { routes } from "./generated/lab";

// The same addresses are read by the server in tests/tests/routes.rs
// (`addresses_made_by_the_typescript_routes_read_back`): keep the two lists equal.
describe("routes", () => {
  it("make each page's address, percent-encoded as the server reads it", () => {
    expect(routes.lobby()).toBe("/");
    expect(routes.room({ room: "lobby-2" })).toBe("/rooms/lobby-2");
    expect(routes.newRoom()).toBe("/rooms/new");
    expect(routes.files({ path: "a b/ü/c%d" })).toBe("/files/a%20b/%C3%BC/c%25d");
    expect(routes.search({ q: "x&y=z ü", page: 7 })).toBe("/search?q=x%26y%3Dz+%C3%BC&page=7");
    expect(routes.search({ page: 0 })).toBe("/search?page=0");
  });
});

describe("followLink", () => {
  const click = (extra: Partial<LinkClick> = {}) => {
    const event = { defaultPrevented: false, button: 0, metaKey: false, ctrlKey: false, shiftKey: false, altKey: false, ...extra };
    let prevented = false;
    return { ...event, preventDefault: () => { prevented = true; }, wasPrevented: () => prevented };
  };

  it("follows a plain left click over the socket, and leaves any other to the browser", () => {
    const followed: string[] = [];
    const plain = click();
    followLink(plain, () => followed.push("plain"));
    expect(followed).toEqual(["plain"]);
    expect(plain.wasPrevented()).toBe(true);
    for (const extra of [{ ctrlKey: true }, { metaKey: true }, { shiftKey: true }, { altKey: true }, { button: 1 }, { defaultPrevented: true }]) {
      const other = click(extra);
      followLink(other, () => followed.push("other"));
      expect(other.wasPrevented()).toBe(false);
    }
    expect(followed).toEqual(["plain"]);
  });
});
