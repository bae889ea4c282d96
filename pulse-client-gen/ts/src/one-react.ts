// Two copies of React in one page: the app's react-dom renders, but this package's hooks
// come from another copy, whose dispatcher the renderer never set. React then fails with
// "Cannot read properties of null (reading 'useMemo')" and a blank page. It happens when
// the bundler resolves `react` from this package's own folder (a `file:` install is a
// symlink, resolved to its real path). <PulseRoot> checks before its first hook.

import * as React from "react";

/** What the page and the console say when the check fails. */
export const SECOND_REACT_MESSAGE =
  "pulse: two copies of React are loaded: @pulse-rs/client got `react` from another folder than your app's " +
  "react-dom, so its hooks cannot run. Make the bundler resolve one React: install @pulse-rs/client from its " +
  'packed tarball or the registry rather than a `file:` folder link, or tell the bundler (Vite: `resolve: { dedupe: ["react", "react-dom"] }`).';

interface Internals {
  /** React 19: the current hooks dispatcher, set by the renderer during a render. */
  H?: unknown;
  /** React 18. */
  ReactCurrentDispatcher?: { current: unknown };
}

/** Whether this module's React is not the one rendering: called during a render, where
 * the renderer's own React has its dispatcher set. */
export function isSecondReact(): boolean {
  const exports = React as unknown as Record<string, Internals | undefined>;
  const current = exports.__CLIENT_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE;
  if (current && "H" in current) return current.H == null;
  const legacy = exports.__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED?.ReactCurrentDispatcher;
  if (legacy) return legacy.current == null;
  return false;
}

let reported = false;

/** Logs the message once per page. */
export function reportSecondReact(): string {
  if (!reported) {
    reported = true;
    console.error(SECOND_REACT_MESSAGE);
  }
  return SECOND_REACT_MESSAGE;
}
