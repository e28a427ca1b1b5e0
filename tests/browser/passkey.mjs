// Real-browser end-to-end test of passkey sign-in (issue 5).
//
// Debian's chromium, driven by playwright-core over CDP, with Chromium's virtual WebAuthn
// authenticator (ctap2, internal transport, resident key, user verification):
//   1. opens the enrolment link found in the outbox e-mail and registers a passkey,
//   2. looks at /account, signs out,
//   3. signs in at /login with the passkey (usernameless),
//   4. runs an OIDC authorization code flow (PKCE S256, client_secret_basic) for a demo
//      client while signed in, and again signed out (authorize -> /login?pending -> back),
//      checking the ID token's signature, iss, aud, nonce and amr, and userinfo,
// with a screenshot of every page and no console error or page error anywhere (a CSP
// violation would show up as one). scripts/browser-test.sh sets everything up and runs it.
//
// Environment (all set by scripts/browser-test.sh):
//   TENANT_URL       the customer tenant's issuer, e.g. http://globex-acme.localhost:PORT
//   OUTBOX_DIR       {data_dir}/outbox, where the enrolment e-mail was written
//   ADMIN_EMAIL      the new admin's address (picks the e-mail)
//   ENROL_URL_CLI    optional: the link `admin add` printed; must equal the e-mail's
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (http://127.0.0.1:CBPORT/cb; served here)
//   SCREENSHOT_DIR   default target/browser-screenshots
//   CHROMIUM         default /usr/bin/chromium
//   STEP_TIMEOUT_MS  default 15000; every wait is bounded by it

import { chromium } from "playwright-core";
import crypto from "node:crypto";
import dns from "node:dns";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const STEP_TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 15000);
const TOTAL_TIMEOUT = Number(process.env.TOTAL_TIMEOUT_MS || 120000);
const started = Date.now();

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`FAIL: environment variable ${name} is not set (run scripts/browser-test.sh)`);
    process.exit(2);
  }
  return v;
}

let browser = null;
let cbServer = null;
let step = "setup";

async function cleanup() {
  try {
    if (browser) {
      await Promise.race([browser.close(), sleep(5000)]);
    }
  } catch {}
  try {
    if (cbServer) {
      cbServer.closeAllConnections?.();
      cbServer.close();
    }
  } catch {}
}

function fail(msg) {
  const err = new Error(msg);
  err.isTestFailure = true;
  throw err;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function check(cond, msg) {
  if (!cond) {
    fail(msg);
  }
}

const TENANT_URL = need("TENANT_URL").replace(/\/$/, "");
const OUTBOX_DIR = need("OUTBOX_DIR");
const ADMIN_EMAIL = need("ADMIN_EMAIL");
const CLIENT_ID = need("CLIENT_ID");
const CLIENT_SECRET = need("CLIENT_SECRET");
const REDIRECT_URI = need("REDIRECT_URI");
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || "target/browser-screenshots";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const tenantOrigin = new URL(TENANT_URL).origin;

// ---------------------------------------------------------------------------------------
// Node-side HTTP (the OIDC client). Chromium resolves *.localhost to loopback by itself;
// glibc here does not, so this client does the same.

function localhostLookup(hostname, options, cb) {
  if (typeof options === "function") {
    cb = options;
    options = {};
  }
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    if (options && options.all) {
      cb(null, [{ address: "127.0.0.1", family: 4 }]);
    } else {
      cb(null, "127.0.0.1", 4);
    }
    return;
  }
  dns.lookup(hostname, options, cb);
}

