// Real-browser walk through the portal (issue 8).
//
// Debian's chromium driven by playwright-core; every person has their own browser context
// with Chromium's virtual WebAuthn authenticator (portal-kit.mjs).
//   1. The MSP boss enrols from the link in the outbox, signs out and signs in again with
//      the passkey at /login.
//   2. On the MSP host: adds a customer cloned from a template (and sees the in-place error
//      for a taken name), adds an admin to it (and the error for a known e-mail), deletes
//      it after a wrong and then the right name.
//   3. A network admin of the template customer (full on Alpha, read-only on Beta) enrols
//      and tries to give a new admin full access on Beta: the error for granting beyond
//      one's own access is shown in place.
//   4. The boss adds a technician on the MSP's staff page; the customer's owner enrols and
//      requires approval of delegations; the boss delegates the technician; the owner sees
//      it pending, approves and revokes it.
//   5. The boss switches into the customer with the organization switcher and sees the
//      "MSP user X from MSP Y" marking (a session with `act`).
//   6. Every page of the navigation, on the MSP host and on the customer's host (switched
//      in), is inspected: strict CSP, landmarks, one h1, labels, axe-core (serious and
//      critical violations fail), no overflow at 390 px, no console or page error, and
//      screenshots at 1280×800 and 390×844.
//
// Environment (scripts/browser-test.sh sets it):
//   MSP_URL          the MSP's issuer, e.g. http://acme.localhost:PORT
//   OUTBOX_DIR       {data_dir}/outbox, where enrolment e-mails are written
//   MSP_ADMIN_EMAIL  the boss's address (default boss@acme.example)
//   TEMPLATE         a customer of the MSP to clone from and switch into (default globex-acme)
//   OWNER_EMAIL      an org-full admin of TEMPLATE, not yet enrolled
//   NETADMIN_EMAIL   an admin of TEMPLATE with full on one network, read-only on BETA_ID
//   BETA_ID          that read-only network's id
//   SCREENSHOT_DIR   default target/browser-screenshots
//   CHROMIUM         default /usr/bin/chromium
//   STEP_TIMEOUT_MS  default 15000

import { chromium } from "playwright-core";
import fs from "node:fs";
import { check, enrolmentLink, person } from "./portal-kit.mjs";

const env = process.env;
const STEP_TIMEOUT = Number(env.STEP_TIMEOUT_MS || 15000);
const MSP_URL = (env.MSP_URL || "").replace(/\/$/, "");
const OUTBOX_DIR = env.OUTBOX_DIR || "";
const EMAIL = env.MSP_ADMIN_EMAIL || "boss@acme.example";
const TEMPLATE = env.TEMPLATE || "globex-acme";
const SCREENSHOT_DIR = env.SCREENSHOT_DIR || "target/browser-screenshots";
const CHROMIUM = env.CHROMIUM || "/usr/bin/chromium";
const TECH = "tech@acme.example";
for (const v of ["MSP_URL", "OUTBOX_DIR", "OWNER_EMAIL", "NETADMIN_EMAIL", "BETA_ID"]) {
  if (!env[v]) {
    console.error(`FAIL: set ${v} (see scripts/browser-test.sh)`);
    process.exit(2);
  }
}
const mspOrigin = new URL(MSP_URL).origin;
const customerUrl = (name) => {
  const u = new URL(MSP_URL);
  const msp = u.hostname.split(".")[0];
  u.hostname = u.hostname.replace(`${msp}.`, `${name}.`);
  return u.origin;
};
const tplUrl = customerUrl(TEMPLATE);

let step = "setup";
const opts = { timeout: STEP_TIMEOUT, screenshotDir: SCREENSHOT_DIR, step: () => step };
const started = Date.now();

