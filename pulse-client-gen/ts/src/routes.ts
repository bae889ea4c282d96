// The app's addresses as the generated `routes` makes them: typed, percent-encoded the
// way the server's route parser reads them back.

/** An address of one of the app's pages, made by the generated `routes`. */
export type Href = string & { readonly __pulseHref: true };

/** A path parameter's segment, percent-encoded. */
export function pathSegment(value: string | number | bigint): string {
  return encodeURIComponent(String(value));
}

/** A catch-all parameter: its `/`-separated parts, each percent-encoded. */
export function pathRest(value: string): string {
  return String(value).split("/").map(encodeURIComponent).join("/");
}

/** `path` with the query parameters that have a value. */
export function href(path: string, query?: Record<string, string | number | bigint | boolean | null | undefined>): Href {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) params.append(name, String(value));
  }
  const text = params.toString();
  return (text ? `${path}?${text}` : path) as Href;
}

/** What a click tells of itself (a DOM event or React's). */
export interface LinkClick {
  defaultPrevented: boolean;
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  preventDefault(): void;
}

/**
 * Follows a link over the socket (`navigate`) on a plain left click; a click with a
 * modifier (a new tab, a download) or another button is left to the browser.
 */
export function followLink(event: LinkClick, navigate: () => void): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  event.preventDefault();
  navigate();
}