function request(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    check(u.protocol === "http:", `unexpected scheme in ${url}`);
    const req = http.request(
      {
        hostname: u.hostname,
        port: u.port || 80,
        path: u.pathname + u.search,
        method,
        headers: body ? { "content-length": Buffer.byteLength(body), ...headers } : headers,
        lookup: localhostLookup,
        timeout: STEP_TIMEOUT,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer in ${STEP_TIMEOUT} ms`)));
    req.on("error", reject);
    if (body) {
      req.write(body);
    }
    req.end();
  });
}

// ---------------------------------------------------------------------------------------
// The enrolment link, read from the e-mail in the outbox.

function decodeQuotedPrintable(s) {
  const bytes = Buffer.from(
    s.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
    "latin1",
  );
  return bytes.toString("utf8");
}

function enrolmentLinkFromOutbox() {
  check(fs.existsSync(OUTBOX_DIR), `the outbox ${OUTBOX_DIR} does not exist: no enrolment e-mail was written`);
  const files = fs
    .readdirSync(OUTBOX_DIR)
    .filter((f) => f.endsWith(".eml"))
    .sort();
  const mine = [];
  for (const f of files) {
    const raw = fs.readFileSync(path.join(OUTBOX_DIR, f), "utf8");
    const sep = raw.search(/\r?\n\r?\n/);
    check(sep > 0, `${f}: no header/body separator`);
    const head = raw.slice(0, sep).replace(/\r?\n[ \t]+/g, " ");
    let body = raw.slice(sep).replace(/^\r?\n\r?\n/, "");
    const to = /^To:\s*(.*)$/im.exec(head)?.[1] ?? "";
    if (!to.toLowerCase().includes(ADMIN_EMAIL.toLowerCase())) {
      continue;
    }
    const cte = (/^Content-Transfer-Encoding:\s*(\S+)/im.exec(head)?.[1] ?? "7bit").toLowerCase();
    if (cte === "quoted-printable") {
      body = decodeQuotedPrintable(body);
    } else if (cte === "base64") {
      body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    }
    const links = body.match(/https?:\/\/[^\s<>"']+\/enroll\/[A-Za-z0-9_.~-]+/g) || [];
    mine.push({ file: f, links });
  }
  check(mine.length > 0, `no e-mail to ${ADMIN_EMAIL} in ${OUTBOX_DIR} (files: ${files.join(", ") || "none"})`);
  const last = mine[mine.length - 1];
  check(last.links.length > 0, `the e-mail ${last.file} to ${ADMIN_EMAIL} has no /enroll/ link`);
  return { file: last.file, link: last.links[0] };
}

// ---------------------------------------------------------------------------------------
// OIDC helpers.

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function decodeJwt(jwt) {
  const parts = String(jwt).split(".");
  check(parts.length === 3, "the ID token is not a compact JWS");
  return {
    header: JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], "base64url"),
  };
}

function verifyJws(jwt, jwks) {
  const { header, signingInput, signature } = decodeJwt(jwt);
  const jwk = (jwks.keys || []).find((k) => k.kid === header.kid);
  check(jwk, `no key ${header.kid} in the JWKS`);
  const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(signingInput);
  let ok;
  switch (header.alg) {
    case "ES256":
      ok = crypto.verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
      break;
    case "RS256":
      ok = crypto.verify("sha256", data, key, signature);
      break;
    case "EdDSA":
      ok = crypto.verify(null, data, key, signature);
      break;
    default:
      fail(`unexpected ID token alg ${header.alg}`);
  }
  check(ok, `the ID token's ${header.alg} signature does not verify with key ${header.kid}`);
  return header.alg;
}

// The methods RFC 8176 and the server use for a passkey; the server records "webauthn"
// (src/core/passkeys.rs, create_session(.., &["webauthn"], ..)).
const PASSKEY_AMR = ["webauthn", "hwk", "swk", "pop", "user", "passkey"];

// ---------------------------------------------------------------------------------------
// The callback server of the demo client.

const callbacks = [];

function startCallbackServer() {
  const u = new URL(REDIRECT_URI);
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      const url = new URL(req.url, REDIRECT_URI);
      if (url.pathname === u.pathname) {
        callbacks.push(Object.fromEntries(url.searchParams));
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end("ok");
      } else {
        res.writeHead(204);
        res.end();
      }
    });
    srv.on("error", reject);
    srv.listen(Number(u.port), u.hostname, () => resolve(srv));
  });
}

// ---------------------------------------------------------------------------------------