/** Inspect every page of the navigation of `who`'s current host under `prefix`. */
async function everyPage(who, origin, prefix, extra = "") {
  const { page, inspect } = who;
  const done = [];
  await page.goto(`${origin}/portal`);
  for (const href of await who.navPages()) {
    step = `inspect ${origin}${href}`;
    const resp = await page.goto(`${origin}${href}${extra}`);
    check(resp.status() === 200, `${href}: ${resp.status()}`);
    const name = `${prefix}-${href.replace(/^\/portal\//, "").replace(/[^a-z0-9]+/gi, "-")}`;
    await inspect(resp, name);
    done.push(href);
  }
  return done;
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
    step = "enrol the MSP boss and sign in again with the passkey";
    const boss = await person(browser, "boss", opts);
    const page = boss.page;
    await boss.enrol(enrolmentLink(OUTBOX_DIR, EMAIL));
    await boss.signOutAndIn(mspOrigin);

    step = "customer overview";
    let resp = await page.goto(`${MSP_URL}/portal`);
    check(new URL(page.url()).pathname === "/portal/customers", `/portal led to ${page.url()}`);
    check((await page.locator(`#org-switch option[value="${TEMPLATE}"]`).count()) === 1, "switcher lists the template");
    await boss.inspect(resp, "customers");

    step = "add a customer cloned from the template";
    await page.fill("#new-name", "hooli");
    await page.fill("#new-display", "Hooli");
    await page.selectOption("#new-clone", TEMPLATE);
    await boss.submit("form[action='/portal/customers'][method='post'] button[type=submit]");
    check(page.url().includes("created=hooli-"), `after adding: ${page.url()}`);
    check((await page.locator("p[role=status]").innerText()).includes("created"), "no confirmation");
    boss.noProblems();
    boss.expect("POST /portal/customers 409");
    await page.fill("#new-name", "hooli");
    await boss.submit("form[action='/portal/customers'][method='post'] button[type=submit]");
    const addError = await page.locator("#add-error").innerText();
    check(addError.startsWith("error:"), `no in-place error for a taken name: ${addError}`);
    await boss.inspect(null, "customers-error");
    const hooli = new URL(page.url()).searchParams.get("created") || "hooli-acme";

    step = "add an admin to the new customer";
    resp = await page.goto(`${MSP_URL}/portal/admins?org=${hooli}`);
    await page.fill("#new-admin-email", "ops@hooli.example");
    await page.selectOption("#new-admin-access", "full");
    await boss.submit("form[action='/portal/admins'][method='post'] button[type=submit]");
    check((await page.locator("p[role=status]").innerText()).includes("Added ops@hooli.example"), "admin not added");
    await boss.inspect(resp, "admins-added");
    boss.expect("POST /portal/admins 409");
    await page.fill("#new-admin-email", "ops@hooli.example");
    await page.selectOption("#new-admin-access", "full");
    await boss.submit("form[action='/portal/admins'][method='post'] button[type=submit]");
    check((await page.locator("#add-admin-error").innerText()).startsWith("error:"), "no in-place rule error");
    await boss.inspect(null, "admins-error");

    step = "change an admin (edit page)";
    await Promise.all([page.waitForNavigation(), page.locator("a[href^='/portal/admins/edit']").first().click()]);
    await boss.inspect(null, "admins-edit");

    step = "delete the customer";
    resp = await page.goto(`${MSP_URL}/portal/customers/${hooli}/delete`);
    boss.expect(`POST /portal/customers/${hooli}/delete 400`);
    await page.fill("#confirm", "hooli");
    await boss.submit("button.danger");
    check((await page.locator("#confirm-error").innerText()).includes("does not match"), "wrong name accepted");
    await boss.inspect(resp, "delete");
    await page.fill("#confirm", hooli);
    await boss.submit("button.danger");
    check(page.url().includes(`deleted=${hooli}`), `after deleting: ${page.url()}`);
    check((await page.locator(`#org-switch option[value="${hooli}"]`).count()) === 0, "deleted customer still listed");
    boss.noProblems();

    step = "a network admin grants beyond their own access";
    const net = await person(browser, "netadmin", opts);
    await net.enrol(enrolmentLink(OUTBOX_DIR, env.NETADMIN_EMAIL));
    resp = await net.page.goto(`${tplUrl}/portal/admins`);
    net.expect("POST /portal/admins 403");
    await net.page.fill("#new-admin-email", "helper@globex.example");
    await net.page.selectOption(`select[name="grant.${env.BETA_ID}"]`, "full");
    await net.submit("form[action='/portal/admins'][method='post'] button[type=submit]");
    const beyond = await net.page.locator("#add-admin-error").innerText();
    check(beyond.includes(`needs full access on it`), `no in-place error for granting beyond own access: ${beyond}`);
    check((await net.page.locator("#new-admin-email").inputValue()) === "helper@globex.example", "typed e-mail lost");
    await net.inspect(null, "admins-beyond-own-access");
    await net.context.close();

    step = "add the technician as MSP staff";
    resp = await page.goto(`${MSP_URL}/portal/staff`);
    await page.fill("#new-staff-email", TECH);
    await page.fill("#new-staff-name", "Tess Technician");
    await page.selectOption("#new-staff-role", "technician");
    await boss.submit("form[action='/portal/staff'][method='post'] button[type=submit]");
    check((await page.locator("p[role=status]").innerText()).includes(`Added ${TECH} as technician`), "no staff added");
    check((await page.locator("tr", { hasText: TECH }).count()) === 1, "the technician is not listed");
    await boss.inspect(resp, "staff-added");

    step = "the customer's owner requires approval";
    const owner = await person(browser, "owner", opts);
    await owner.enrol(enrolmentLink(OUTBOX_DIR, env.OWNER_EMAIL));
    await owner.page.goto(`${tplUrl}/portal/delegations`);
    await owner.page.check("#require-approval");
    await owner.submit("form[action='/portal/delegations/settings'] button[type=submit]");
    check(await owner.page.isChecked("#require-approval"), "require approval not saved");
    owner.noProblems();

    step = "the MSP delegates the technician";
    resp = await page.goto(`${MSP_URL}/portal/delegations?org=${TEMPLATE}`);
    await page.fill("#new-delegation-user", TECH);
    await page.fill("#new-delegation-expiry", "2099-01-01T00:00:00Z");
    await page.selectOption("form[action='/portal/delegations'][method='post'] select[name=org_access]", "read-only");
    await boss.submit("form[action='/portal/delegations'][method='post'] button[type=submit]");
    check(page.url().includes("done=created"), `after delegating: ${page.url()}`);
    await boss.inspect(resp, "delegations-created");

    step = "the customer approves and revokes the delegation";
    const op = owner.page;
    resp = await op.goto(`${tplUrl}/portal/delegations`);
    const pending = op.locator("tr", { hasText: TECH }).filter({ hasText: "pending" });
    check((await pending.count()) === 1, "the delegation is not pending on the customer side");
    await owner.inspect(resp, "customer-delegations-pending");
    await owner.submit("tr:has-text('pending') form[action='/portal/delegations/approve'] button");
    const approved = op.locator("tr", { hasText: TECH }).filter({ hasText: "approved" });
    check((await approved.count()) === 1, "not approved");
    check((await approved.innerText()).includes(env.OWNER_EMAIL), "approver not shown");
    check(
      (await op.locator("tr", { hasText: TECH }).filter({ hasText: "Delegation" }).count()) >= 1,
      "the technician's access through the delegation is not listed",
    );
    await owner.inspect(null, "customer-delegations-approved");
    await owner.submit("tr:has-text('approved') form[action='/portal/delegations/revoke'] button");
    check((await op.locator("tr", { hasText: TECH }).filter({ hasText: "revoked" }).count()) === 1, "not revoked");
    owner.noProblems();

    step = "every page on the MSP host";
    const mspPages = await everyPage(boss, mspOrigin, "msp");
    check(mspPages.includes("/portal/customers") && mspPages.length >= 10, `MSP nav: ${mspPages}`);

    step = "every page of the customer's own admin";
    const ownPages = await everyPage(owner, tplUrl, "customer");
    check(!ownPages.includes("/portal/customers"), "a customer sees the customer overview");
    await owner.context.close();

    step = "switch into the template customer";
    await page.goto(`${MSP_URL}/portal/customers`);
    await page.selectOption("#org-switch", TEMPLATE);
    await Promise.all([
      page.waitForURL((u) => u.origin === tplUrl && !u.pathname.startsWith("/switch")),
      page.locator(".switcher button").click(),
    ]);
    resp = await page.goto(`${tplUrl}/portal/admins`);
    const banner = await page.locator("#msp-banner").innerText();
    check(banner.startsWith(`MSP user ${EMAIL} from MSP`), `banner: ${banner}`);
    check(new URL(page.url()).origin !== mspOrigin, "still on the MSP host");

    step = "every page switched into the customer";
    const actingPages = await everyPage(boss, tplUrl, "acting");
    for (const href of actingPages) {
      await page.goto(`${tplUrl}${href}`);
      check((await page.locator("#msp-banner").count()) === 1, `${href}: no MSP marking`);
    }
    boss.noProblems();
    const n = boss.shots.length + net.shots.length + owner.shots.length;
    console.log(
      `portal browser test: ok (${n} pages inspected with axe-core, ${2 * n} screenshots in ${SCREENSHOT_DIR}, ` +
        `${((Date.now() - started) / 1000).toFixed(1)}s)`,
    );
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`FAIL at step "${step}": ${e.message}`);
  process.exit(1);
});
