// The generated protocol facts: every close code of the server says either "reconnect"
// or "do not", and the runtime's names agree with the Rust side's.

import { describe, expect, it } from "vitest";
import { CLOSE_CODES, type ErrorCode, MAX_JSON_DEPTH, mustNotReconnect, shouldReconnect } from "../src/index";

describe("generated protocol facts", () => {
  it("the server's close codes ask for a reconnect exactly in 4000–4499 (protocol.md)", () => {
    for (const [name, code] of Object.entries(CLOSE_CODES)) {
      expect([name, shouldReconnect(code)]).toEqual([name, code >= 4000 && code < 4500]);
    }
    expect(shouldReconnect(1006)).toBe(true);
    expect(shouldReconnect(CLOSE_CODES.idle_timeout)).toBe(true);
    expect(mustNotReconnect(CLOSE_CODES.unsupported_version)).toBe(true);
    expect(mustNotReconnect(CLOSE_CODES.invalid_data)).toBe(true);
    // A network failure is not the server's verdict: reconnect.
    expect(mustNotReconnect(1006)).toBe(false);
  });

  it("knows every error code of the server, and takes a newer server's too", () => {
    const known: ErrorCode[] = ["unknown_callback", "malformed_frame", "a_code_from_a_newer_server"];
    expect(known).toHaveLength(3);
    expect(MAX_JSON_DEPTH).toBe(64);
  });
});