async function main() {
  const watchdog = setTimeout(() => {
    console.error(`FAIL: the whole test took more than ${TOTAL_TIMEOUT} ms (at step: ${step})`);
    process.exit(1);
  }, TOTAL_TIMEOUT);
  watchdog.unref();

  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const shots = [];
  let page = null;
  const shot = async (name) => {
    const file = path.join(SCREENSHOT_DIR, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: STEP_TIMEOUT });
    shots.push(file);
  };

  step = "read the enrolment e-mail";
  const { file: emlFile, link: enrolLink } = enrolmentLinkFromOutbox();
  if (process.env.ENROL_URL_CLI) {
    check(
      enrolLink === process.env.ENROL_URL_CLI,
      `the outbox link (${enrolLink}) is not the one \`admin add\` printed (${process.env.ENROL_URL_CLI})`,
    );
  }
  check(
    new URL(enrolLink).origin === tenantOrigin,
    `the enrolment link ${enrolLink} is not on the tenant's host ${tenantOrigin}`,
  );
  console.log(`enrolment link from ${emlFile}`);

  step = "discovery";
  const disc = await request(`${TENANT_URL}/.well-known/openid-configuration`);
  check(disc.status === 200 && disc.json, `discovery answered ${disc.status}: ${disc.text.slice(0, 200)}`);
  const conf = disc.json;
  check(conf.issuer === TENANT_URL, `discovery issuer ${conf.issuer} is not ${TENANT_URL}`);
  for (const k of ["authorization_endpoint", "token_endpoint", "jwks_uri"]) {
    check(conf[k], `discovery has no ${k}`);
  }
  const jwks = await request(conf.jwks_uri);
  check(jwks.status === 200 && jwks.json?.keys?.length, `JWKS answered ${jwks.status}`);

  step = "callback server";
  cbServer = await startCallbackServer();

  step = "launch chromium";
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT);

  // Every #status text the pages show, reported from inside the page as it changes
  // (the pages navigate on right after "registered" / "signed in").
  const statuses = [];
  await context.exposeBinding("__tenantryStatus", (source, text) => {
    statuses.push({ url: source.frame.url(), text });
  });
  await context.addInitScript(() => {
    let last = null;
    const report = () => {
      const s = document.getElementById("status");
      const t = s ? s.textContent : null;
      if (t !== null && t !== last) {
        last = t;
        window.__tenantryStatus(t);
      }
    };
    new MutationObserver(report).observe(document, { subtree: true, childList: true, characterData: true });
  });

  page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") {
      problems.push(`console error on ${page.url()}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on("crash", () => problems.push("the page crashed"));
  // Any error answer of the server to the browser (a refused POST shows up here with the
  // Origin header the browser sent).
  const docPolicy = new Map();
  page.on("response", async (r) => {
    const req = r.request();
    if (req.isNavigationRequest() && new URL(r.url()).origin === tenantOrigin) {
      docPolicy.set(new URL(r.url()).pathname, r.headers()["referrer-policy"]);
    }
    if (r.status() >= 400 && new URL(r.url()).origin === tenantOrigin) {
      const origin = await req.headerValue("origin").catch(() => null);
      const body = await r.text().catch(() => "");
      problems.push(
        `HTTP ${r.status()} for ${req.method()} ${new URL(r.url()).pathname} (Origin: ${origin ?? "none"}): ${body.slice(0, 200)}`,
      );
    }
  });
  const noProblems = (what) => {
    check(problems.length === 0, `${what}:\n  ${problems.join("\n  ")}`);
  };

  step = "virtual authenticator";
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // Hold the navigation to `nextPath` that follows a button until the page that said
  // `prefix` is photographed, so the screenshot shows the status line.
  let gate = null;
  await page.route(
    (url) => gate !== null && url.origin === tenantOrigin && url.pathname === gate.path,
    async (route) => {
      const g = gate;
      if (g && route.request().isNavigationRequest()) {
        gate = null;
        try {
          // Raw CDP: playwright's screenshot would wait for the navigation held here.
          const { data } = await cdp.send("Page.captureScreenshot", { format: "png" });
          const file = path.join(SCREENSHOT_DIR, `${g.shot}.png`);
          fs.writeFileSync(file, Buffer.from(data, "base64"));
          shots.push(file);
          g.taken = true;
        } catch (e) {
          g.error = e;
        }
      }
      await route.fallback();
    },
  );

  const waitStatus = async (from, prefix, what) => {
    const deadline = Date.now() + STEP_TIMEOUT;
    for (;;) {
      const seen = statuses.slice(from);
      const err = seen.find((s) => s.text.startsWith("error:"));
      if (err) {
        fail(`${what}: the page said "${err.text}" (${err.url})${problems.length ? `\n  ${problems.join("\n  ")}` : ""}`);
      }
      const ok = seen.find((s) => s.text.startsWith(prefix));
      if (ok) {
        return ok;
      }
      if (Date.now() > deadline) {
        const cur = await page
          .locator("#status")
          .textContent({ timeout: 1000 })
          .catch(() => "(no #status)");
        fail(
          `${what}: no status starting with "${prefix}" within ${STEP_TIMEOUT} ms; the page shows "${cur}" at ${page.url()}` +
            `${problems.length ? `\n  ${problems.join("\n  ")}` : ""}`,
        );
      }
      await sleep(50);
    }
  };

  const pathOf = () => new URL(page.url()).pathname;

  // Press a passkey button and expect `prefix`, a screenshot `shotName` of that page, and
  // the navigation to `nextPath`.
  const ceremony = async (button, prefix, shotName, nextPath, what) => {
    const from = statuses.length;
    const g = { path: nextPath, shot: shotName, taken: false, error: null };
    gate = g;
    await page.locator(button).click();
    await waitStatus(from, prefix, what);
    await page.waitForURL((u) => u.pathname === nextPath || u.href.startsWith(REDIRECT_URI), {
      timeout: STEP_TIMEOUT,
    });
    await page.waitForLoadState("load");
    gate = null;
    if (g.error) {
      throw g.error;
    }
    if (!g.taken) {
      await shot(shotName);
    }
  };

  // 1. Enrolment from the link in the e-mail.
  step = "enrolment page";
  const enrolResp = await page.goto(enrolLink);
  check(enrolResp && enrolResp.status() === 200, `GET ${enrolLink} answered ${enrolResp?.status()}`);
  const csp = enrolResp.headers()["content-security-policy"] || "";
  check(csp.includes("default-src 'self'"), `the enrolment page has no strict CSP (got "${csp}")`);
  await page.locator("#register").waitFor({ state: "visible" });
  const initialStatus = await page.locator("#status").textContent();
  check(!initialStatus.startsWith("error:"), `the enrolment page says "${initialStatus}"`);
  check((await page.locator("#status").getAttribute("role")) === "status", "#status has no role=status");
  await shot("enroll");
  noProblems("errors on the enrolment page");

  step = "register a passkey";
  await ceremony("#register", "registered", "enrolled", "/account", "registering a passkey");
  const creds = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(creds.credentials.length === 1, `the authenticator holds ${creds.credentials.length} credentials, not 1`);
  check(creds.credentials[0].isResidentCredential, "the passkey is not a resident (discoverable) credential");
  check(creds.credentials[0].rpId === new URL(TENANT_URL).hostname, `the passkey's RP id is ${creds.credentials[0].rpId}`);
  noProblems("errors while registering");

  // 2. The account page, then sign out.
  step = "account page";
  check(pathOf() === "/account", `after registering the browser is at ${page.url()}, not /account`);
  await page.locator("#logout").waitFor({ state: "visible" });
  const accountText = await page.locator("main").innerText();
  check(/Your passkeys/.test(accountText), "the account page lists no passkeys section");
  check((await page.locator("main li").count()) === 1, "the account page does not list exactly one passkey");
  check((await page.locator("#status").textContent()).startsWith("signed in"), "the account page does not say signed in");
  await shot("account");
  noProblems("errors on the account page");

  // Sign out with the account page's form: POST /logout, then /login.
  const signOut = async () => {
    check(pathOf() === "/account", `signing out from ${page.url()}, not /account`);
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/logout"),
      page.locator("#logout").click(),
    ]);
    if (resp.status() >= 400) {
      const origin = await resp.request().headerValue("origin");
      fail(
        `signing out: POST /logout answered ${resp.status()} ${(await resp.text().catch(() => "")).slice(0, 200)}; ` +
          `the browser sent Origin: ${origin ?? "none"}, Referrer-Policy of the account page: ` +
          `${docPolicy.get("/account") ?? "none"}`,
      );
    }
    await page.waitForURL((u) => u.pathname === "/login");
    await page.waitForLoadState("load");
  };

  step = "sign out";
  await signOut();
  await shot("signed-out");
  const again = await page.goto(`${TENANT_URL}/account`);
  check(again && pathOf() === "/login", `after signing out /account did not send the browser to /login (at ${page.url()})`);
  noProblems("errors while signing out");

  // 3. Usernameless sign-in with the passkey.
  step = "sign in";
  await page.goto(`${TENANT_URL}/login`);
  await page.locator("#login").waitFor({ state: "visible" });
  await shot("login");
  await ceremony("#login", "signed in", "signed-in", "/account", "signing in with the passkey");
  check(pathOf() === "/account", `after signing in the browser is at ${page.url()}, not /account`);
  noProblems("errors while signing in");

  // 4. OIDC authorization code flows: signed in (straight back), then signed out (through
  //    /login?pending=..., which resumes the request after the passkey).
  const authorize = async (label, viaLogin) => {
    step = `authorization code flow (${label})`;
    const state = b64url(crypto.randomBytes(16));
    const nonce = b64url(crypto.randomBytes(16));
    const verifier = b64url(crypto.randomBytes(32));
    const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
    const url = new URL(conf.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      scope: "openid profile email",
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    const before = callbacks.length;
    await page.goto(url.href);
    if (viaLogin) {
      check(
        pathOf() === "/login" && new URL(page.url()).searchParams.get("pending"),
        `signed out, authorize did not send the browser to /login?pending=... (at ${page.url()})`,
      );
      await page.locator("#login").waitFor({ state: "visible" });
      await shot("login-pending");
      await ceremony("#login", "signed in", "signed-in-pending", "/oauth2/authorize", "signing in for the client");
      await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI), { timeout: STEP_TIMEOUT });
    }
    check(
      page.url().startsWith(REDIRECT_URI),
      `the authorization request did not come back to ${REDIRECT_URI}; the browser is at ${page.url()}: ` +
        (await page
          .locator("body")
          .innerText({ timeout: 1000 })
          .catch(() => "")).slice(0, 300),
    );
    check((await page.locator("body").innerText()).trim() === "ok", "the callback page does not say ok");
    await shot(viaLogin ? "callback-after-login" : "callback");
    check(callbacks.length === before + 1, `the callback server saw ${callbacks.length - before} requests, not 1`);
    const cb = callbacks[callbacks.length - 1];
    check(!cb.error, `the authorization answered error=${cb.error} ${cb.error_description || ""}`);
    check(cb.code, `no code in the callback: ${JSON.stringify(cb)}`);
    check(cb.state === state, `the callback's state ${cb.state} is not ${state}`);
    if (conf.authorization_response_iss_parameter_supported) {
      check(cb.iss === conf.issuer, `the callback's iss ${cb.iss} is not ${conf.issuer} (RFC 9207)`);
    }

    const basic = Buffer.from(
      `${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`,
    ).toString("base64");
    const tok = await request(conf.token_endpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${basic}`,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: cb.code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      }).toString(),
    });
    check(tok.status === 200 && tok.json, `the token endpoint answered ${tok.status}: ${tok.text.slice(0, 300)}`);
    check(tok.json.id_token, `no id_token in the token response: ${Object.keys(tok.json).join(", ")}`);
    check(tok.json.access_token, "no access_token in the token response");
    const alg = verifyJws(tok.json.id_token, jwks.json);
    const { payload: idt } = decodeJwt(tok.json.id_token);
    check(idt.iss === conf.issuer && idt.iss === TENANT_URL, `ID token iss ${idt.iss} is not ${TENANT_URL}`);
    const aud = Array.isArray(idt.aud) ? idt.aud : [idt.aud];
    check(aud.includes(CLIENT_ID), `ID token aud ${JSON.stringify(idt.aud)} does not name ${CLIENT_ID}`);
    check(idt.nonce === nonce, `ID token nonce ${idt.nonce} is not ${nonce}`);
    check(
      Array.isArray(idt.amr) && idt.amr.some((m) => PASSKEY_AMR.includes(m)),
      `ID token amr ${JSON.stringify(idt.amr)} names no passkey method (${PASSKEY_AMR.join(", ")})`,
    );
    const now = Math.floor(Date.now() / 1000);
    check(typeof idt.exp === "number" && idt.exp > now, `ID token exp ${idt.exp} is not in the future`);
    check(idt.sub, "ID token has no sub");
    if (conf.userinfo_endpoint) {
      const ui = await request(conf.userinfo_endpoint, {
        headers: { authorization: `Bearer ${tok.json.access_token}`, accept: "application/json" },
      });
      check(ui.status === 200 && ui.json, `userinfo answered ${ui.status}: ${ui.text.slice(0, 200)}`);
      check(ui.json.sub === idt.sub, `userinfo sub ${ui.json.sub} is not the ID token's ${idt.sub}`);
      check(
        String(ui.json.email).toLowerCase() === ADMIN_EMAIL.toLowerCase(),
        `userinfo email ${ui.json.email} is not ${ADMIN_EMAIL}`,
      );
    }
    noProblems(`errors during the authorization code flow (${label})`);
    return { alg, amr: idt.amr, sub: idt.sub };
  };

  const first = await authorize("signed in", false);

  step = "sign out again";
  await page.goto(`${TENANT_URL}/account`);
  await signOut();

  const second = await authorize("signed out, through /login", true);
  check(second.sub === first.sub, "the two flows gave different subjects");

  const creds2 = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(creds2.credentials[0].signCount >= 2, `the passkey's sign count is ${creds2.credentials[0].signCount}`);
  noProblems("errors at the end");

  clearTimeout(watchdog);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `PASS: passkey enrolment, sign-out, sign-in and 2 OIDC code flows in Chromium ${browser.version()} ` +
      `(${TENANT_URL}, id token ${first.alg}, amr ${JSON.stringify(first.amr)}) in ${secs}s; ` +
      `${shots.length} screenshots in ${SCREENSHOT_DIR}`,
  );
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (e) {
  const msg = e && e.isTestFailure ? e.message : (e && e.stack) || String(e);
  console.error(`FAIL at step "${step}": ${msg}`);
  await cleanup();
  process.exit(1);
}
