// Typed client for the noetl-gateway REST API. The types come from `src/schema.d.ts`,
// generated from the committed OpenAPI document (`npm run generate`); requests go through
// openapi-fetch, so paths, bodies and answers are checked at compile time.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type ErrorBody = components["schemas"]["ErrorBody"];
export type LoginOk = components["schemas"]["LoginOk"];

/** Options for {@link gatewayClient}. */
export interface GatewayClientOptions {
  /** Sent as `Authorization: Bearer` on every request when set. */
  sessionToken?: string;
  /** Replaces the global fetch (tests, custom agents). */
  fetch?: typeof globalThis.fetch;
}

/** A client bound to one gateway, e.g. `gatewayClient("https://gw.example.com")`. */
export function gatewayClient(baseUrl: string, options: GatewayClientOptions = {}) {
  const headers: Record<string, string> = {};
  if (options.sessionToken) {
    headers.authorization = `Bearer ${options.sessionToken}`;
  }
  return createClient<paths>({ baseUrl, headers, fetch: options.fetch });
}
