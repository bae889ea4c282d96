// Failover between the cluster's nodes: the URLs the connection was given, then the
// nodes the server names, and which of them the connection uses.

import { endpointUrl, sameEndpoint } from "./urls.js";

/** The URLs the connection may use, in order, and the one it uses now. */
export class NodeList {
  /** The URLs it may use: those it was given, then the server's nodes. */
  private urls: string[];
  /** Which of the URLs the connection uses. */
  private urlIndex = 0;
  /** The URLs it was given (the server's nodes come after them). */
  private readonly configuredUrls: string[];

  /** `urls`: the URLs the connection was given, as `endpointUrl` spells them. */
  constructor(
    urls: string[],
    private readonly params: Record<string, string>,
  ) {
    this.urls = urls;
    this.configuredUrls = [...urls];
  }

  /** The URL the connection uses now. */
  current(): string | undefined {
    return this.urls[this.urlIndex % this.urls.length];
  }

  /** The current URL is tried no more (its server never said hello): the next one is. */
  next(): void {
    this.urlIndex += 1;
  }

  /**
   * The cluster's nodes the server named (in `hello`, and in `nodes` when they change):
   * tried after the URLs this connection was given, in the order named, when its node
   * stops answering.
   */
  learn(nodes: string[]): void {
    const current = this.current();
    const urls = [...this.configuredUrls];
    for (const node of nodes) {
      const url = endpointUrl(node, this.params);
      if (!urls.some((known) => sameEndpoint(known, url))) urls.push(url);
    }
    // The list is the server's current one: nodes gone from it are dropped.
    this.urls = urls;
    this.urlIndex = Math.max(0, current === undefined ? 0 : urls.findIndex((url) => url === current));
  }
}
