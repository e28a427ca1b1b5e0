// Real-browser walk through the portal (issue 8), first slice.
//
// Debian's chromium driven by playwright-core with Chromium's virtual WebAuthn
// authenticator: the MSP boss enrols from the link in the outbox, then on the MSP host
//   1. opens the customer overview (screenshots at 1280×800 and 390 px wide),
//   2. adds a customer cloned from a template, and sees the in-place error for a taken name,
//   3. adds an admin to that customer, and sees the in-place error for a known e-mail,
//   4. deletes the customer after a wrong and then the right name,
//   5. switches into the template customer with the organization switcher and sees the
//      "MSP user X from MSP Y" banner on the customer's portal.
// Every page is checked for a strict CSP, landmarks, one h1, a label for every control, no
// horizontal overflow at 390 px, and no console or page error.
//
// Environment (scripts/browser-test.sh sets the first three the same way for passkey.mjs):
//   MSP_URL          the MSP's issuer, e.g. http://acme.localhost:PORT
//   OUTBOX_DIR       {data_dir}/outbox, where the boss's enrolment e-mail was written
//   MSP_ADMIN_EMAIL  the boss's address (default boss@acme.example)
//   TEMPLATE         a customer of the MSP to clone from and switch into (default globex-acme)
//   SCREENSHOT_DIR   default target/browser-screenshots
//   CHROMIUM         default /usr/bin/chromium
//   STEP_TIMEOUT_MS  default 15000

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const STEP_TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 15000);
const MSP_URL = (process.env.MSP_URL || "").replace(/\/$/, "");
const OUTBOX_DIR = process.env.OUTBOX_DIR || "";
const EMAIL = process.env.MSP_ADMIN_EMAIL || "boss@acme.example";
const TEMPLATE = process.env.TEMPLATE || "globex-acme";
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || "target/browser-screenshots";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!MSP_URL || !OUTBOX_DIR) {
  console.error("FAIL: set MSP_URL and OUTBOX_DIR (see scripts/browser-test.sh)");
  process.exit(2);
}
const mspOrigin = new URL(MSP_URL).origin;
const customerUrl = (name) => {
  const u = new URL(MSP_URL);
  const msp = u.hostname.split(".")[0];
  u.hostname = u.hostname.replace(`${msp}.`, `${name}.`);
  return u.origin;
};

let step = "setup";
function fail(msg) {
  throw new Error(msg);
}
function check(cond, msg) {
  if (!cond) {
    fail(msg);
  }
}

