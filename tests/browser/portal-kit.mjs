// What the portal's browser test (portal.mjs) shares: the enrolment link from the outbox,
// one signed-in person per browser context (own virtual WebAuthn authenticator, own
// console/HTTP problem list) and the per-page inspection: strict CSP, landmarks, labels,
// axe-core (serious and critical violations fail), no horizontal overflow at 390 px,
// screenshots at 1280×800 and 390×844.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// axe-core's browser bundle, evaluated in the page through the DevTools protocol (the
// pages' CSP `default-src 'self'` would refuse an injected inline <script>).
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export function check(cond, msg) {
  if (!cond) {
    throw new Error(msg);
  }
}

/** The newest enrolment link in the outbox mailed to `email`. */
export function enrolmentLink(outboxDir, email) {
  const files = fs.readdirSync(outboxDir).filter((f) => f.endsWith(".eml")).sort();
  let link = null;
  for (const f of files) {
    const raw = fs.readFileSync(path.join(outboxDir, f), "utf8");
    const sep = raw.search(/\r?\n\r?\n/);
    const head = raw.slice(0, sep).replace(/\r?\n[ \t]+/g, " ");
    if (!(/^To:\s*(.*)$/im.exec(head)?.[1] ?? "").toLowerCase().includes(email.toLowerCase())) {
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
  check(link, `no enrolment e-mail to ${email} in ${outboxDir}`);
  return link;
}

/**
 * A person in their own browser context with a virtual platform authenticator. `step()`
 * names what is being done for failure messages; `expect("POST /path 403")` marks an
 * error answer the test provokes on purpose.
 */
export async function person(browser, who, { timeout, screenshotDir, step }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  const problems = [];
  const expected = new Set();
  // Chromium asks every host for /favicon.ico; we serve none (a 404 there is no fault).
  const favicon = (url) => (url || "").endsWith("/favicon.ico");
  page.on("console", (m) => {
    // A refused form answers its error page with 4xx on purpose; Chromium logs that.
    const code = /status of (\d{3})/.exec(m.text())?.[1];
    const where = new URL(m.location()?.url || page.url()).pathname;
    const meant = code && expected.has(`POST ${where} ${code}`);
    if (m.type() === "error" && !favicon(m.location()?.url) && !meant) {
      problems.push(`${who}: console error on ${page.url()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${who}: page error on ${page.url()}: ${e.message}`));
  page.on("response", (r) => {
    const key = `${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`;
    if (r.status() >= 400 && !expected.has(key) && !favicon(r.url())) {
      problems.push(`${who}: HTTP ${key}`);
    }
  });
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

  const noProblems = () => check(problems.length === 0, `${step()}:\n  ${problems.join("\n  ")}`);
  const expect = (key) => expected.add(key);
  const submit = async (button) => {
    await Promise.all([page.waitForNavigation(), page.locator(button).first().click()]);
  };
  const shots = [];

  /** Accessibility basics by axe-core: serious or critical violations, as text. */
  const axe = async () => {
    const loaded = await page.evaluate(() => typeof window.axe === "object");
    if (!loaded) {
      await page.evaluate(AXE_SOURCE);
    }
    const result = await page.evaluate(() =>
      window.axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
        resultTypes: ["violations"],
      }),
    );
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
  };

  /** Every check of a page, then its screenshots at both widths as `portal-NAME-WIDTH.png`. */
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
    const wide = await axe();
    check(wide.length === 0, `${name} at 1280 px: axe-core:\n  ${wide.join("\n  ")}`);
    await page.screenshot({ path: path.join(screenshotDir, `portal-${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 391, `${name}: the page is ${width} px wide on a 390 px screen`);
    const narrow = await axe();
    check(narrow.length === 0, `${name} at 390 px: axe-core:\n  ${narrow.join("\n  ")}`);
    await page.screenshot({ path: path.join(screenshotDir, `portal-${name}-390.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    shots.push(name);
    noProblems();
  };

  /** Enrol a passkey from `link` (ends on /account). */
  const enrol = async (link) => {
    await page.goto(link);
    await Promise.all([page.waitForURL((u) => u.pathname === "/account"), page.locator("#register").click()]);
    noProblems();
  };

  /** Sign out with the portal header's form, then in again at /login with the passkey. */
  const signOutAndIn = async (origin) => {
    await page.goto(`${origin}/portal`);
    await Promise.all([page.waitForURL((u) => u.pathname === "/login"), page.locator("form.signout button").click()]);
    const away = await page.goto(`${origin}/portal`);
    check(new URL(page.url()).pathname === "/login", `signed out, /portal led to ${page.url()} (${away?.status()})`);
    await page.locator("#login").waitFor({ state: "visible" });
    await Promise.all([page.waitForURL((u) => u.pathname === "/account"), page.locator("#login").click()]);
    noProblems();
  };

  /** The portal pages of the navigation on this host, as [href, name]. */
  const navPages = () =>
    page.$$eval("nav[aria-label=Portal] a", (as) =>
      as.map((a) => a.getAttribute("href")).filter((h) => h.startsWith("/portal/")),
    );

  return { context, page, expect, noProblems, submit, inspect, enrol, signOutAndIn, navPages, shots };
}
