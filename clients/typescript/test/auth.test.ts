// Runs the generated client against a running gateway (GATEWAY_URL) whose NoETL is the
// stand-in: log in through the login playbook, validate the session, check access, read the
// session with the bearer token, log out, and see a refusal carry the error body.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gatewayClient } from "../src/index.js";

const base = process.env.GATEWAY_URL;
if (!base) {
  throw new Error("GATEWAY_URL is not set");
}

test("login, validate, check access, session, logout", async () => {
  const gateway = gatewayClient(base);
  const login = await gateway.POST("/api/auth/login", {
    body: { auth0_token: "idp-token-typescript-client" },
  });
  assert.equal(login.response.status, 200, JSON.stringify(login.error));
  assert.ok(login.data);
  assert.equal(login.data.status, "authenticated");
  const token = login.data.session_token;
  assert.ok(token.startsWith("bench-"));
  assert.equal(login.data.user.email, "bench@example.com");

  const valid = await gateway.POST("/api/auth/validate", { body: { session_token: token } });
  assert.equal(valid.response.status, 200);
  assert.equal(valid.data?.valid, true);
  assert.equal(valid.data?.user?.email, "bench@example.com");

  const access = await gateway.POST("/api/auth/check-access", {
    body: { session_token: token, playbook_path: "examples/hello", permission_type: "execute" },
  });
  assert.equal(access.response.status, 200, JSON.stringify(access.error));
  assert.equal(access.data?.allowed, true);

  const mine = gatewayClient(base, { sessionToken: token });
  const session = await mine.GET("/api/auth/session");
  assert.equal(session.response.status, 200, JSON.stringify(session.error));
  assert.equal(session.data?.valid, true);

  const out = await gateway.POST("/api/auth/logout", { body: { session_token: token } });
  assert.equal(out.response.status, 200);
});

test("refusals carry the error body with a stable code", async () => {
  const gateway = gatewayClient(base);
  const refused = await gateway.POST("/api/auth/login", { body: { auth0_token: "bad-token" } });
  assert.equal(refused.response.status, 401);
  assert.equal(refused.data, undefined);
  assert.equal(refused.error?.code, "UNAUTHENTICATED");
  assert.ok(refused.error?.request_id);

  const invalid = await gateway.POST("/api/auth/validate", {
    body: { session_token: "not-a-session" },
  });
  assert.equal(invalid.response.status, 200);
  assert.equal(invalid.data?.valid, false);

  const anonymous = await gateway.GET("/api/auth/session");
  assert.equal(anonymous.response.status, 401);
  assert.equal(anonymous.error?.code, "UNAUTHENTICATED");
});
