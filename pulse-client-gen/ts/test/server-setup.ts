// Vitest global setup: one real server for the whole run.

import type { TestProject } from "vitest/node";
import { startServer } from "./server";

declare module "vitest" {
  export interface ProvidedContext {
    port: number;
  }
}

export default async function setup(project: TestProject) {
  const server = await startServer();
  project.provide("port", server.port);
  return () => server.stop();
}
