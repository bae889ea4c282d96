// Mounting the app: hydrating a page the server rendered, or rendering it afresh.

import type { ReactNode } from "react";
import { type Root, createRoot, hydrateRoot } from "react-dom/client";

import { firstPaint } from "./first-paint.js";

/**
 * Renders `app` into `element`, the element of `index.html` marked `data-pulse-root`:
 * where the server rendered the page into it (its first paint), React takes over the
 * elements already there (hydration: nothing is replaced, nothing moves); otherwise it
 * renders them. Only `<PulseRoot>` may render into it, since it must render exactly what
 * the server wrote; put the rest of the page in an element of its own.
 */
export function mountPage(element: Element, app: ReactNode): Root {
  if (firstPaint() !== null) return hydrateRoot(element, app);
  const root = createRoot(element);
  root.render(app);
  return root;
}