function enrolmentLink() {
  const files = fs.readdirSync(OUTBOX_DIR).filter((f) => f.endsWith(".eml")).sort();
  let link = null;
  for (const f of files) {
    const raw = fs.readFileSync(path.join(OUTBOX_DIR, f), "utf8");
    const sep = raw.search(/\r?\n\r?\n/);
    const head = raw.slice(0, sep).replace(/\r?\n[ \t]+/g, " ");
    if (!(/^To:\s*(.*)$/im.exec(head)?.[1] ?? "").toLowerCase().includes(EMAIL.toLowerCase())) {
      continue;
    }
    let body = raw.slice(sep).trim();
    const cte = (/^Content-Transfer-Encoding:\s*(\S+)/im.exec(head)?.[1] ?? "7bit").toLowerCase();
    if (cte === "quoted-printable") {
      body = Buffer.from(
        body.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
        "latin1",
      ).toString("utf8");
    } else if (cte === "base64") {
      body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    }
    link = (body.match(/https?:\/\/[^\s<>"']+\/enroll\/[A-Za-z0-9_.~-]+/g) || [link])[0];
  }
  check(link, `no enrolment e-mail to ${EMAIL} in ${OUTBOX_DIR}`);
  return link;
}

async function main() {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    const problems = [];
    // Answers >= 400 the test provokes on purpose: "METHOD path status".
    const expected = new Set();
    // Chromium asks every host for /favicon.ico; we serve none (a 404 there is no fault).
    const favicon = (url) => (url || "").endsWith("/favicon.ico");
    page.on("console", (m) => {
      // A refused form answers its error page with 4xx on purpose; Chromium logs that.
      const code = /status of (\d{3})/.exec(m.text())?.[1];
      const where = new URL(m.location()?.url || page.url()).pathname;
      const meant = code && expected.has(`POST ${where} ${code}`);
      if (m.type() === "error" && !favicon(m.location()?.url) && !meant) {
        problems.push(`console error on ${page.url()}: ${m.text()}`);
      }
    });
    page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
    page.on("response", (r) => {
      const key = `${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`;
      if (r.status() >= 400 && !expected.has(key) && !favicon(r.url())) {
        problems.push(`HTTP ${key}`);
      }
    });
    const noProblems = () => check(problems.length === 0, `${step}:\n  ${problems.join("\n  ")}`);

    // Landmarks, one h1, labels, CSP; screenshots at both widths, no overflow on a phone.
    const inspect = async (resp, name) => {
      if (resp) {
        const csp = resp.headers()["content-security-policy"] || "";
        check(csp.includes("default-src 'self'"), `${name}: no strict CSP (${csp})`);
      }
      const report = await page.evaluate(() => {
        const unlabelled = [...document.querySelectorAll("input, select, textarea")]
          .filter((e) => e.type !== "hidden" && (!e.labels || e.labels.length === 0))
          .map((e) => e.name || e.id);
        return {
          unlabelled,
          h1: document.querySelectorAll("h1").length,
          main: document.querySelectorAll("main").length,
          nav: document.querySelectorAll("nav").length,
          scripts: document.querySelectorAll("script").length,
        };
      });
      check(report.unlabelled.length === 0, `${name}: controls without a label: ${report.unlabelled.join(", ")}`);
      check(report.h1 === 1 && report.main === 1 && report.nav >= 1, `${name}: landmarks ${JSON.stringify(report)}`);
      check(report.scripts === 0, `${name}: the portal loads no script`);
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `portal-${name}-1280.png`), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 391, `${name}: the page is ${width} px wide on a 390 px screen`);
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `portal-${name}-390.png`), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
      noProblems();
    };
    const submit = async (button) => {
      await Promise.all([page.waitForNavigation(), page.locator(button).click()]);
    };

    step = "enrol the MSP boss";
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(enrolmentLink());
    await Promise.all([page.waitForURL((u) => u.pathname === "/account"), page.locator("#register").click()]);
    noProblems();

    step = "customer overview";
    let resp = await page.goto(`${MSP_URL}/portal`);
    check(new URL(page.url()).pathname === "/portal/customers", `/portal led to ${page.url()}`);
    check((await page.locator(`#org-switch option[value="${TEMPLATE}"]`).count()) === 1, "switcher lists the template");
    await inspect(resp, "customers");

    step = "add a customer cloned from the template";
    await page.fill("#new-name", "hooli");
    await page.fill("#new-display", "Hooli");
    await page.selectOption("#new-clone", TEMPLATE);
    await submit("form[action='/portal/customers'][method='post'] button[type=submit]");
    check(page.url().endsWith("?created=hooli-acme") || page.url().includes("created=hooli-"), `after adding: ${page.url()}`);
    check((await page.locator("p[role=status]").innerText()).includes("created"), "no confirmation");
    noProblems();
    expected.add("POST /portal/customers 409");
    await page.fill("#new-name", "hooli");
    await submit("form[action='/portal/customers'][method='post'] button[type=submit]");
    const addError = await page.locator("#add-error").innerText();
    check(addError.startsWith("error:"), `no in-place error for a taken name: ${addError}`);
    await inspect(null, "customers-error");
    const hooli = new URL(page.url()).searchParams.get("created") || "hooli-acme";

    step = "add an admin to the new customer";
    resp = await page.goto(`${MSP_URL}/portal/admins?org=${hooli}`);
    await page.fill("#new-admin-email", "ops@hooli.example");
    await page.selectOption("#new-admin-access", "full");
    await submit("form[action='/portal/admins'][method='post'] button[type=submit]");
    check((await page.locator("p[role=status]").innerText()).includes("Added ops@hooli.example"), "admin not added");
    await inspect(resp, "admins");
    expected.add("POST /portal/admins 409");
    await page.fill("#new-admin-email", "ops@hooli.example");
    await page.selectOption("#new-admin-access", "full");
    await submit("form[action='/portal/admins'][method='post'] button[type=submit]");
    check((await page.locator("#add-admin-error").innerText()).startsWith("error:"), "no in-place rule error");
    await inspect(null, "admins-error");

    step = "delete the customer";
    resp = await page.goto(`${MSP_URL}/portal/customers/${hooli}/delete`);
    expected.add(`POST /portal/customers/${hooli}/delete 400`);
    await page.fill("#confirm", "hooli");
    await submit("button.danger");
    check((await page.locator("#confirm-error").innerText()).includes("does not match"), "wrong name accepted");
    await inspect(resp, "delete");
    await page.fill("#confirm", hooli);
    await submit("button.danger");
    check(page.url().includes(`deleted=${hooli}`), `after deleting: ${page.url()}`);
    noProblems();

    step = "switch into the template customer";
    await page.goto(`${MSP_URL}/portal/customers`);
    await page.selectOption("#org-switch", TEMPLATE);
    await Promise.all([
      page.waitForURL((u) => u.origin === customerUrl(TEMPLATE) && !u.pathname.startsWith("/switch")),
      page.locator(".switcher button").click(),
    ]);
    resp = await page.goto(`${customerUrl(TEMPLATE)}/portal/admins`);
    const banner = await page.locator("#msp-banner").innerText();
    check(banner.startsWith(`MSP user ${EMAIL} from MSP`), `banner: ${banner}`);
    await inspect(resp, "customer-admins-acting");
    check(new URL(page.url()).origin !== mspOrigin, "still on the MSP host");
    console.log("portal browser test: ok");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`FAIL at step "${step}": ${e.message}`);
  process.exit(1);
});
