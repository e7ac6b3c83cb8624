// Loads GraphiQL from a running gateway in headless Chromium (Debian's), signs in with the
// session cookie, runs the default `{ version health }` query and checks the answer.
// Usage: node graphiql.mjs BASE_URL SESSION_TOKEN EXPECTED_VERSION SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, token, version, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const url = new URL(base);
  await context.addCookies([{ name: "session_token", value: token, domain: url.hostname, path: "/" }]);
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`${base}/graphql`, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 20000 });
  await page.click(".graphiql-execute-button");
  const result = page.locator(".result-window");
  await result.getByText(`"version": "${version}"`).waitFor({ timeout: 20000 });
  const text = await result.innerText();
  if (!text.includes('"health": "ok"')) {
    console.error("unexpected result:", text);
    failed = true;
  }
  await page.screenshot({ path: screenshot });
  console.log(`GraphiQL ran { version health } against ${base}: version ${version}`);
} catch (e) {
  console.error("browser check failed:", e.message);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
