import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test/server-setup.ts"],
    testTimeout: 15_000,
    // The tests share one real server process; they run in one worker.
    fileParallelism: false,
  },
});
